import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BehaviorSubject, Subject } from 'rxjs';
import { DomainError } from '../../../src/common/domain-error';
import { Redactor } from '../../../src/common/redactor';
import { AppConfigSchema, CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { IbSession, SessionState } from '../../../src/connection/ib-session.repository';
import {
  IDEMPOTENCY_KEYS_FILE,
  IdempotencyKeyRepository,
  type IdempotencyRecord,
  type KeyState,
} from '../../../src/orders/idempotency-key.repository';
import { OrderJournalRepository, type JournalEntry } from '../../../src/orders/order-journal.repository';
import {
  pendingView,
  type BrokerEvent,
  type CommissionReport,
  type CompletedOrderReport,
  type ContractView,
  type ExecutionReport,
  type OrderContractRef,
  type OrderReport,
  type TrackedOrder,
} from '../../../src/orders/order-model';
import {
  ABSENCE_PROOF_WINDOW_MS,
  OrderReconciler,
  UNKNOWN_STATE_RETRY_SECONDS,
} from '../../../src/orders/order-reconciler';
import { OrderTracker } from '../../../src/orders/order-tracker';
import type { OrdersRepository } from '../../../src/orders/orders.repository';
import { FakeClock } from '../../support/fake-clock';

const CLIENT_ID = 1;
const OTHER_CLIENT_ID = 7;
const AAPL_REF: OrderContractRef = { conId: 265598, symbol: 'AAPL', exchange: 'SMART', currency: 'USD' };
const AAPL: ContractView = { conId: 265598, symbol: 'AAPL', exchange: 'SMART', currency: 'USD' };

/** The IB session as the reconciler sees it: its states, and whether requests flow now. */
class FakeSession {
  readonly states: BehaviorSubject<SessionState>;

  constructor(initial: SessionState) {
    this.states = new BehaviorSubject<SessionState>(initial);
  }

  get isConnected(): boolean {
    return this.states.value === 'connected';
  }
}

type Listing = 'open' | 'completed' | 'executions';

/** The orders repository: broker events the test emits, and IB's listings as the test sets them. */
class FakeOrdersRepository {
  readonly events = new Subject<BrokerEvent>();
  open: OrderReport[] = [];
  completed: CompletedOrderReport[] = [];
  executed: ExecutionReport[] = [];
  /** A listing that rejects with this error. */
  readonly failures: Partial<Record<Listing, Error>> = {};
  readonly calls = { follow: 0, open: 0, completed: 0, allExecutions: 0, ownExecutions: 0 };

  follow(): boolean {
    this.calls.follow++;
    return true;
  }

  get clientId(): number {
    return CLIENT_ID;
  }

  isSessionClient(clientId: number | undefined): boolean {
    return clientId === CLIENT_ID;
  }

  async allOpenOrders(): Promise<OrderReport[]> {
    this.calls.open++;
    return this.answer('open', [...this.open]);
  }

  async completedOrders(): Promise<CompletedOrderReport[]> {
    this.calls.completed++;
    return this.answer('completed', [...this.completed]);
  }

  async executions(
    allClients = false,
  ): Promise<{ executions: ExecutionReport[]; commissions: CommissionReport[] }> {
    if (allClients) this.calls.allExecutions++;
    else this.calls.ownExecutions++;
    const executions = allClients
      ? [...this.executed]
      : this.executed.filter((execution) => execution.clientId === CLIENT_ID);
    return this.answer('executions', { executions, commissions: [] });
  }

  /** Answers a turn of the event loop later, as IB would; or rejects when the test says so. */
  private async answer<T>(listing: Listing, value: T): Promise<T> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const failure = this.failures[listing];
    if (failure) throw failure;
    return value;
  }
}

/** An order of this client as IB lists it open. */
function openReport(orderId: number, fields: Partial<OrderReport> = {}): OrderReport {
  return {
    orderId,
    clientId: CLIENT_ID,
    permId: orderId * 10,
    contract: AAPL,
    side: 'BUY',
    quantity: 1,
    orderType: 'LMT',
    limitPrice: 100,
    tif: 'DAY',
    outsideRth: false,
    status: 'Submitted',
    filled: 0,
    remaining: 1,
    ...fields,
  };
}

