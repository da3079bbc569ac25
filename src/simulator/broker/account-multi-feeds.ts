import type { ClientSession } from '../protocol/client-session';
import type { WireValue } from '../protocol/framing';
import type { FieldReader } from '../protocol/field-reader';
import { Reply, Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import type { Ledger, Position } from './account';
import { accountUpdateRows, positionFields, type AccountRow } from './account-messages';
import { BrokerCode, BrokerMessage } from './broker-codes';

/** What a model-aware request asks for: one account (or every one) and a model code (none here). */
interface MultiScope {
  /** undefined: every managed account ("" or "All"). */
  account: string | undefined;
  modelCode: string;
}

interface AccountUpdatesMulti extends MultiScope {
  ledgerAndNlv: boolean;
  /** Last value sent per account/tag/currency, so only changes go out. */
  sent: Map<string, string>;
}

interface SessionMultiFeeds {
  positions: Map<number, MultiScope>;
  accountUpdates: Map<number, AccountUpdatesMulti>;
}

/** The tags an account-updates-multi request with ledgerAndNLV set keeps: cash balances and NLV. */
const LEDGER_AND_NLV_TAGS = new Set([
  'CashBalance',
  'TotalCashBalance',
  'NetLiquidation',
  'NetLiquidationByCurrency',
  'ExchangeRate',
]);

const rowKey = (account: string, row: AccountRow): string => `${account}\0${row.tag}\0${row.currency}`;

/** POSITION_MULTI version 1: the position's contract block (exchange as in POSITION), then the model code. */
export function positionMultiMessage(reqId: number, position: Position, modelCode: string): WireValue[] {
  return [Reply.POSITION_MULTI, 1, reqId, ...positionFields(position), modelCode];
}

export function positionMultiEndMessage(reqId: number): WireValue[] {
  return [Reply.POSITION_MULTI_END, 1, reqId];
}

export function accountUpdateMultiMessage(
  reqId: number,
  account: string,
  modelCode: string,
  row: AccountRow,
): WireValue[] {
  return [Reply.ACCOUNT_UPDATE_MULTI, 1, reqId, account, modelCode, row.tag, row.value, row.currency];
}

export function accountUpdateMultiEndMessage(reqId: number): WireValue[] {
  return [Reply.ACCOUNT_UPDATE_MULTI_END, 1, reqId];
}

/**
 * reqPositionsMulti and reqAccountUpdatesMulti: the model-aware versions of reqPositions and
 * reqAccountUpdates, by request id. The simulated accounts have no models, so a model code other than ""
 * selects nothing (just the end marker). Values are the ledger's, the same reqAccountUpdates sends.
 */
export class AccountMultiFeeds {
  private readonly feeds = new Map<ClientSession, SessionMultiFeeds>();

  constructor(
    private readonly context: SimulatorContext,
    private readonly ledger: Ledger,
  ) {}

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_POSITIONS_MULTI, (session, request) => this.requestPositions(session, request));
    server.on(Request.CANCEL_POSITIONS_MULTI, (session, request) => {
      request.skip(1); // version
      this.feedsOf(session).positions.delete(request.int());
    });
    server.on(Request.REQ_ACCOUNT_UPDATES_MULTI, (session, request) =>
      this.requestAccountUpdates(session, request),
    );
    server.on(Request.CANCEL_ACCOUNT_UPDATES_MULTI, (session, request) => {
      request.skip(1); // version
      this.feedsOf(session).accountUpdates.delete(request.int());
    });
  }

  dispose(): void {
    this.feeds.clear();
  }

  /** A fill changed a position: POSITION_MULTI to the subscriptions covering it, and changed values. */
  positionChanged(position: Position): void {
    for (const [session, feeds] of this.openFeeds()) {
      for (const [reqId, scope] of feeds.positions) {
        if (this.covers(scope, position.account)) session.send(positionMultiMessage(reqId, position, ''));
      }
    }
    this.refresh();
  }

  /** Sends the account values that changed since they were last sent. */
  refresh(): void {
    for (const [session, feeds] of this.openFeeds()) {
      for (const [reqId, updates] of feeds.accountUpdates) this.sendAccountUpdates(session, reqId, updates);
    }
  }

  // ---- Requests ----

  private requestPositions(session: ClientSession, request: FieldReader): void {
    request.skip(1); // version
    const reqId = request.int();
    const scope = this.scope(session, reqId, request.string(), request.string());
    if (!scope) return;
    this.feedsOf(session).positions.set(reqId, scope);
    if (scope.modelCode === '') {
      for (const position of this.ledger.positions(scope.account)) {
        session.send(positionMultiMessage(reqId, position, ''));
      }
    }
    session.send(positionMultiEndMessage(reqId));
  }

  private requestAccountUpdates(session: ClientSession, request: FieldReader): void {
    request.skip(1); // version
    const reqId = request.int();
    const scope = this.scope(session, reqId, request.string(), request.string());
    if (!scope) return;
    const updates: AccountUpdatesMulti = { ...scope, ledgerAndNlv: request.bool(), sent: new Map() };
    this.feedsOf(session).accountUpdates.set(reqId, updates);
    this.sendAccountUpdates(session, reqId, updates);
    session.send(accountUpdateMultiEndMessage(reqId));
  }

  /** The account and model a request names; an unknown account gets 321 and no subscription. */
  private scope(
    session: ClientSession,
    reqId: number,
    account: string,
    modelCode: string,
  ): MultiScope | undefined {
    const all = account === '' || account.toUpperCase() === 'ALL';
    if (!all && !this.ledger.has(account)) {
      session.sendError(reqId, BrokerCode.VALIDATION_FAILED, BrokerMessage.invalidAccount(account));
      return undefined;
    }
    return { account: all ? undefined : account, modelCode };
  }

  // ---- Sending ----

  private sendAccountUpdates(session: ClientSession, reqId: number, updates: AccountUpdatesMulti): void {
    if (updates.modelCode !== '') return;
    const accounts = updates.account === undefined ? this.ledger.accounts : [updates.account];
    for (const account of accounts) {
      for (const row of accountUpdateRows(this.ledger.value(account))) {
        if (updates.ledgerAndNlv && !LEDGER_AND_NLV_TAGS.has(row.tag)) continue;
        const key = rowKey(account, row);
        if (updates.sent.get(key) === row.value) continue;
        updates.sent.set(key, row.value);
        session.send(accountUpdateMultiMessage(reqId, account, updates.modelCode, row));
      }
    }
  }

  private covers(scope: MultiScope, account: string): boolean {
    return scope.modelCode === '' && (scope.account === undefined || scope.account === account);
  }

  private feedsOf(session: ClientSession): SessionMultiFeeds {
    let feeds = this.feeds.get(session);
    if (!feeds) {
      feeds = { positions: new Map(), accountUpdates: new Map() };
      this.feeds.set(session, feeds);
      session.onClose(() => this.feeds.delete(session));
    }
    return feeds;
  }

  private *openFeeds(): Generator<[ClientSession, SessionMultiFeeds]> {
    for (const [session, feeds] of this.feeds) if (session.isOpen) yield [session, feeds];
  }
}
