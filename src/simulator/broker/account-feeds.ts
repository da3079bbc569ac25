import type { ClientSession } from '../protocol/client-session';
import type { FieldReader } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import type { Ledger, Position } from './account';
import { AccountMultiFeeds } from './account-multi-feeds';
import {
  accountDownloadEndMessage,
  accountSummaryEndMessage,
  accountSummaryMessage,
  accountSummaryRows,
  accountUpdateRows,
  accountUpdateTimeMessage,
  accountValueMessage,
  pnlMessage,
  pnlSingleMessage,
  portfolioValueMessage,
  positionEndMessage,
  positionMessage,
  type AccountRow,
} from './account-messages';
import { BrokerCode, BrokerMessage } from './broker-codes';

/** PnL subscriptions report once a second, as IB does. */
const PNL_INTERVAL_MS = 1_000;
/** Without a position change, IB refreshes account updates every three minutes. */
const ACCOUNT_UPDATE_INTERVAL_MS = 180_000;

interface SummarySubscription {
  tags: string[];
  /** Last value sent per account/tag/currency, so only changes go out. */
  sent: Map<string, string>;
}

interface AccountUpdatesSubscription {
  account: string;
  sent: Map<string, string>;
  lastFullRefresh: number;
}

interface SessionFeeds {
  positions: boolean;
  summaries: Map<number, SummarySubscription>;
  pnl: Map<number, string>;
  pnlSingle: Map<number, { account: string; conId: number }>;
  accountUpdates: AccountUpdatesSubscription | undefined;
}

const rowKey = (account: string, row: AccountRow): string => `${account}\0${row.tag}\0${row.currency}`;

/**
 * The account-side streams: positions, account summary, PnL (account and single position) and the
 * classic account updates. Each starts with a full picture and then follows fills and prices.
 */
export class AccountFeeds {
  private readonly feeds = new Map<ClientSession, SessionFeeds>();
  private timer: NodeJS.Timeout | undefined;
  private readonly multi: AccountMultiFeeds;

