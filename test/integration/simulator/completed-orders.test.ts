import {
  EventName,
  IBApi,
  OrderAction,
  OrderStatus,
  OrderType,
  SecType,
  type Contract,
  type Order,
  type OrderState,
} from '@stoqey/ib';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU1234567';
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
const AAPL: Contract = { symbol: 'AAPL', secType: SecType.STK, exchange: 'SMART', currency: 'USD' };

const cents = (price: number) => Math.round(price * 100) / 100;

interface CompletedOrder {
  contract: Contract;
  order: Order;
  orderState: OrderState;
}

/** @stoqey/ib's raw IBApi, with just enough bookkeeping to place orders and wait for their statuses. */
class RawClient {
  readonly statuses = new Map<number, OrderStatus>();
  readonly permIds = new Map<number, number>();
  readonly errors: { code: number; reqId: number; message: string }[] = [];

  private constructor(readonly api: IBApi) {
    api.on(EventName.orderStatus, (orderId: number, status: OrderStatus, ...rest: unknown[]) => {
      this.statuses.set(orderId, status);
      this.permIds.set(orderId, rest[3] as number);
    });
    api.on(EventName.error, (error: Error, code: number, reqId: number) =>
      this.errors.push({ code, reqId, message: error.message }),
    );
  }

  static async connect(port: number, clientId: number): Promise<RawClient> {
    const api = new IBApi({ host: '127.0.0.1', port });
    const client = new RawClient(api);
    await new Promise<void>((resolve) => {
      api.once(EventName.nextValidId, () => resolve());
      api.connect(clientId);
    });
    return client;
  }

  /** REQ_IDS: order ids are the gateway's, shared by every client. */
  async nextOrderId(): Promise<number> {
    return new Promise((resolve) => {
      this.api.once(EventName.nextValidId, resolve);
      this.api.reqIds();
    });
  }

  async place(order: Order, contract: Contract = AAPL): Promise<number> {
    const orderId = await this.nextOrderId();
    this.api.placeOrder(orderId, contract, { account: ACCOUNT, transmit: true, ...order });
    await this.status(orderId, () => true);
    return orderId;
  }

