import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { z } from 'zod';
import { distinctUntilChanged, map, Subject, Subscription, type Observable } from 'rxjs';
import { CLOCK, type Clock, type ClockTimer } from '../common/clock';
import type { AppConfig } from '../config/config.schema';
import { APP_CONFIG } from '../config/config.tokens';
import {
  AccountStreamsRepository,
  type AccountHolding,
  type AccountUpdatesPush,
  type PositionsPush,
} from './account-streams.repository';
import {
  AccountRepository,
  type AccountBalances,
  type AccountPnlValues,
  type AccountValue,
  type PortfolioValuation,
  type PositionHolding,
} from './account.repository';
import type { PositionEntry } from './account.schemas';

/** What changed on the account side, as IB pushed it (published as live events by the gateway's bridge). */
export type AccountChange =
  | { topic: 'positions'; type: 'position'; account: string; symbol: string; data: PositionEntryValue }
  | { topic: 'account'; type: 'summary'; account: string; data: AccountBalances }
  | {
      topic: 'account';
      type: 'values';
      account: string;
      data: { account: string; updatedAt: string | null; values: AccountValue[] };
    }
  | { topic: 'pnl'; type: 'pnl'; account: string; data: AccountPnlValues & { account: string } };

/**
 * A position event: get_positions' entry. Its valuation is null: IB values positions in a separate push
 * (account updates) that comes after the position's, and only for one account; get_positions has it.
 */
type PositionEntryValue = z.infer<typeof PositionEntry>;

/** A part of the state with the time IB last pushed it (epoch ms). */
export interface Held<T> {
  value: T;
  asOf: number;
}

/** The one account whose reqAccountUpdates the service holds (IB allows one per API client). */
interface HeldAccountUpdates {
  account: string;
  /** The download ended (accountDownloadEnd): values and portfolio are the account's whole state. */
  ready: boolean;
  values: Map<string, AccountValue>;
  portfolio: Map<number, PortfolioValuation>;
  updatedAt: string | undefined;
  asOf: number;
  subscription: Subscription | undefined;
}

/** A stream that fails is asked again after 1, 2 and 4 s; then the reads fall back to requests. */
const MAX_RETRIES = 3;
const RETRY_BASE_MS = 1_000;

const holdingKey = (account: string, conId: number | undefined) => `${account}\0${conId ?? 0}`;
const valueKey = (value: AccountValue) => `${value.tag}\0${value.currency}`;

/**
 * The account side of one gateway, held open: on each IB session it requests the account summary of every
 * account, the positions, the PnL of each managed account and the account updates of one account, and keeps
 * the latest of each with the time IB last pushed it. Reads are answered from here without a message to IB;
 * when the session drops everything is let go (never served as live) and requested again on the next one.
 */
