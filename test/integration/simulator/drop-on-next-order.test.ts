import { EventName, IBApi, OrderAction, OrderType, SecType, type Contract, type Order } from '@stoqey/ib';
import type { BrokerSnapshot } from '../../../src/simulator/broker/broker-snapshot';
import { startControlServer, type ControlServer } from '../../../src/simulator/control/control-http-server';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU1234567';
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
const AAPL: Contract = { symbol: 'AAPL', secType: SecType.STK, exchange: 'SMART', currency: 'USD' };

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw IBApi connection that records everything it hears about orders, and whether it was dropped. */
class Witness {
  readonly orderMessages: number[] = [];
  readonly disconnected: Promise<void>;
  isConnected = true;

  private constructor(readonly api: IBApi) {
    api.on(EventName.openOrder, (orderId: number) => this.orderMessages.push(orderId));
    api.on(EventName.orderStatus, (orderId: number) => this.orderMessages.push(orderId));
    this.disconnected = new Promise((resolve) =>
      api.once(EventName.disconnected, () => {
        this.isConnected = false;
        resolve();
      }),
    );
  }

  static async connect(port: number, clientId: number): Promise<Witness> {
    const api = new IBApi({ host: '127.0.0.1', port });
    const witness = new Witness(api);
    await new Promise<void>((resolve) => {
      api.once(EventName.nextValidId, () => resolve());
      api.connect(clientId);
    });
    return witness;
  }

  async nextOrderId(): Promise<number> {
    return new Promise((resolve) => {
      this.api.once(EventName.nextValidId, resolve);
      this.api.reqIds();
    });
  }

  disconnect(): void {
    this.api.disconnect();
  }
}

describe('control surface: drop every connection on the next order', () => {
  let simulator: IbGatewaySimulator;
  let control: ControlServer;
  let port: number;
  const witnesses: Witness[] = [];

  const url = (path: string) => `http://127.0.0.1:${control.port}${path}`;
  async function arm(body: unknown): Promise<Response> {
    return fetch(url('/connections/drop-on-next-order'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }
  async function armedMode(): Promise<unknown> {
    const state = (await (await fetch(url('/state'))).json()) as Record<string, unknown>;
    return state.dropConnectionsOnNextOrder;
  }
  async function brokerOrders(): Promise<BrokerSnapshot['orders']> {
    return ((await (await fetch(url('/broker'))).json()) as BrokerSnapshot).orders;
  }
  const resting = (orderRef: string): Order => ({
    action: OrderAction.BUY,
    orderType: OrderType.LMT,
    lmtPrice: Math.round(simulator.market.quote(265598).bid * 80) / 100,
    totalQuantity: 5,
    tif: 'GTC',
    account: ACCOUNT,
    orderRef,
    transmit: true,
  });
  async function witness(clientId: number): Promise<Witness> {
    const connected = await Witness.connect(port, clientId);
    witnesses.push(connected);
    return connected;
  }

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [ACCOUNT] });
    recordWire(simulator);
    simulator.setClock(MARKET_OPEN);
    port = await simulator.start();
    control = await startControlServer(simulator, { host: '127.0.0.1', port: 0 });
  });

  afterEach(() => {
    for (const connected of witnesses.splice(0)) connected.disconnect();
    disconnectAllClients();
    simulator.dropConnectionsOnNextOrder(undefined);
  });

  afterAll(async () => {
    await control.close();
    await simulator.stop();
  });

  it('refuses anything but before-accepting or after-accepting with 400', async () => {
    for (const body of [{}, { when: 'sometime' }, { when: 1 }]) {
      const response = await arm(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toContain('"when" must be one of');
    }
    expect(await armedMode()).toBeNull();
  });

  it('before-accepting: every connection drops and the order never reaches the book', async () => {
    expect((await arm({ when: 'before-accepting' })).status).toBe(200);
    expect(await armedMode()).toBe('before-accepting');
    const placer = await witness(41);
    const bystander = await witness(42);
    const orderId = await placer.nextOrderId();
    placer.api.placeOrder(orderId, AAPL, resting('lost-before-accepting'));
    await Promise.all([placer.disconnected, bystander.disconnected]);

    expect(placer.orderMessages).toEqual([]);
    expect((await brokerOrders()).some((order) => order.orderRef === 'lost-before-accepting')).toBe(false);
    expect(await armedMode()).toBeNull();
    // One-shot: the next connection places orders as usual.
    const next = await connectClient(port, { clientId: 41 });
    const placedId = await next.ib.placeNewOrder(AAPL, resting('after-the-fault'));
    for (let waited = 0; !(await brokerOrders()).some((order) => order.orderId === placedId); waited += 20) {
      if (waited > 5000) throw new Error(`Order ${placedId} never reached the book`);
      await sleep(20);
    }
    expect((await brokerOrders()).find((order) => order.orderId === placedId)?.orderRef).toBe(
      'after-the-fault',
    );
    next.ib.cancelOrder(placedId);
  });

  it('after-accepting: every connection drops without an acknowledgement, and the order is in the book', async () => {
    expect((await arm({ when: 'after-accepting' })).status).toBe(200);
    expect(await armedMode()).toBe('after-accepting');
    const placer = await witness(43);
    const orderId = await placer.nextOrderId();
    placer.api.placeOrder(orderId, AAPL, resting('acknowledgement-lost'));
    await placer.disconnected;
    await sleep(100); // anything sent after the drop would have arrived by now

    expect(placer.orderMessages).toEqual([]);
    const accepted = (await brokerOrders()).find((order) => order.orderId === orderId);
    expect(accepted).toMatchObject({
      orderRef: 'acknowledgement-lost',
      clientId: 43,
      status: 'Submitted',
      totalQuantity: 5,
      filled: 0,
      remaining: 5,
      parentId: 0,
    });
    expect(await armedMode()).toBeNull();

    const next = await connectClient(port, { clientId: 43 });
    const open = (await next.ib.getAllOpenOrders()).find((order) => order.orderId === orderId);
    expect(open?.order.orderRef).toBe('acknowledgement-lost');
    expect(open?.order.permId).toBe(accepted?.permId);
    next.ib.cancelOrder(orderId);
    expect(decodeErrors(next.errors)).toEqual([]);
  });

  it('a what-if order does not set it off: the connection stays and the fault stays armed', async () => {
    simulator.dropConnectionsOnNextOrder('before-accepting');
    const client = await witness(44);
    const orderId = await client.nextOrderId();
    client.api.placeOrder(orderId, AAPL, { ...resting('what-if'), whatIf: true });
    for (let waited = 0; !client.orderMessages.includes(orderId) && waited < 5000; waited += 20)
      await sleep(20);
    expect(client.orderMessages).toContain(orderId);
    expect(client.isConnected).toBe(true);
    expect(await armedMode()).toBe('before-accepting');
  });
});