  constructor(
    private readonly context: SimulatorContext,
    private readonly ledger: Ledger,
  ) {
    this.multi = new AccountMultiFeeds(context, ledger);
  }

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_POSITIONS, (session) => this.requestPositions(session));
    server.on(Request.CANCEL_POSITIONS, (session) => {
      this.feedsOf(session).positions = false;
    });
    server.on(Request.REQ_ACCOUNT_SUMMARY, (session, request) =>
      this.requestAccountSummary(session, request),
    );
    server.on(Request.CANCEL_ACCOUNT_SUMMARY, (session, request) => {
      request.skip(1); // version
      this.feedsOf(session).summaries.delete(request.int());
    });
    server.on(Request.REQ_PNL, (session, request) => this.requestPnl(session, request));
    server.on(Request.CANCEL_PNL, (session, request) => {
      this.feedsOf(session).pnl.delete(request.int());
    });
    server.on(Request.REQ_PNL_SINGLE, (session, request) => this.requestPnlSingle(session, request));
    server.on(Request.CANCEL_PNL_SINGLE, (session, request) => {
      this.feedsOf(session).pnlSingle.delete(request.int());
    });
    server.on(Request.REQ_ACCOUNT_DATA, (session, request) => this.requestAccountUpdates(session, request));
    this.multi.register();
    this.timer = setInterval(() => this.refresh(), PNL_INTERVAL_MS);
    this.timer.unref();
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.feeds.clear();
    this.multi.dispose();
  }

  /** A fill changed a position: POSITION to position subscribers, and fresh values everywhere. */
  positionChanged(position: Position): void {
    for (const [session, feeds] of this.openFeeds()) {
      if (feeds.positions) session.send(positionMessage(position));
      const updates = feeds.accountUpdates;
      if (updates?.account === position.account) {
        session.send(portfolioValueMessage(this.ledger.valuePosition(position)));
        this.sendAccountUpdates(session, updates, false);
      }
      this.sendSummaryChanges(session, feeds);
    }
    this.multi.positionChanged(position);
  }

  // ---- Requests ----

  private requestPositions(session: ClientSession): void {
    this.feedsOf(session).positions = true;
    for (const position of this.ledger.positions()) session.send(positionMessage(position));
    session.send(positionEndMessage());
  }

  private requestAccountSummary(session: ClientSession, request: FieldReader): void {
    request.skip(1); // version
    const reqId = request.int();
    request.skip(1); // group: every simulated account belongs to "All"
    const tags = request
      .string()
      .split(',')
      .map((tag) => tag.trim())
      .filter((tag) => tag !== '');
    const subscription: SummarySubscription = { tags, sent: new Map() };
    this.feedsOf(session).summaries.set(reqId, subscription);
    for (const account of this.ledger.accounts) {
      for (const row of accountSummaryRows(this.ledger.value(account), tags)) {
        subscription.sent.set(rowKey(account, row), row.value);
        session.send(accountSummaryMessage(reqId, account, row));
      }
    }
    session.send(accountSummaryEndMessage(reqId));
  }

  private requestPnl(session: ClientSession, request: FieldReader): void {
    const reqId = request.int();
    const account = request.string();
    if (!this.ledger.has(account)) {
      session.sendError(reqId, BrokerCode.VALIDATION_FAILED, BrokerMessage.invalidAccount(account));
      return;
    }
    this.feedsOf(session).pnl.set(reqId, account);
    session.send(pnlMessage(reqId, this.ledger.value(account)));
  }

  private requestPnlSingle(session: ClientSession, request: FieldReader): void {
    const reqId = request.int();
    const account = request.string();
    request.skip(1); // modelCode
    const conId = request.int();
    if (!this.ledger.has(account)) {
      session.sendError(reqId, BrokerCode.VALIDATION_FAILED, BrokerMessage.invalidAccount(account));
      return;
    }
    this.feedsOf(session).pnlSingle.set(reqId, { account, conId });
    this.sendPnlSingle(session, reqId, account, conId);
  }

  /** IB keeps one account-updates subscription per client; a new one replaces it. */
  private requestAccountUpdates(session: ClientSession, request: FieldReader): void {
    request.skip(1); // version
    const subscribe = request.bool();
    const code = request.string();
    const feeds = this.feedsOf(session);
    if (!subscribe) {
      feeds.accountUpdates = undefined;
      return;
    }
    const account = code !== '' ? code : (this.ledger.accounts[0] ?? '');
    if (!this.ledger.has(account)) {
      session.sendError(-1, BrokerCode.VALIDATION_FAILED, BrokerMessage.invalidAccount(account));
      return;
    }
    const updates: AccountUpdatesSubscription = { account, sent: new Map(), lastFullRefresh: 0 };
    feeds.accountUpdates = updates;
    this.sendAccountUpdates(session, updates, true);
    session.send(accountDownloadEndMessage(account));
  }

  // ---- Sending ----

  private refresh(): void {
    const now = this.context.clock.now();
    for (const [session, feeds] of this.openFeeds()) {
      for (const [reqId, account] of feeds.pnl) session.send(pnlMessage(reqId, this.ledger.value(account)));
      for (const [reqId, { account, conId }] of feeds.pnlSingle)
        this.sendPnlSingle(session, reqId, account, conId);
      this.sendSummaryChanges(session, feeds);
      const updates = feeds.accountUpdates;
      if (updates && now - updates.lastFullRefresh >= ACCOUNT_UPDATE_INTERVAL_MS) {
        this.sendAccountUpdates(session, updates, true);
      }
    }
    this.multi.refresh();
  }

  private sendPnlSingle(session: ClientSession, reqId: number, account: string, conId: number): void {
    const position = this.ledger.position(account, conId);
    session.send(pnlSingleMessage(reqId, position ? this.ledger.valuePosition(position) : undefined));
  }

  private sendSummaryChanges(session: ClientSession, feeds: SessionFeeds): void {
    if (feeds.summaries.size === 0) return;
    const values = new Map(this.ledger.accounts.map((account) => [account, this.ledger.value(account)]));
    for (const [reqId, subscription] of feeds.summaries) {
      for (const [account, accountValues] of values) {
        for (const row of accountSummaryRows(accountValues, subscription.tags)) {
          const key = rowKey(account, row);
          if (subscription.sent.get(key) === row.value) continue;
          subscription.sent.set(key, row.value);
          session.send(accountSummaryMessage(reqId, account, row));
        }
      }
    }
  }

  /** ACCT_VALUE rows (all of them, or the changed ones), portfolio lines on a full refresh, the time. */
  private sendAccountUpdates(
    session: ClientSession,
    updates: AccountUpdatesSubscription,
    full: boolean,
  ): void {
    const values = this.ledger.value(updates.account);
    for (const row of accountUpdateRows(values)) {
      const key = rowKey(updates.account, row);
      if (!full && updates.sent.get(key) === row.value) continue;
      updates.sent.set(key, row.value);
      session.send(accountValueMessage(updates.account, row));
    }
    const now = this.context.clock.now();
    if (full) {
      for (const value of values.positions) {
        if (value.position.quantity !== 0) session.send(portfolioValueMessage(value));
      }
      updates.lastFullRefresh = now;
    }
    session.send(accountUpdateTimeMessage(now));
  }

  private feedsOf(session: ClientSession): SessionFeeds {
    let feeds = this.feeds.get(session);
    if (!feeds) {
      feeds = {
        positions: false,
        summaries: new Map(),
        pnl: new Map(),
        pnlSingle: new Map(),
        accountUpdates: undefined,
      };
      this.feeds.set(session, feeds);
      session.onClose(() => this.feeds.delete(session));
    }
    return feeds;
  }

  private *openFeeds(): Generator<[ClientSession, SessionFeeds]> {
    for (const [session, feeds] of this.feeds) if (session.isOpen) yield [session, feeds];
  }
}