@Injectable()
export class AccountLiveState implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AccountLiveState.name);
  private readonly changeSubject = new Subject<AccountChange>();
  /** Positions, account summary and values, and PnL as IB pushes a change. */
  readonly changes: Observable<AccountChange> = this.changeSubject.asObservable();
  private readonly following = new Subscription();
  /** Every stream held on the current session. */
  private held = new Subscription();
  private readonly retryTimers = new Set<ClockTimer>();
  /** Counts sessions (and drops): a late answer of an earlier session is not taken. */
  private session = 0;
  private connected = false;
  private accounts: string[] | undefined;
  private summary: Held<Map<string, AccountBalances>> | undefined;
  private positions: Held<Map<string, AccountHolding>> | undefined;
  private readonly pnls = new Map<string, Held<AccountPnlValues>>();
  /** Accounts whose position changed after IB's last PnL push: their held PnL is known to be behind. */
  private readonly pnlBehind = new Set<string>();
  private updates: HeldAccountUpdates | undefined;
  /** What was last published per key, so that only changes become events (IB re-sends unchanged values). */
  private readonly published = new Map<string, string>();
  private pendingValues: AccountValue[] = [];
  private flushScheduled = false;

  constructor(
    private readonly streams: AccountStreamsRepository,
    private readonly repository: AccountRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.following.add(
      this.streams.sessionStates
        .pipe(
          map((state) => state === 'connected'),
          distinctUntilChanged(),
        )
        .subscribe((connected) => (connected ? this.hold() : this.drop())),
    );
    // While IB has lost its servers nothing is pushed; afterwards pushes may be missing: ask again.
    this.following.add(
      this.streams.connectivity.subscribe((change) => (change === 'lost' ? this.drop() : this.hold())),
    );
  }

  onModuleDestroy(): void {
    this.following.unsubscribe();
    this.drop();
    this.changeSubject.complete();
  }

  // ---- Reads: undefined when the live state cannot answer ----

  managedAccounts(): string[] | undefined {
    return this.connected ? this.accounts : undefined;
  }

  /** The balances of `accounts`, when the held summary has every one of them. */
  balances(accounts: readonly string[]): Held<AccountBalances[]> | undefined {
    const summary = this.connected ? this.summary : undefined;
    if (!summary) return undefined;
    const entries = accounts.map((account) => summary.value.get(account));
    if (entries.some((entry) => entry === undefined)) return undefined;
    return { value: entries as AccountBalances[], asOf: summary.asOf };
  }

  /** Every position (closed ones included, with position 0), by account id. */
  holdings(): Held<Map<string, PositionHolding[]>> | undefined {
    const positions = this.connected ? this.positions : undefined;
    if (!positions) return undefined;
    const byAccount = new Map<string, PositionHolding[]>();
    for (const { account, ...holding } of positions.value.values()) {
      byAccount.set(account, [...(byAccount.get(account) ?? []), holding]);
    }
    return { value: byAccount, asOf: positions.asOf };
  }

  /** The portfolio valuations of `account` by conId, when its account updates are held. */
  portfolio(account: string): Held<Map<number, PortfolioValuation>> | undefined {
    const updates = this.readyUpdates(account);
    return updates && { value: updates.portfolio, asOf: updates.asOf };
  }

  accountValues(
    account: string,
  ): Held<{ values: AccountValue[]; updatedAt: string | undefined }> | undefined {
    const updates = this.readyUpdates(account);
    if (!updates) return undefined;
    return {
      value: { values: [...updates.values.values()], updatedAt: updates.updatedAt },
      asOf: updates.asOf,
    };
  }

  /** The held PnL of `account`; none while a position change is not in it yet (IB pushes PnL each second). */
  pnl(account: string): Held<AccountPnlValues> | undefined {
    return this.connected && !this.pnlBehind.has(account) ? this.pnls.get(account) : undefined;
  }

  /** The account whose account updates are held on this session, if any. */
  get accountUpdatesAccount(): string | undefined {
    return this.connected ? this.updates?.account : undefined;
  }

  /**
   * Runs `work`, a one-shot account download of `account`, letting go of the held account updates first
   * when they are another account's: IB keeps one reqAccountUpdates per client, and the request would
   * silently replace the held one. They are requested again afterwards. Callers take turns (one download
   * at a time).
   */
  async whileAccountUpdatesYielded<T>(account: string, work: () => Promise<T>): Promise<T> {
    const updates = this.connected ? this.updates : undefined;
    if (!updates || updates.account === account) return work();
    this.releaseAccountUpdates(updates);
    const session = this.session;
    try {
      return await work();
    } finally {
      if (session === this.session && this.updates === updates) this.holdAccountUpdates(updates.account);
    }
  }

  // ---- Following the session ----

  private hold(): void {
    this.drop();
    this.connected = true;
    const session = this.session;
    this.holdStream(
      'account summary',
      () => this.streams.accountSummary(),
      (summary) => this.onSummary(summary),
      () => {
        this.summary = undefined;
      },
    );
    this.holdStream(
      'positions',
      () => this.streams.positions(),
      (push) => this.onPositions(push),
      () => {
        this.positions = undefined;
      },
    );
    this.repository
      .managedAccounts()
      .then((accounts) => {
        if (session !== this.session) return;
        this.accounts = accounts;
        for (const account of accounts) this.holdPnl(account);
        const chosen = this.accountUpdatesChoice(accounts);
        if (chosen !== undefined) this.holdAccountUpdates(chosen);
      })
      .catch((error: unknown) =>
        this.logger.warn(`Managed accounts unknown; account reads use requests: ${String(error)}`),
      );
  }

  /** The session is gone: nothing held is current any more. Nothing is cancelled at IB (no socket). */
  private drop(): void {
    this.session++;
    this.connected = false;
    this.held.unsubscribe();
    this.held = new Subscription();
    for (const timer of this.retryTimers) this.clock.clearTimeout(timer);
    this.retryTimers.clear();
    this.accounts = undefined;
    this.summary = undefined;
    this.positions = undefined;
    this.pnls.clear();
    this.pnlBehind.clear();
    this.updates = undefined;
    this.pendingValues = [];
  }

  /** The first account orders may go to (orders.accounts) that this login manages, else the first managed. */
  private accountUpdatesChoice(accounts: readonly string[]): string | undefined {
    const configured = this.config.orders.accounts.find((account) =>
      accounts.some((managed) => managed.toUpperCase() === account.toUpperCase()),
    );
    return accounts.find((account) => account.toUpperCase() === configured?.toUpperCase()) ?? accounts[0];
  }

  /** Holds `open()` on this session; a failure drops the part (reads fall back) and retries a few times. */
  private holdStream<T>(
    what: string,
    open: () => Observable<T>,
    onPush: (value: T) => void,
    onLost: () => void,
    attempt = 0,
  ): Subscription {
    const session = this.session;
    const subscription = open().subscribe({
      next: (value) => {
        if (session === this.session) onPush(value);
      },
      error: (error: unknown) => {
        if (session !== this.session) return;
        onLost();
        if (attempt >= MAX_RETRIES) {
          this.logger.warn(`Gave up holding ${what} (${String(error)}); its reads use requests`);
          return;
        }
        this.logger.warn(`Holding ${what} failed (${String(error)}); asking again`);
        const timer = this.clock.setTimeout(
          () => {
            this.retryTimers.delete(timer);
            if (session === this.session) this.holdStream(what, open, onPush, onLost, attempt + 1);
          },
          RETRY_BASE_MS * 2 ** attempt,
        );
        this.retryTimers.add(timer);
      },
    });
    this.held.add(subscription);
    return subscription;
  }

  private holdPnl(account: string): void {
    this.holdStream(
      `PnL of ${account}`,
      () => this.streams.pnl(account),
      (pnl) => {
        const held = this.pnls.get(account);
        // IB pushes PnL each second, changed or not: asOf is when it last changed.
        if (!held || !sameJson(held.value, pnl))
          this.pnls.set(account, { value: pnl, asOf: this.clock.now() });
        this.pnlBehind.delete(account);
        this.publish(`pnl\0${account}`, { topic: 'pnl', type: 'pnl', account, data: { account, ...pnl } });
      },
      () => this.pnls.delete(account),
    );
  }

  private holdAccountUpdates(account: string): void {
    const updates: HeldAccountUpdates = {
      account,
      ready: false,
      values: new Map(),
      portfolio: new Map(),
      updatedAt: undefined,
      asOf: this.clock.now(),
      subscription: undefined,
    };
    this.updates = updates;
    updates.subscription = this.holdStream(
      `account updates of ${account}`,
      () => this.streams.accountUpdates(account),
      (push) => this.onAccountUpdates(updates, push),
      () => {
        updates.ready = false;
      },
    );
  }

  private releaseAccountUpdates(updates: HeldAccountUpdates): void {
    updates.ready = false;
    updates.subscription?.unsubscribe();
    updates.subscription = undefined;
  }

  private readyUpdates(account: string): HeldAccountUpdates | undefined {
    const updates = this.connected ? this.updates : undefined;
    return updates?.ready === true && updates.account === account ? updates : undefined;
  }

  // ---- Pushes ----

  private onSummary(summary: Map<string, AccountBalances>): void {
    const held = this.summary;
    const changed =
      !held || [...summary].some(([account, entry]) => !sameJson(held.value.get(account), entry));
    this.summary = { value: summary, asOf: changed || !held ? this.clock.now() : held.asOf };
    for (const [account, balances] of summary) {
      this.publish(`summary\0${account}`, { topic: 'account', type: 'summary', account, data: balances });
    }
  }

  private onPositions(push: PositionsPush): void {
    // The first push after a request is the whole picture, whatever IBApiNext marks it.
    const changes = !push.snapshot && this.positions !== undefined;
    const known = changes && this.positions ? this.positions.value : new Map<string, AccountHolding>();
    for (const holding of push.holdings) {
      const key = holdingKey(holding.account, holding.contract.conId);
      if (changes && known.get(key)?.position !== holding.position) this.pnlBehind.add(holding.account);
      known.set(key, holding);
    }
    this.positions = { value: known, asOf: this.clock.now() };
    for (const holding of push.holdings) {
      const key = `position\0${holdingKey(holding.account, holding.contract.conId)}`;
      // A line closed before the service ever saw it open is no news.
      if (holding.position === 0 && !this.published.has(key)) continue;
      this.publish(key, {
        topic: 'positions',
        type: 'position',
        account: holding.account,
        symbol: holding.contract.symbol ?? '',
        data: {
          account: holding.account,
          ...holding.contract,
          position: holding.position,
          averageCost: holding.averageCost,
          marketPrice: null,
          marketValue: null,
          unrealizedPnl: null,
          realizedPnl: null,
        },
      });
    }
  }

  private onAccountUpdates(updates: HeldAccountUpdates, push: AccountUpdatesPush): void {
    if (this.updates !== updates) return;
    let changed = push.snapshot;
    if (push.snapshot) {
      updates.values = new Map(push.values.map((value) => [valueKey(value), value]));
      updates.portfolio = new Map(push.portfolio.map((line) => [line.conId, line.valuation]));
      updates.ready = true;
    } else {
      for (const value of push.values) {
        const previous = updates.values.get(valueKey(value));
        updates.values.set(valueKey(value), value);
        if (previous?.value === value.value) continue;
        changed = true;
        if (updates.ready) this.pendingValues.push(value);
      }
      for (const line of push.portfolio) {
        changed ||= !sameJson(updates.portfolio.get(line.conId), line.valuation);
        updates.portfolio.set(line.conId, line.valuation);
      }
    }
    if (push.updatedAt !== undefined) updates.updatedAt = push.updatedAt;
    // IB refreshes every value every few minutes, changed or not: asOf is when one last changed.
    if (changed) updates.asOf = this.clock.now();
    if (this.pendingValues.length > 0 && !this.flushScheduled) {
      // IB sends account values one message each, in a burst: one event for the burst.
      this.flushScheduled = true;
      queueMicrotask(() => this.flushValues(updates));
    }
  }

  private flushValues(updates: HeldAccountUpdates): void {
    const values = this.pendingValues;
    this.pendingValues = [];
    this.flushScheduled = false;
    if (values.length === 0 || this.updates !== updates) return;
    this.changeSubject.next({
      topic: 'account',
      type: 'values',
      account: updates.account,
      data: { account: updates.account, updatedAt: updates.updatedAt ?? null, values },
    });
  }

  /** Publishes `change` unless it says what was last published under `key`. */
  private publish(key: string, change: AccountChange): void {
    const text = JSON.stringify(change.data);
    // The same text: IB sent the same value again (PnL each second, every account value every few minutes).
    if (this.published.get(key) === text) return;
    this.published.set(key, text);
    this.changeSubject.next(change);
  }
}

/** Whether two plain values say the same (IB's values are plain objects built in one order). */
function sameJson(a: unknown, b: unknown): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
