import { BehaviorSubject, Observable, Subject } from 'rxjs';
import { AccountLiveState, type AccountChange } from '../../../src/account/account-live-state';
import type {
  AccountStreamsRepository,
  AccountUpdatesPush,
  PositionsPush,
} from '../../../src/account/account-streams.repository';
import type {
  AccountBalances,
  AccountPnlValues,
  AccountRepository,
} from '../../../src/account/account.repository';
import type { AppConfig } from '../../../src/config/config.schema';
import type { SessionState } from '../../../src/connection/ib-session.repository';
import { FakeClock } from '../../support/fake-clock';

/** One opened stream: its pushes, and whether the live state still holds it. */
class HeldStream<T> {
  readonly pushes = new Subject<T>();
  subscribers = 0;
  readonly observable = new Observable<T>((subscriber) => {
    this.subscribers++;
    const inner = this.pushes.subscribe(subscriber);
    return () => {
      this.subscribers--;
      inner.unsubscribe();
    };
  });
}

/** IB's account streams as the live state sees them, each request recorded. */
class FakeStreams {
  readonly states = new BehaviorSubject<SessionState>('disconnected');
  readonly connectivity = new Subject<'lost' | 'restored'>();
  readonly opened: Array<{ what: string; stream: HeldStream<unknown> }> = [];
  get sessionStates() {
    return this.states.asObservable();
  }
  accountSummary() {
    return this.open<Map<string, AccountBalances>>('summary');
  }
  positions() {
    return this.open<PositionsPush>('positions');
  }
  pnl(account: string) {
    return this.open<AccountPnlValues>(`pnl ${account}`);
  }
  accountUpdates(account: string) {
    return this.open<AccountUpdatesPush>(`updates ${account}`);
  }
  /** The latest stream opened for `what`. */
  latest<T>(what: string): HeldStream<T> {
    const found = this.opened.filter((entry) => entry.what === what).at(-1);
    if (!found) throw new Error(`${what} was never requested`);
    return found.stream as HeldStream<T>;
  }
  count(what: string): number {
    return this.opened.filter((entry) => entry.what === what).length;
  }
  private open<T>(what: string): Observable<T> {
    const stream = new HeldStream<T>();
    this.opened.push({ what, stream: stream as HeldStream<unknown> });
    return stream.observable;
  }
}

const ACCOUNTS = ['DU1', 'DU2'];
const balances = (account: string, netLiquidation: number): AccountBalances => ({
  account,
  currency: 'USD',
  netLiquidation,
  totalCash: netLiquidation,
  settledCash: null,
  buyingPower: null,
  equityWithLoan: null,
  grossPositionValue: null,
  initMargin: null,
  maintMargin: null,
  availableFunds: null,
  excessLiquidity: null,
  cushion: null,
  leverage: null,
});
const holding = (account: string, symbol: string, conId: number, position: number) => ({
  account,
  contract: { conId, symbol, secType: 'STK', exchange: 'SMART', currency: 'USD' },
  position,
  averageCost: 100,
});
const pnl = (dailyPnl: number): AccountPnlValues => ({ dailyPnl, unrealizedPnl: 0, realizedPnl: 0 });
const settle = async () => new Promise((resolve) => setImmediate(resolve));

