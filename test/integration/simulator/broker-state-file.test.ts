import {
  OrderAction,
  OrderStatus,
  OrderType,
  SecType,
  type Contract,
  type IBApiNext,
  type OpenOrder,
  type Order,
} from '@stoqey/ib';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, map, timeout, type Subscription } from 'rxjs';
import type { BrokerSnapshot } from '../../../src/simulator/broker/broker-snapshot';
import { startControlServer } from '../../../src/simulator/control/control-http-server';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU1234567';
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
/** The Saturday after: every stock market is closed, so a marketable order waits. */
const SATURDAY = Date.parse('2025-06-14T15:00:00Z');
const AAPL: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};
const MSFT: Contract = {
  conId: 272093,
  symbol: 'MSFT',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};

const cents = (price: number) => Math.round(price * 100) / 100;

interface SavedOrder {
  ticket: { orderId: number; orderRef: string };
  status: string;
}

/** Reads the state file as a crash would leave it: it must parse every time. */
function readStateFile(path: string): { book: { nextOrderId: number; orders: SavedOrder[] } } {
  return JSON.parse(readFileSync(path, 'utf8')) as { book: { nextOrderId: number; orders: SavedOrder[] } };
}

function savedOrder(path: string, orderId: number): SavedOrder | undefined {
  return readStateFile(path).book.orders.find((order) => order.ticket.orderId === orderId);
}

/** Follows a client's orders through IBApiNext's open-order stream. */
class OrderWatch {
  private readonly keepAlive: Subscription;

  constructor(private readonly ib: IBApiNext) {
    this.keepAlive = ib.getAutoOpenOrders(false).subscribe();
  }

  async until(orderId: number, predicate: (order: OpenOrder) => boolean, ms = 5000): Promise<OpenOrder> {
    return firstValueFrom(
      this.ib.getAutoOpenOrders(false).pipe(
        map((update) => update.all.find((order) => order.orderId === orderId)),
        filter((order): order is OpenOrder => order !== undefined && predicate(order)),
        timeout(ms),
      ),
    );
  }

  async status(orderId: number, status: OrderStatus, ms?: number): Promise<OpenOrder> {
    return this.until(orderId, (order) => order.orderState.status === status, ms);
  }

  stop(): void {
    this.keepAlive.unsubscribe();
  }
}

const limitBuy = (price: number, quantity: number, orderRef: string): Order => ({
  action: OrderAction.BUY,
  orderType: OrderType.LMT,
  lmtPrice: cents(price),
  totalQuantity: quantity,
  tif: 'GTC',
  orderRef,
  transmit: true,
});