/** An order as the service knows it while placing it (PendingSubmit, no permId yet). */
function pending(orderId: number, key: string, at: string): TrackedOrder {
  return pendingView(
    { orderId, fields: { side: 'BUY', quantity: 1, orderType: 'LMT', limitPrice: 100, orderRef: key } },
    AAPL_REF,
    CLIENT_ID,
    at,
  );
}

function isError(thrown: unknown): thrown is DomainError {
  return thrown instanceof DomainError;
}

/** Lets the event loop turn (the fake listings and the fsyncs of the real files) until `condition` holds. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('OrderReconciler', () => {
  let dataDir: string;
  let clock: FakeClock;
  let session: FakeSession;
  let broker: FakeOrdersRepository;
  let keys: IdempotencyKeyRepository;
  let journal: OrderJournalRepository;
  let tracker: OrderTracker;
  let reconciler: OrderReconciler;

  /** The reconciler on real keys, journal and tracker in the temp data dir; fakes for IB. */
  async function start(initial: SessionState = 'connected'): Promise<void> {
    const config = AppConfigSchema.parse({ ...CONFIG_DEFAULTS, dataDir });
    session = new FakeSession(initial);
    broker = new FakeOrdersRepository();
    keys = new IdempotencyKeyRepository(config, clock);
    journal = new OrderJournalRepository(config, Redactor.fromConfig(config), clock);
    const orders = broker as unknown as OrdersRepository;
    tracker = new OrderTracker(orders, journal, clock);
    reconciler = new OrderReconciler(session as unknown as IbSession, orders, tracker, keys, journal, clock);
    await keys.onModuleInit();
    await journal.onModuleInit();
    await tracker.onModuleInit();
  }

  function now(): string {
    return new Date(clock.now()).toISOString();
  }

  /** A key the service reserved (and perhaps sent) for a placement it registered with the tracker. */
  async function uncertainKey(
    key: string,
    orderIds: number[],
    state: KeyState = 'reserved',
  ): Promise<IdempotencyRecord> {
    for (const orderId of orderIds) tracker.expect(pending(orderId, key, now()));
    const reserved = await keys.reserve(key, `fp-${key}`, orderIds);
    return state === 'reserved' ? reserved : keys.mark(key, state);
  }

  /** The key's lines in the key file, oldest first (the last is its state). */
  function keyLines(key: string): IdempotencyRecord[] {
    return readFileSync(join(dataDir, IDEMPOTENCY_KEYS_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as IdempotencyRecord)
      .filter((record) => record.key === key);
  }

  function stateOnDisk(key: string): KeyState | undefined {
    return keyLines(key).at(-1)?.state;
  }

  /** The journal's broker responses about an order, as on disk. */
  async function responses(orderId: number): Promise<JournalEntry[]> {
    await journal.settled();
    const entries: JournalEntry[] = [];
    for await (const entry of journal.entries()) {
      if (entry.type === 'response' && entry.orderId === orderId) entries.push(entry);
    }
    return entries;
  }

  async function settleFailure(record: IdempotencyRecord): Promise<DomainError> {
    const thrown = await reconciler.settle(record).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (!isError(thrown)) throw new Error(`expected a DomainError, got ${String(thrown)}`);
    return thrown;
  }

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ibgs-reconciler-'));
    clock = new FakeClock(Date.UTC(2026, 0, 5, 12, 0, 0));
  });

  afterEach(async () => {
    reconciler.onModuleDestroy();
    // What is still in flight (a reconcile, an executions refresh after a fill) finishes before the files close.
    await reconciler.exclusive(async () => journal.settled().catch(() => undefined));
    await clock.advance(0);
    tracker.onModuleDestroy();
    await journal.onModuleDestroy();
    await keys.onModuleDestroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('settle: one uncertain key', () => {
    it('acknowledges a key whose order IB lists open; the tracker adopts what IB says of it', async () => {
      await start();
      const record = await uncertainKey('k-open', [101], 'sent');
      broker.open = [
        openReport(900, { clientId: OTHER_CLIENT_ID, orderRef: 'someone-else' }),
        openReport(101, { orderRef: 'k-open', status: 'PreSubmitted', permId: 5101 }),
      ];

      const settled = await reconciler.settle(record);

      expect(settled).toMatchObject({ key: 'k-open', state: 'acknowledged', orderIds: [101] });
      expect(keys.find('k-open')?.state).toBe('acknowledged');
      expect(stateOnDisk('k-open')).toBe('acknowledged');
      expect(tracker.get(101)).toMatchObject({ status: 'PreSubmitted', permId: 5101, clientId: CLIENT_ID });
      expect(tracker.get(900)).toBeUndefined();
      const reconciled = (await responses(101)).filter((entry) => entry.event === 'reconciled');
      expect(reconciled).toHaveLength(1);
      expect(reconciled[0]).toMatchObject({ order: { orderId: 101, status: 'PreSubmitted' } });
      expect(String(reconciled[0]?.reason)).toContain('k-open');
      expect(broker.calls).toMatchObject({ open: 1, completed: 1, allExecutions: 1 });
    });

    it('acknowledges a key found only among the completed orders; the tracker has it Filled', async () => {
      await start();
      const record = await uncertainKey('k-done', [102]);
      expect(tracker.get(102)?.status).toBe('PendingSubmit');
      broker.open = [openReport(900, { clientId: OTHER_CLIENT_ID })];
      broker.completed = [
        { permId: 9999, orderRef: 'other-key', contract: AAPL, status: 'Cancelled', filled: 0 },
        {
          permId: 5102,
          orderRef: 'k-done',
          contract: AAPL,
          side: 'BUY',
          quantity: 1,
          filled: 1,
          status: 'Filled',
        },
      ];

      const settled = await reconciler.settle(record);

      expect(settled.state).toBe('acknowledged');
      expect(stateOnDisk('k-done')).toBe('acknowledged');
      expect(tracker.get(102)).toMatchObject({ status: 'Filled', filled: 1, remaining: 0, permId: 5102 });
      expect((await responses(102)).map((entry) => entry.event)).toContain('reconciled');
    });

    it('acknowledges a key found only in the executions; the tracker has it Filled', async () => {
      await start();
      const record = await uncertainKey('k-exec', [103], 'unknown');
      broker.executed = [
        { orderId: 103, execId: 'e-103', clientId: CLIENT_ID, orderRef: 'k-exec', shares: 1, price: 100 },
        { orderId: 555, execId: 'e-555', clientId: OTHER_CLIENT_ID, orderRef: 'other-key', shares: 3 },
      ];

      const settled = await reconciler.settle(record);

      expect(settled.state).toBe('acknowledged');
      expect(stateOnDisk('k-exec')).toBe('acknowledged');
      expect(tracker.get(103)).toMatchObject({ status: 'Filled', filled: 1, remaining: 0 });
      expect((await responses(103)).map((entry) => entry.event)).toContain('reconciled');
    });

    it('marks a key IB has nowhere absent; the tracker forgets its pending orders, journaled', async () => {
      await start();
      const record = await uncertainKey('k-none', [104, 105, 106], 'sent');
      broker.open = [openReport(900, { orderRef: 'other-key' })];
      broker.completed = [
        { permId: 9999, orderRef: 'other-key', contract: AAPL, status: 'Filled', filled: 1 },
      ];
      broker.executed = [
        { orderId: 900, execId: 'e-900', clientId: CLIENT_ID, orderRef: 'other-key', shares: 1 },
      ];

      const settled = await reconciler.settle(record);

      expect(settled).toMatchObject({ state: 'absent', orderIds: [104, 105, 106] });
      expect(stateOnDisk('k-none')).toBe('absent');
      expect([104, 105, 106].map((orderId) => tracker.get(orderId))).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
      for (const orderId of [104, 105, 106]) {
        const absent = (await responses(orderId)).filter((entry) => entry.event === 'absent');
        expect(absent).toHaveLength(1);
        expect(String(absent[0]?.reason)).toContain('k-none');
      }
    });

    it('does not call a key absent once IB lists are too short to prove it (CONFLICT; the key stays uncertain)', async () => {
      await start();
      const record = await uncertainKey('k-old', [108], 'unknown');
      await clock.advance(ABSENCE_PROOF_WINDOW_MS - 1000);
      expect((await reconciler.settle(record)).state).toBe('absent');

      const older = await uncertainKey('k-older', [109], 'unknown');
      await clock.advance(ABSENCE_PROOF_WINDOW_MS + 1000);
      const error = await settleFailure(older);
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toMatch(/current day only/);
      expect(keys.find('k-older')?.state).toBe('unknown');
      // At a reconnect it is left uncertain without failing the reconciliation of the others.
      await expect(reconciler.reconcileAll()).resolves.toBeUndefined();
      expect(keys.find('k-older')?.state).toBe('unknown');
    });

    it('answers ORDER_STATE_UNKNOWN while the session is not connected, asking IB nothing', async () => {
      await start('disconnected');
      const record = await uncertainKey('k-offline', [107], 'sent');
      const linesBefore = keyLines('k-offline');

      const error = await settleFailure(record);

      expect(error.code).toBe('ORDER_STATE_UNKNOWN');
      expect(error.httpStatus).toBe(503);
      expect(error.details.retryAfterSeconds).toBe(UNKNOWN_STATE_RETRY_SECONDS);
      expect(UNKNOWN_STATE_RETRY_SECONDS).toBeGreaterThan(0);
      expect(error.message).toContain('k-offline');
      expect(error.message).toContain('not connected');
      expect(keys.find('k-offline')?.state).toBe('sent');
      expect(keys.uncertain().map((uncertain) => uncertain.key)).toEqual(['k-offline']);
      expect(keyLines('k-offline')).toEqual(linesBefore);
      expect(tracker.get(107)?.status).toBe('PendingSubmit');
      expect(broker.calls).toMatchObject({ open: 0, completed: 0, allExecutions: 0 });
    });

    it("answers ORDER_STATE_UNKNOWN saying why when one of IB's listings fails", async () => {
      await start();
      const record = await uncertainKey('k-timeout', [108]);
      broker.open = [openReport(108, { orderRef: 'k-timeout' })];
      broker.failures.completed = new DomainError(
        'IB_TIMEOUT',
        'IB did not answer the completed orders in 10 s',
      );

      const error = await settleFailure(record);

      expect(error.code).toBe('ORDER_STATE_UNKNOWN');
      expect(error.details.retryAfterSeconds).toBe(UNKNOWN_STATE_RETRY_SECONDS);
      expect(error.message).toContain("IB's order lists could not be read");
      expect(error.message).toContain('IB did not answer the completed orders in 10 s');
      expect(keys.find('k-timeout')?.state).toBe('reserved');
      expect(stateOnDisk('k-timeout')).toBe('reserved');
      expect(tracker.get(108)?.status).toBe('PendingSubmit');
      expect(broker.calls.allExecutions).toBe(0);
    });
  });

  describe('on (re)connect', () => {
    it('reconciles on every arrival at connected, not just the first', async () => {
      await start('disconnected');
      reconciler.onModuleInit();
      await clock.advance(0);
      expect(broker.calls).toMatchObject({ follow: 0, open: 0, completed: 0, allExecutions: 0 });

      session.states.next('connected');
      await eventually(() => broker.calls.allExecutions === 1, 'the first reconcile');
      await reconciler.exclusive(async () => journal.settled());
      expect(broker.calls).toMatchObject({ follow: 1, open: 1, completed: 1, allExecutions: 1 });

      session.states.next('disconnected');
      // A placement while the session was down: its key is uncertain, and IB did get the order.
      await uncertainKey('k-between', [201], 'unknown');
      broker.open = [openReport(201, { orderRef: 'k-between', status: 'Submitted', permId: 5201 })];
      session.states.next('connecting');
      await clock.advance(0);
      expect(broker.calls).toMatchObject({ follow: 1, open: 1, completed: 1, allExecutions: 1 });
      expect(keys.find('k-between')?.state).toBe('unknown');

      session.states.next('connected');
      await eventually(() => keys.find('k-between')?.state === 'acknowledged', 'the second reconcile');
      await reconciler.exclusive(async () => journal.settled());

      expect(broker.calls).toMatchObject({ follow: 2, open: 2, completed: 2, allExecutions: 2 });
      expect(stateOnDisk('k-between')).toBe('acknowledged');
      expect(tracker.get(201)).toMatchObject({ status: 'Submitted', permId: 5201 });
      expect(keys.uncertain()).toEqual([]);
    });

    it('waits for a placement in progress (exclusive) before it reconciles', async () => {
      await start('disconnected');
      reconciler.onModuleInit();
      let release: () => void = () => undefined;
      const placing = reconciler.exclusive(async () => new Promise<void>((resolve) => (release = resolve)));

      try {
        session.states.next('connected');
        await clock.advance(0);
        await new Promise<void>((resolve) => setImmediate(resolve));
        expect(broker.calls.follow).toBe(1);
        expect(broker.calls.open).toBe(0);
      } finally {
        release();
        await placing;
      }
      await eventually(() => broker.calls.allExecutions === 1, 'the reconcile after the placement');
    });
  });

  describe('reconcileAll: orders that finished while nobody watched', () => {
    it('takes their status from the completed orders, else Unknown; other clients are left alone', async () => {
      await start();
      tracker.absorb([
        openReport(301, { permId: 3001 }),
        openReport(302, { permId: 3002 }),
        openReport(303, { permId: 3003 }),
        openReport(401, { clientId: OTHER_CLIENT_ID, permId: 4001 }),
      ]);
      const foreignBefore = tracker.get(401);
      await clock.advance(60_000);
      broker.open = [openReport(303, { permId: 3003 })];
      broker.completed = [{ permId: 3001, contract: AAPL, status: 'Cancelled', filled: 0 }];
      broker.executed = [];

      await reconciler.reconcileAll();

      expect(tracker.get(301)).toMatchObject({ status: 'Cancelled', filled: 0, remaining: 1, permId: 3001 });
      expect(tracker.get(302)).toMatchObject({ status: 'Unknown', updatedAt: now() });
      expect(tracker.get(303)?.status).toBe('Submitted');
      expect(tracker.get(401)).toEqual(foreignBefore);
      const events = async (orderId: number): Promise<unknown[]> =>
        (await responses(orderId)).map((entry) => entry.event);
      expect(await events(301)).toContain('reconciled');
      expect(await events(302)).toContain('reconciled');
      expect(await events(401)).not.toContain('reconciled');
    });

    it('keeps the executed part of a vanished order that is only partly filled (status Unknown)', async () => {
      await start();
      tracker.absorb([openReport(321, { permId: 3021, quantity: 3, remaining: 3 })]);
      broker.executed = [{ orderId: 321, execId: 'e-21', clientId: CLIENT_ID, permId: 3021, shares: 1 }];

      await reconciler.reconcileAll();

      expect(tracker.get(321)).toMatchObject({ status: 'Unknown', filled: 1, remaining: 2 });
    });

    it('takes Filled from the executions of a vanished order when they fill it', async () => {
      await start();
      tracker.absorb([openReport(311, { permId: 3011, quantity: 2, remaining: 2 })]);
      broker.executed = [
        { orderId: 311, execId: 'e-1', clientId: CLIENT_ID, permId: 3011, shares: 1 },
        { orderId: 311, execId: 'e-2', clientId: CLIENT_ID, permId: 3011, shares: 1 },
        { orderId: 311, execId: 'e-3', clientId: OTHER_CLIENT_ID, shares: 5 },
      ];

      await reconciler.reconcileAll();

      expect(tracker.get(311)).toMatchObject({ status: 'Filled', filled: 2, remaining: 0 });
    });
  });

  describe('exclusive', () => {
    it('never overlaps two runs: the second waits for the first to finish', async () => {
      await start();
      const steps: string[] = [];
      let releaseFirst: () => void = () => undefined;
      const first = reconciler.exclusive(async () => {
        steps.push('first starts');
        await new Promise<void>((resolve) => (releaseFirst = resolve));
        steps.push('first ends');
        return 'first';
      });
      const second = reconciler.exclusive(async () => {
        steps.push('second starts');
        return Promise.resolve('second');
      });

      try {
        await clock.advance(0);
        await new Promise<void>((resolve) => setImmediate(resolve));
        expect(steps).toEqual(['first starts']);
      } finally {
        releaseFirst();
      }
      expect(await first).toBe('first');
      expect(await second).toBe('second');
      expect(steps).toEqual(['first starts', 'first ends', 'second starts']);
    });

    it('lets the next run go when a run fails', async () => {
      await start();
      const failed = reconciler.exclusive(async () => Promise.reject(new Error('placement failed')));
      const next = reconciler.exclusive(async () => Promise.resolve('ran'));
      await expect(failed).rejects.toThrow('placement failed');
      await expect(next).resolves.toBe('ran');
    });
  });
});