describe('AccountLiveState', () => {
  let clock: FakeClock;
  let streams: FakeStreams;
  let live: AccountLiveState;
  let changes: AccountChange[];

  const start = (configured: string[] = []) => {
    clock = new FakeClock();
    streams = new FakeStreams();
    const repository = {
      managedAccounts: async () => Promise.resolve(ACCOUNTS),
    } as unknown as AccountRepository;
    const config = { orders: { accounts: configured } } as unknown as AppConfig;
    live = new AccountLiveState(streams as unknown as AccountStreamsRepository, repository, clock, config);
    changes = [];
    live.changes.subscribe((change) => changes.push(change));
    live.onModuleInit();
  };
  const connect = async () => {
    streams.states.next('connected');
    await settle();
  };
  /** Everything pushed once, as IB does after the requests. */
  const pushAll = async () => {
    streams
      .latest<Map<string, AccountBalances>>('summary')
      .pushes.next(new Map(ACCOUNTS.map((account) => [account, balances(account, 1000)])));
    streams.latest<PositionsPush>('positions').pushes.next({
      snapshot: true,
      holdings: [holding('DU1', 'AAPL', 1, 10)],
    });
    for (const account of ACCOUNTS) streams.latest<AccountPnlValues>(`pnl ${account}`).pushes.next(pnl(5));
    const updates = streams.latest<AccountUpdatesPush>('updates DU1').pushes;
    updates.next({
      snapshot: false,
      values: [{ tag: 'NetLiquidation', currency: 'USD', value: '1000' }],
      portfolio: [],
      updatedAt: '10:00',
    });
    updates.next({
      snapshot: true,
      values: [{ tag: 'NetLiquidation', currency: 'USD', value: '1000' }],
      portfolio: [],
      updatedAt: undefined,
    });
    await settle();
  };

  afterEach(() => live.onModuleDestroy());

  it('answers nothing before IB pushed, then the latest push with its time', async () => {
    start();
    expect(live.balances(ACCOUNTS)).toBeUndefined();
    await connect();
    expect(live.managedAccounts()).toEqual(ACCOUNTS);
    expect(live.balances(ACCOUNTS)).toBeUndefined();
    expect(live.accountValues('DU1')).toBeUndefined();
    const pushedAt = clock.now();
    await pushAll();
    await clock.advance(5_000);
    expect(live.balances(ACCOUNTS)).toEqual({
      value: ACCOUNTS.map((a) => balances(a, 1000)),
      asOf: pushedAt,
    });
    expect(live.holdings()?.value.get('DU1')).toEqual([
      {
        contract: { conId: 1, symbol: 'AAPL', secType: 'STK', exchange: 'SMART', currency: 'USD' },
        position: 10,
        averageCost: 100,
      },
    ]);
    expect(live.pnl('DU2')).toEqual({ value: pnl(5), asOf: pushedAt });
    expect(live.accountValues('DU1')?.value).toEqual({
      values: [{ tag: 'NetLiquidation', currency: 'USD', value: '1000' }],
      updatedAt: '10:00',
    });
    // One account-updates subscription per client: the first managed account's; the other is not held.
    expect(live.accountValues('DU2')).toBeUndefined();
    expect(streams.count('updates DU2')).toBe(0);
  });

  it('holds the account updates of the configured order account when the login manages it', async () => {
    start(['du2']);
    await connect();
    expect(streams.count('updates DU2')).toBe(1);
    expect(live.accountUpdatesAccount).toBe('DU2');
  });

  it('serves nothing of a dropped session, and requests everything again on the next one', async () => {
    start();
    await connect();
    await pushAll();
    const firstPositions = streams.latest('positions');
    streams.states.next('disconnected');
    expect(live.balances(ACCOUNTS)).toBeUndefined();
    expect(live.holdings()).toBeUndefined();
    expect(live.pnl('DU1')).toBeUndefined();
    expect(live.accountValues('DU1')).toBeUndefined();
    expect(live.managedAccounts()).toBeUndefined();
    expect(firstPositions.subscribers).toBe(0);
    streams.states.next('connecting');
    await connect();
    for (const what of ['summary', 'positions', 'pnl DU1', 'pnl DU2', 'updates DU1']) {
      expect(streams.count(what)).toBe(2);
    }
    expect(live.holdings()).toBeUndefined();
    await pushAll();
    expect(live.holdings()?.asOf).toBe(clock.now());
  });

  it('serves nothing while IB has lost its servers, and asks again once they are back', async () => {
    start();
    await connect();
    await pushAll();
    streams.connectivity.next('lost');
    expect(live.holdings()).toBeUndefined();
    expect(live.pnl('DU1')).toBeUndefined();
    streams.connectivity.next('restored');
    await settle();
    expect(streams.count('positions')).toBe(2);
    expect(streams.count('updates DU1')).toBe(2);
    await pushAll();
    expect(live.holdings()?.asOf).toBe(clock.now());
  });

  it('publishes changes only, and a burst of account values as one event', async () => {
    start();
    await connect();
    await pushAll();
    const initial = changes.length;
    expect(changes.filter((change) => change.topic === 'positions')).toHaveLength(1);
    const firstAsOf = clock.now();
    await clock.advance(1_000);
    streams.latest<AccountPnlValues>('pnl DU1').pushes.next(pnl(5));
    // The same values again (IB pushes PnL each second): no event, and asOf stays when they last changed.
    expect(live.pnl('DU1')?.asOf).toBe(firstAsOf);
    streams
      .latest<Map<string, AccountBalances>>('summary')
      .pushes.next(new Map(ACCOUNTS.map((account) => [account, balances(account, 1000)])));
    expect(changes).toHaveLength(initial);
    streams.latest<PositionsPush>('positions').pushes.next({
      snapshot: false,
      holdings: [holding('DU1', 'AAPL', 1, 15)],
    });
    const updates = streams.latest<AccountUpdatesPush>('updates DU1').pushes;
    for (const value of ['1500', '1501']) {
      updates.next({
        snapshot: false,
        values: [{ tag: 'NetLiquidation', currency: 'USD', value }],
        portfolio: [],
        updatedAt: undefined,
      });
    }
    updates.next({
      snapshot: false,
      values: [{ tag: 'CashBalance', currency: 'USD', value: '7' }],
      portfolio: [],
      updatedAt: undefined,
    });
    await settle();
    expect(live.accountValues('DU1')?.asOf).toBe(clock.now());
    expect(changes.slice(initial)).toEqual([
      expect.objectContaining({
        topic: 'positions',
        account: 'DU1',
        symbol: 'AAPL',
        data: expect.objectContaining({ position: 15 }),
      }),
      expect.objectContaining({
        topic: 'account',
        type: 'values',
        account: 'DU1',
        data: expect.objectContaining({
          values: [
            { tag: 'NetLiquidation', currency: 'USD', value: '1500' },
            { tag: 'NetLiquidation', currency: 'USD', value: '1501' },
            { tag: 'CashBalance', currency: 'USD', value: '7' },
          ],
        }),
      }),
    ]);
  });

  it("does not answer an account's PnL from before its position changed", async () => {
    start();
    await connect();
    await pushAll();
    streams.latest<PositionsPush>('positions').pushes.next({
      snapshot: false,
      holdings: [holding('DU1', 'MSFT', 2, 3)],
    });
    expect(live.pnl('DU1')).toBeUndefined();
    expect(live.pnl('DU2')).toBeDefined();
    streams.latest<AccountPnlValues>('pnl DU1').pushes.next(pnl(9));
    expect(live.pnl('DU1')?.value).toEqual(pnl(9));
  });

  it("lets go of the held account updates while another account's are downloaded, then holds them again", async () => {
    start();
    await connect();
    await pushAll();
    const held = streams.latest('updates DU1');
    const during = await live.whileAccountUpdatesYielded('DU2', async () =>
      Promise.resolve({ subscribers: held.subscribers, values: live.accountValues('DU1') }),
    );
    expect(during).toEqual({ subscribers: 0, values: undefined });
    expect(streams.count('updates DU1')).toBe(2);
    expect(live.accountValues('DU1')).toBeUndefined(); // until the new download ends
    await live.whileAccountUpdatesYielded('DU1', async () => Promise.resolve());
    expect(streams.count('updates DU1')).toBe(2); // its own account: shared, not let go
  });

  it('asks again after a stream fails, and serves nothing of it meanwhile', async () => {
    start();
    await connect();
    await pushAll();
    streams.latest('summary').pushes.error(new Error('IB refused'));
    expect(live.balances(ACCOUNTS)).toBeUndefined();
    expect(streams.count('summary')).toBe(1);
    await clock.advance(1_000);
    expect(streams.count('summary')).toBe(2);
  });
});