describe('simulated broker: the state file keeps orders, executions and positions across restarts', () => {
  const directory = mkdtempSync(join(tmpdir(), 'sim-broker-state-'));
  const running: IbGatewaySimulator[] = [];

  async function startSimulator(stateFile: string, clock = MARKET_OPEN): Promise<IbGatewaySimulator> {
    const simulator = new IbGatewaySimulator({ accounts: [ACCOUNT], brokerStateFile: stateFile });
    recordWire(simulator);
    simulator.setClock(clock);
    await simulator.start();
    running.push(simulator);
    return simulator;
  }

  afterEach(async () => {
    disconnectAllClients();
    await Promise.all(running.splice(0).map(async (simulator) => simulator.stop()));
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('a new simulator on the same file has the open order, the execution, the position and higher order ids', async () => {
    const stateFile = join(directory, 'restart.json');
    const first = await startSimulator(stateFile);
    const client: TestClient = await connectClient(first.port, { clientId: 11 });
    const watch = new OrderWatch(client.ib);

    // REQ_IDS reserves ids; each one is on disk before the client sees it.
    const reserved = await Promise.all([1, 2, 3].map(async () => client.ib.getNextValidOrderId()));
    const highestReserved = Math.max(...reserved);
    expect(readStateFile(stateFile).book.nextOrderId).toBeGreaterThan(highestReserved);

    const bid = first.market.quote(265598).bid;
    const restingId = await client.ib.placeNewOrder(AAPL, limitBuy(bid * 0.8, 10, 'resting-before-restart'));
    await watch.status(restingId, OrderStatus.Submitted);
    // Read right after the acknowledgement: a SIGKILL now would leave this file.
    expect(savedOrder(stateFile, restingId)).toMatchObject({
      ticket: { orderRef: 'resting-before-restart' },
      status: 'Submitted',
    });

    const filledId = await client.ib.placeNewOrder(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 5,
      orderRef: 'filled-before-restart',
      transmit: true,
    });
    await watch.status(filledId, OrderStatus.Filled);
    expect(savedOrder(stateFile, filledId)?.status).toBe('Filled');
    const executionsBefore = await client.ib.getExecutionDetails({});
    expect(executionsBefore).toHaveLength(1);

    // A marketable order placed while the market is closed waits (PreSubmitted) for the next session.
    first.setClock(SATURDAY);
    const ask = Math.max(first.market.quote(272093).ask, first.market.quote(272093, MARKET_OPEN).ask);
    const waitingId = await client.ib.placeNewOrder(MSFT, limitBuy(ask * 1.2, 3, 'waits-for-the-open'));
    await watch.status(waitingId, OrderStatus.PreSubmitted);
    expect(savedOrder(stateFile, waitingId)?.status).toBe('PreSubmitted');
    const permIds = new Map(
      (await client.ib.getAllOpenOrders()).map((open) => [open.orderId, open.order.permId]),
    );
    expect(decodeErrors(client.errors)).toEqual([]);
    watch.stop();
    client.disconnect();
    await first.stop();

    // A new process on the same file, at the open: the waiting order fills on the evaluation timer.
    const second = await startSimulator(stateFile);
    expect(second.brokerStateRestore).toMatchObject({
      outcome: 'restored',
      orders: 3,
      executions: 1,
      skipped: 0,
    });
    const control = await startControlServer(second, { host: '127.0.0.1', port: 0 });
    try {
      const next = await connectClient(second.port, { clientId: 12 });
      const open = await next.ib.getAllOpenOrders();
      const resting = open.find((order) => order.orderId === restingId);
      expect(resting?.order).toMatchObject({
        orderRef: 'resting-before-restart',
        permId: permIds.get(restingId),
        lmtPrice: cents(bid * 0.8),
        totalQuantity: 10,
      });
      expect(open.some((order) => order.orderId === filledId)).toBe(false);

      const executions = await next.ib.getExecutionDetails({});
      expect(executions.map((detail) => detail.execution.execId)).toEqual(
        executionsBefore.map((detail) => detail.execution.execId),
      );
      expect(executions[0]?.execution).toMatchObject({
        orderId: filledId,
        orderRef: 'filled-before-restart',
      });

      const nextId = await next.ib.getNextValidOrderId();
      expect(nextId).toBeGreaterThan(Math.max(highestReserved, restingId, filledId, waitingId));

      const broker = (await (
        await fetch(`http://127.0.0.1:${control.port}/broker`)
      ).json()) as BrokerSnapshot;
      const [account] = broker.accounts;
      expect(account?.positions.find((position) => position.conId === 265598)?.position).toBe(5);
      expect(account?.cash.USD).toBeLessThan(1_000_000);
      expect(broker.orders.map((order) => [order.orderId, order.orderRef])).toEqual(
        expect.arrayContaining([
          [restingId, 'resting-before-restart'],
          [filledId, 'filled-before-restart'],
          [waitingId, 'waits-for-the-open'],
        ]),
      );

      await eventually(
        () => second.broker.snapshot().orders.find((o) => o.orderId === waitingId)?.status === 'Filled',
      );
      const msft = second.broker
        .snapshot()
        .accounts[0]?.positions.find((position) => position.conId === 272093);
      expect(msft?.position).toBe(3);
      expect(savedOrder(stateFile, waitingId)?.status).toBe('Filled');

      // The restored resting order is an order like any other: its client can cancel it.
      const owner = await connectClient(second.port, { clientId: 11 });
      owner.ib.cancelOrder(restingId);
      await eventually(() => savedOrder(stateFile, restingId)?.status === 'Cancelled');
      expect((await owner.ib.getAllOpenOrders()).some((order) => order.orderId === restingId)).toBe(false);
      expect(decodeErrors([...next.errors, ...owner.errors])).toEqual([]);
    } finally {
      await control.close();
    }
    expect(readdirSync(directory).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('writes a whole, parseable file before every acknowledgement', async () => {
    const stateFile = join(directory, 'every-ack.json');
    const simulator = await startSimulator(stateFile);
    const client = await connectClient(simulator.port);
    const watch = new OrderWatch(client.ib);
    const bid = simulator.market.quote(265598).bid;
    for (let i = 0; i < 8; i++) {
      const orderId = await client.ib.placeNewOrder(AAPL, limitBuy(bid * (0.7 + i / 100), 1, `ack-${i}`));
      await watch.status(orderId, OrderStatus.Submitted);
      expect(savedOrder(stateFile, orderId)?.ticket.orderRef).toBe(`ack-${i}`);
    }
    client.ib.cancelAllOrders();
    watch.stop();
    expect(decodeErrors(client.errors)).toEqual([]);
  });

  it('a corrupt file is set aside and the simulator starts empty', async () => {
    const stateFile = join(directory, 'corrupt.json');
    writeFileSync(stateFile, '{"version":1,"book":{"orders":[{"tick');
    const simulator = await startSimulator(stateFile);
    expect(simulator.brokerStateRestore).toMatchObject({ outcome: 'unreadable' });
    expect(simulator.broker.snapshot().orders).toEqual([]);
    expect(readFileSync(`${stateFile}.corrupt`, 'utf8')).toContain('"tick');

    const client = await connectClient(simulator.port);
    const watch = new OrderWatch(client.ib);
    const orderId = await client.ib.placeNewOrder(
      AAPL,
      limitBuy(simulator.market.quote(265598).bid * 0.8, 1, 'after-corruption'),
    );
    await watch.status(orderId, OrderStatus.Submitted);
    expect(savedOrder(stateFile, orderId)?.ticket.orderRef).toBe('after-corruption');
    watch.stop();
  });

  it('a file of another shape counts as corrupt too', async () => {
    const stateFile = join(directory, 'wrong-shape.json');
    writeFileSync(stateFile, JSON.stringify({ version: 1, book: { orders: 'none' }, ledger: {} }));
    const simulator = await startSimulator(stateFile);
    expect(simulator.brokerStateRestore).toMatchObject({ outcome: 'unreadable' });
    expect(simulator.broker.snapshot().orders).toEqual([]);
  });
});

/** Polls until `check` holds. */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('Timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
