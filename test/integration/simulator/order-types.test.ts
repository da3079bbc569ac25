import {
  OrderAction,
  OrderStatus,
  OrderType,
  SecType,
  TimeInForce,
  type Contract,
  type IBApiNextError,
  type OpenOrder,
  type Order,
} from '@stoqey/ib';
import { filter, firstValueFrom, map, timeout, type Subscription } from 'rxjs';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU1234567';
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
/** 15:55 in New York: inside the last 10 minutes before the close, after the MOC/LOC cutoff. */
const AFTER_CUTOFF = Date.parse('2025-06-11T19:55:00Z');
/** 16:30 in New York: the regular session has closed. */
const AFTER_CLOSE = Date.parse('2025-06-11T20:30:00Z');
const AAPL: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};

async function eventually<T>(check: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function errorFor(errors: IBApiNextError[], reqId: number, code: number): Promise<IBApiNextError> {
  return eventually(() => errors.find((error) => error.reqId === reqId && Number(error.code) === code));
}

const round = (price: number) => Math.round(price * 100) / 100;

/** IB's UTC form of a GTD date-time. */
function ibUtc(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19)}`;
}

describe('simulated broker: order types, GTD, OCA and market rules', () => {
  let simulator: IbGatewaySimulator;
  let port: number;
  let client: TestClient;
  let keepAlive: Subscription;

  const quote = () => simulator.market.quote(265598);
  const place = async (order: Order): Promise<number> =>
    client.ib.placeNewOrder(AAPL, { totalQuantity: 10, transmit: true, ...order });
  const until = async (orderId: number, predicate: (order: OpenOrder) => boolean): Promise<OpenOrder> =>
    firstValueFrom(
      client.ib.getAutoOpenOrders(false).pipe(
        map((update) => update.all.find((order) => order.orderId === orderId)),
        filter((order): order is OpenOrder => order !== undefined && predicate(order)),
        timeout(5000),
      ),
    );
  const status = async (orderId: number, wanted: OrderStatus) =>
    until(orderId, (order) => order.orderState.status === wanted);
  const bookOf = (orderId: number) =>
    simulator.broker.snapshot().openOrders.find((order) => order.orderId === orderId);
  const bookState = () => {
    const snapshot = simulator.broker.snapshot();
    return { openOrders: snapshot.openOrders, executions: snapshot.executions };
  };

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [ACCOUNT], nextOrderId: 1000 });
    recordWire(simulator);
    port = await simulator.start();
  });

  beforeEach(async () => {
    simulator.setClock(MARKET_OPEN);
    client = await connectClient(port);
    keepAlive = client.ib.getAutoOpenOrders(false).subscribe();
    await firstValueFrom(client.ib.getAutoOpenOrders(false));
  });

  afterEach(() => {
    expect(decodeErrors(client.errors)).toEqual([]);
    client.ib.cancelAllOrders();
    keepAlive.unsubscribe();
    disconnectAllClients();
  });

  afterAll(async () => simulator.stop());

  it('answers REQ_MARKET_RULE for the rule ids its contract details list', async () => {
    const [details] = await client.ib.getContractDetails(AAPL);
    expect(details?.marketRuleIds?.split(',')).toContain('26');
    expect(await client.ib.getMarketRule(26)).toEqual([
      { lowEdge: 0, increment: 0.0001 },
      { lowEdge: 1, increment: 0.01 },
    ]);
    const [fx] = await client.ib.getContractDetails({
      symbol: 'EUR',
      secType: SecType.CASH,
      exchange: 'IDEALPRO',
      currency: 'USD',
    });
    expect(await client.ib.getMarketRule(Number(fx?.marketRuleIds))).toEqual([
      { lowEdge: 0, increment: 0.00005 },
    ]);
  });

  it('refuses a price off the tick size with 110 and keeps nothing', async () => {
    const before = bookState();
    const orderId = await place({
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: round(quote().bid * 0.8) + 0.005,
    });
    expect((await errorFor(client.errors, orderId, 110)).message).toBe(
      'The price does not conform to the minimum price variation for this contract.',
    );
    expect(bookState()).toEqual(before);
  });

  it('works MIT and LIT orders once the last price touches the trigger', async () => {
    const last = quote().last;
    // A buy MIT triggers when the price falls to its trigger: above the market it is touched at once.
    const touched = await place({
      action: OrderAction.BUY,
      orderType: OrderType.MIT,
      auxPrice: round(last * 1.01),
    });
    await status(touched, OrderStatus.Filled);
    const waiting = await place({
      action: OrderAction.BUY,
      orderType: OrderType.MIT,
      auxPrice: round(last * 0.9),
    });
    await status(waiting, OrderStatus.PreSubmitted);
    expect(bookOf(waiting)).toMatchObject({
      orderType: 'MIT',
      auxPrice: round(last * 0.9),
      status: 'PreSubmitted',
    });
    // A sell LIT triggers when the price rises to it; below the market it is touched and its limit works.
    const lit = await place({
      action: OrderAction.SELL,
      orderType: OrderType.LIT,
      auxPrice: round(last * 0.99),
      lmtPrice: round(last * 0.98),
    });
    await status(lit, OrderStatus.Filled);
  });

  it('pegs REL orders to the bid with their offset, and trails TRAIL LIMIT orders', async () => {
    const { bid, ask } = quote();
    const pegged = await place({ action: OrderAction.BUY, orderType: OrderType.REL, auxPrice: 0.01 });
    await status(pegged, OrderStatus.Submitted);
    expect(bookOf(pegged)).toMatchObject({ orderType: 'REL', auxPrice: 0.01 });
    // An offset wider than the spread crosses it: the order fills.
    const crossing = await place({
      action: OrderAction.BUY,
      orderType: OrderType.REL,
      auxPrice: round(ask - bid + 0.05),
    });
    await status(crossing, OrderStatus.Filled);

    const trailing = await place({
      action: OrderAction.SELL,
      orderType: OrderType.TRAIL_LIMIT,
      auxPrice: round(quote().last * 0.1),
      lmtPriceOffset: 0.05,
    });
    const working = await until(trailing, (order) => (order.order.trailStopPrice ?? 0) > 0);
    expect(working.orderState.status).toBe(OrderStatus.PreSubmitted);
    expect(bookOf(trailing)).toMatchObject({ orderType: 'TRAIL LIMIT', lmtPriceOffset: 0.05 });
  });

  it('expires a GTD order at its time and refuses one whose time has passed', async () => {
    const goodTillDate = ibUtc(MARKET_OPEN + 60_000);
    const orderId = await place({
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: round(quote().bid * 0.8),
      tif: TimeInForce.GTD,
      goodTillDate,
    });
    await status(orderId, OrderStatus.Submitted);
    expect(bookOf(orderId)).toMatchObject({ tif: 'GTD', goodTillDate });
    simulator.setClock(MARKET_OPEN + 120_000);
    await status(orderId, OrderStatus.Cancelled);
    await errorFor(client.errors, orderId, 202);

    const before = bookState();
    const late = await place({
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: round(quote().bid * 0.8),
      tif: TimeInForce.GTD,
      goodTillDate: ibUtc(MARKET_OPEN),
    });
    expect((await errorFor(client.errors, late, 201)).message).toBe(
      'Order rejected - reason:The Good Till Date is in the past.',
    );
    expect(bookState()).toEqual(before);
  });

  it('fills MOC at the close and refuses MOC after the cutoff', async () => {
    const orderId = await place({ action: OrderAction.BUY, orderType: OrderType.MOC });
    await status(orderId, OrderStatus.Submitted);
    expect(bookOf(orderId)).toMatchObject({ orderType: 'MOC', status: 'Submitted' });
    simulator.setClock(AFTER_CLOSE);
    const filled = await status(orderId, OrderStatus.Filled);
    expect(filled.orderStatus?.avgFillPrice).toBeGreaterThan(0);

    simulator.setClock(AFTER_CUTOFF);
    const before = bookState();
    const late = await place({ action: OrderAction.BUY, orderType: OrderType.MOC });
    await errorFor(client.errors, late, 201);
    expect(bookState()).toEqual(before);
  });

  it('cancels the other orders of an OCA group when one fills', async () => {
    const group = `oca-${Date.now()}`;
    const resting = await place({
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: round(quote().bid * 0.8),
      ocaGroup: group,
      ocaType: 1,
    });
    await status(resting, OrderStatus.Submitted);
    expect(bookOf(resting)).toMatchObject({ ocaGroup: group, ocaType: 1 });
    const marketable = await place({
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: round(quote().ask * 1.02),
      ocaGroup: group,
      ocaType: 1,
    });
    await status(marketable, OrderStatus.Filled);
    await status(resting, OrderStatus.Cancelled);
  });
});