  async status(orderId: number, accept: (status: OrderStatus) => boolean, ms = 5000): Promise<OrderStatus> {
    const deadline = Date.now() + ms;
    for (;;) {
      const status = this.statuses.get(orderId);
      if (status !== undefined && accept(status)) return status;
      if (Date.now() > deadline) throw new Error(`Order ${orderId} is still ${status ?? 'unknown'}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** reqCompletedOrders: every COMPLETED_ORDER until COMPLETED_ORDERS_END. */
  async completedOrders(apiOnly: boolean): Promise<CompletedOrder[]> {
    const received: CompletedOrder[] = [];
    const collect = (contract: Contract, order: Order, orderState: OrderState) =>
      received.push({ contract, order, orderState });
    this.api.on(EventName.completedOrder, collect);
    try {
      await new Promise<void>((resolve) => {
        this.api.once(EventName.completedOrdersEnd, () => resolve());
        this.api.reqCompletedOrders(apiOnly);
      });
    } finally {
      this.api.off(EventName.completedOrder, collect);
    }
    return received;
  }

  disconnect(): void {
    this.api.disconnect();
  }
}

describe('simulated broker: reqCompletedOrders', () => {
  let simulator: IbGatewaySimulator;
  let port: number;
  /** Far below the market: the order rests. */
  let restingPrice: number;
  const clients: RawClient[] = [];

  const marketBuy = (quantity: number, orderRef: string): Order => ({
    action: OrderAction.BUY,
    orderType: OrderType.MKT,
    totalQuantity: quantity,
    orderRef,
  });
  const restingBuy = (orderRef: string): Order => ({
    action: OrderAction.BUY,
    orderType: OrderType.LMT,
    lmtPrice: restingPrice,
    totalQuantity: 7,
    tif: 'GTC',
    orderRef,
  });

  /** Places, for one client, an order that fills, one it cancels and one that stays open. */
  async function tradeAs(client: RawClient, name: string): Promise<Record<string, number>> {
    const filled = await client.place(marketBuy(4, `${name}-filled`));
    await client.status(filled, (status) => status === OrderStatus.Filled);
    const cancelled = await client.place(restingBuy(`${name}-cancelled`));
    client.api.cancelOrder(cancelled);
    await client.status(cancelled, (status) => status === OrderStatus.Cancelled);
    const open = await client.place(restingBuy(`${name}-open`));
    await client.status(open, (status) => status === OrderStatus.Submitted);
    return { filled, cancelled, open };
  }

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [ACCOUNT] });
    recordWire(simulator);
    simulator.setClock(MARKET_OPEN);
    port = await simulator.start();
    restingPrice = cents(simulator.market.quote(265598).bid * 0.8);
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await simulator.stop();
  });

  it('lists the filled and cancelled orders of every client, with orderRef and status, and no open one', async () => {
    const alice = await RawClient.connect(port, 31);
    const bob = await RawClient.connect(port, 32);
    clients.push(alice, bob);
    const aliceOrders = await tradeAs(alice, 'alice');
    const bobOrders = await tradeAs(bob, 'bob');

    const viewer = await RawClient.connect(port, 33);
    clients.push(viewer);
    const completed = await viewer.completedOrders(false);

    const byRef = new Map(completed.map((entry) => [entry.order.orderRef, entry]));
    expect([...byRef.keys()].sort()).toEqual([
      'alice-cancelled',
      'alice-filled',
      'bob-cancelled',
      'bob-filled',
    ]);
    for (const [client, orders, name] of [
      [alice, aliceOrders, 'alice'],
      [bob, bobOrders, 'bob'],
    ] as const) {
      const filled = byRef.get(`${name}-filled`);
      expect(filled?.contract).toMatchObject({
        conId: 265598,
        symbol: 'AAPL',
        secType: SecType.STK,
        currency: 'USD',
        exchange: 'SMART',
      });
      expect(filled?.order).toMatchObject({
        permId: client.permIds.get(orders.filled ?? -1),
        action: OrderAction.BUY,
        totalQuantity: 4,
        orderType: OrderType.MKT,
        account: ACCOUNT,
        filledQuantity: 4,
      });
      expect(filled?.orderState.status).toBe(OrderStatus.Filled);
      expect(filled?.orderState.completedStatus).toBe('Filled');
      expect(filled?.orderState.completedTime).toMatch(/^\d{8} \d\d:\d\d:\d\d GMT$/);

      const cancelled = byRef.get(`${name}-cancelled`);
      expect(cancelled?.order).toMatchObject({
        permId: client.permIds.get(orders.cancelled ?? -1),
        orderType: OrderType.LMT,
        lmtPrice: restingPrice,
        totalQuantity: 7,
        filledQuantity: 0,
      });
      expect(cancelled?.orderState.status).toBe(OrderStatus.Cancelled);
    }
    // IB's COMPLETED_ORDER carries neither the order id nor the client id: orders are told apart by permId.
    for (const entry of completed) {
      expect(entry.order.orderId).toBeUndefined();
      expect(entry.order.clientId).toBeUndefined();
    }
    expect(new Set(completed.map((entry) => entry.order.permId)).size).toBe(4);

    // apiOnly: every order of the simulator came through the API.
    expect((await viewer.completedOrders(true)).map((entry) => entry.order.permId).sort()).toEqual(
      completed.map((entry) => entry.order.permId).sort(),
    );
    expect([...alice.errors, ...bob.errors, ...viewer.errors].filter((error) => error.code === 505)).toEqual(
      [],
    );
  });

  it('answers with just the end message when nothing has finished', async () => {
    const empty = new IbGatewaySimulator({ accounts: [ACCOUNT] });
    recordWire(empty);
    const client = await RawClient.connect(await empty.start(), 34);
    try {
      expect(await client.completedOrders(false)).toEqual([]);
    } finally {
      client.disconnect();
      await empty.stop();
    }
  });
});
