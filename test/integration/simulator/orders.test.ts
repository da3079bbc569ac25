import {
  OrderAction,
  OrderType,
  SecType,
  type Contract,
  type IBApiNext,
  type IBApiNextError,
  type OpenOrder,
  type Order,
  OrderStatus,
} from '@stoqey/ib';
import { filter, firstValueFrom, map, timeout, type Subscription } from 'rxjs';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU1234567';
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
const AAPL: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};
const NVDA: Contract = { symbol: 'NVDA', secType: SecType.STK, exchange: 'SMART', currency: 'USD' };

/** Polls until `check` returns a value. */
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

/**
 * Follows this client's orders through IBApiNext's open-order stream (which keeps every order it saw,
 * filled and cancelled ones included).
 */
class OrderWatch {
  private readonly keepAlive: Subscription;

  private constructor(private readonly ib: IBApiNext) {
    this.keepAlive = ib.getAutoOpenOrders(false).subscribe();
  }

  static async start(ib: IBApiNext): Promise<OrderWatch> {
    const watch = new OrderWatch(ib);
    await firstValueFrom(ib.getAutoOpenOrders(false));
    return watch;
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

describe('simulated broker: orders', () => {
  let simulator: IbGatewaySimulator;
  let port: number;
  let client: TestClient;
  let watch: OrderWatch;

  const quote = (conId = 265598) => simulator.market.quote(conId);
  const place = async (contract: Contract, order: Order): Promise<number> =>
    client.ib.placeNewOrder(contract, order);

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [ACCOUNT], nextOrderId: 1000 });
    recordWire(simulator);
    simulator.setClock(MARKET_OPEN);
    port = await simulator.start();
  });

  beforeEach(async () => {
    client = await connectClient(port);
    watch = await OrderWatch.start(client.ib);
  });

  afterEach(() => {
    expect(decodeErrors(client.errors)).toEqual([]);
    watch.stop();
    disconnectAllClients();
  });

  afterAll(async () => simulator.stop());

  it('hands out a new order id on every request, so concurrent placeNewOrder calls never collide', async () => {
    const ids = await Promise.all([1, 2, 3, 4].map(async () => client.ib.getNextValidOrderId()));
    expect(new Set(ids).size).toBe(4);
    const placed = await Promise.all([1, 2, 3].map(async () => place(AAPL, restingBuy(quote().bid * 0.8))));
    expect(new Set(placed).size).toBe(3);
    const orders = await Promise.all(placed.map(async (id) => watch.status(id, OrderStatus.Submitted)));
    expect(new Set(orders.map((order) => order.order.permId)).size).toBe(3);
    client.ib.cancelAllOrders();
  });

  it('rests a limit order away from the market, keeps its permId when modified and cancels it with 202', async () => {
    const away = Math.round(quote().bid * 0.9 * 100) / 100;
    const orderId = await place(AAPL, restingBuy(away));
    const working = await watch.status(orderId, OrderStatus.Submitted);
    expect(working.order.permId).toBeGreaterThan(0);
    expect(working.order.clientId).toBeGreaterThan(0);
    expect(working.orderStatus).toMatchObject({ filled: 0, remaining: 10 });

    const listed = (await client.ib.getAllOpenOrders()).find((order) => order.orderId === orderId);
    expect(listed?.order).toMatchObject({ lmtPrice: away, totalQuantity: 10, permId: working.order.permId });

    const lower = Math.round((away - 1) * 100) / 100;
    client.ib.modifyOrder(orderId, AAPL, { ...restingBuy(lower), totalQuantity: 20 });
    const modified = await watch.until(orderId, (order) => order.order.lmtPrice === lower);
    expect(modified.order.permId).toBe(working.order.permId);
    expect(modified.order.totalQuantity).toBe(20);

    client.ib.cancelOrder(orderId);
    await watch.status(orderId, OrderStatus.Cancelled);
    await errorFor(client.errors, orderId, 202);
    expect((await client.ib.getAllOpenOrders()).some((order) => order.orderId === orderId)).toBe(false);
    // Cancelling it again: it is gone.
    client.ib.cancelOrder(orderId);
    expect((await errorFor(client.errors, orderId, 10147)).message).toBe(
      `OrderId ${orderId} that needs to be cancelled is not found.`,
    );
  });

  it('cancels every working order on a global cancel', async () => {
    const first = await place(AAPL, restingBuy(quote().bid * 0.8));
    const second = await place(AAPL, { ...restingBuy(quote().ask * 1.2), action: OrderAction.SELL });
    await Promise.all([
      watch.status(first, OrderStatus.Submitted),
      watch.status(second, OrderStatus.Submitted),
    ]);
    client.ib.cancelAllOrders();
    await Promise.all([
      watch.status(first, OrderStatus.Cancelled),
      watch.status(second, OrderStatus.Cancelled),
    ]);
    await errorFor(client.errors, first, 202);
    await errorFor(client.errors, second, 202);
    const open = await client.ib.getAllOpenOrders();
    expect(open.filter((order) => [first, second].includes(order.orderId))).toEqual([]);
  });

  it('fills a marketable limit order at the better of its limit and the quote', async () => {
    const limit = Math.round(quote().ask * 1.02 * 100) / 100;
    const orderId = await place(AAPL, { ...restingBuy(limit), totalQuantity: 5 });
    const filled = await watch.status(orderId, OrderStatus.Filled);
    expect(filled.orderStatus?.avgFillPrice).toBeLessThan(limit);
    const executions = await client.ib.getExecutionDetails({ symbol: 'AAPL' });
    const fill = executions.find((detail) => detail.execution.orderId === orderId);
    expect(fill?.execution).toMatchObject({
      side: 'BOT',
      shares: 5,
      price: filled.orderStatus?.avgFillPrice,
    });
  });

  it('triggers a stop once the price crosses it and leaves a distant one waiting', async () => {
    const last = quote().last;
    // A buy stop below the last price is already crossed: it becomes a market order at once.
    const crossed = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.STP,
      auxPrice: round(last * 0.95),
      totalQuantity: 3,
      transmit: true,
    });
    const distant = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.STP,
      auxPrice: round(last * 1.5),
      totalQuantity: 3,
      transmit: true,
    });
    const filled = await watch.status(crossed, OrderStatus.Filled);
    expect(filled.orderStatus?.filled).toBe(3);
    // IB simulates stops: an untriggered one shows PreSubmitted.
    await watch.status(distant, OrderStatus.PreSubmitted);
    await sleep(500);
    expect(
      (await client.ib.getAllOpenOrders()).find((order) => order.orderId === distant)?.orderState.status,
    ).toBe(OrderStatus.PreSubmitted);
    client.ib.cancelOrder(distant);
    await watch.status(distant, OrderStatus.Cancelled);
  });

  it('works a stop-limit as a limit order once triggered', async () => {
    const { last, bid } = quote();
    // Triggered at once, but its limit is far below the ask: it rests as a working limit order.
    const orderId = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.STP_LMT,
      auxPrice: round(last * 0.95),
      lmtPrice: round(bid * 0.9),
      totalQuantity: 2,
      transmit: true,
    });
    const working = await watch.status(orderId, OrderStatus.Submitted);
    expect(working.orderStatus?.filled).toBe(0);
    client.ib.cancelOrder(orderId);
    await watch.status(orderId, OrderStatus.Cancelled);
  });

  it('sells on a trailing stop that is already crossed and keeps a distant trailing stop working', async () => {
    const last = quote().last;
    const crossed = await place(AAPL, {
      action: OrderAction.SELL,
      orderType: OrderType.TRAIL,
      auxPrice: 1,
      trailStopPrice: round(last * 1.05),
      totalQuantity: 2,
      transmit: true,
    });
    const distant = await place(AAPL, {
      action: OrderAction.SELL,
      orderType: OrderType.TRAIL,
      trailingPercent: 50,
      totalQuantity: 2,
      transmit: true,
    });
    const sold = await watch.status(crossed, OrderStatus.Filled);
    expect(sold.orderStatus?.avgFillPrice).toBeGreaterThan(0);
    const resting = await watch.until(distant, (order) => order.order.trailStopPrice !== undefined);
    // The stop sits half the price below the market and only ever moves up.
    expect(resting.order.trailStopPrice).toBeCloseTo(last * 0.5, 0);
    expect(resting.orderState.status).toBe(OrderStatus.PreSubmitted);
    const stops: number[] = [];
    const observer = client.ib
      .getAutoOpenOrders(false)
      .pipe(map((update) => update.all.find((order) => order.orderId === distant)?.order.trailStopPrice))
      .subscribe((stop) => stop !== undefined && stops.push(stop));
    await sleep(1500);
    observer.unsubscribe();
    expect(stops).toEqual([...stops].sort((a, b) => a - b));
    client.ib.cancelOrder(distant);
    await watch.status(distant, OrderStatus.Cancelled);
  });

  it('holds a bracket until a transmitting child arrives, works the children after the parent fills, and cancels the other child', async () => {
    const { bid, ask } = quote();
    const parentId = await client.ib.getNextValidOrderId();
    client.ib.placeOrder(parentId, AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 10,
      transmit: false,
    });
    // Marketable, but not transmitted: it waits and does not fill.
    await watch.status(parentId, OrderStatus.PreSubmitted);
    await sleep(600);
    expect(
      (await client.ib.getExecutionDetails({})).some((detail) => detail.execution.orderId === parentId),
    ).toBe(false);

    const takeProfitId = parentId + 1;
    const stopLossId = parentId + 2;
    const takeProfit: Order = {
      action: OrderAction.SELL,
      orderType: OrderType.LMT,
      lmtPrice: round(ask * 1.3),
      totalQuantity: 10,
      parentId,
      transmit: false,
    };
    client.ib.placeOrder(takeProfitId, AAPL, takeProfit);
    await watch.status(takeProfitId, OrderStatus.PreSubmitted);
    client.ib.placeOrder(stopLossId, AAPL, {
      action: OrderAction.SELL,
      orderType: OrderType.STP,
      auxPrice: round(bid * 0.7),
      totalQuantity: 10,
      parentId,
      transmit: true,
    });
    await watch.status(parentId, OrderStatus.Filled);
    const workingTakeProfit = await watch.status(takeProfitId, OrderStatus.Submitted);
    expect(workingTakeProfit.order.parentId).toBe(parentId);
    await watch.status(stopLossId, OrderStatus.PreSubmitted);

    // The take-profit becomes marketable and fills; the stop-loss is cancelled with it.
    client.ib.modifyOrder(takeProfitId, AAPL, {
      ...takeProfit,
      lmtPrice: round(quote().bid * 0.9),
      transmit: true,
    });
    await watch.status(takeProfitId, OrderStatus.Filled);
    await watch.status(stopLossId, OrderStatus.Cancelled);
    await errorFor(client.errors, stopLossId, 202);
  });

  it('keeps bracket children waiting while the parent rests', async () => {
    const parentId = await client.ib.getNextValidOrderId();
    client.ib.placeOrder(parentId, AAPL, { ...restingBuy(round(quote().bid * 0.8)), transmit: false });
    client.ib.placeOrder(parentId + 1, AAPL, {
      action: OrderAction.SELL,
      orderType: OrderType.LMT,
      lmtPrice: round(quote().bid * 0.5),
      totalQuantity: 10,
      parentId,
      transmit: true,
    });
    await watch.status(parentId, OrderStatus.Submitted);
    // Marketable on its own, but its parent has not filled.
    await watch.status(parentId + 1, OrderStatus.PreSubmitted);
    await sleep(500);
    const open = await client.ib.getAllOpenOrders();
    expect(open.find((order) => order.orderId === parentId + 1)?.orderState.status).toBe(
      OrderStatus.PreSubmitted,
    );
    // Cancelling the parent takes the child with it.
    client.ib.cancelOrder(parentId);
    await watch.status(parentId + 1, OrderStatus.Cancelled);
  });

  it('fills an order larger than the displayed size in several executions', async () => {
    const orderId = await place(NVDA, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 9000,
      transmit: true,
    });
    const partials: number[] = [];
    const observer = client.ib
      .getAutoOpenOrders(false)
      .pipe(map((update) => update.all.find((order) => order.orderId === orderId)?.orderStatus))
      .subscribe((status) => {
        if (status?.status === OrderStatus.Submitted && (status.filled ?? 0) > 0)
          partials.push(status.filled ?? 0);
      });
    const filled = await watch.status(orderId, OrderStatus.Filled, 10_000);
    observer.unsubscribe();
    expect(filled.orderStatus).toMatchObject({ filled: 9000, remaining: 0 });
    expect(partials.length).toBeGreaterThan(0);
    // reqId -1: live fills IBApiNext adds to any pending request; the answer itself carries our reqId.
    const executions = (await client.ib.getExecutionDetails({ symbol: 'NVDA' })).filter(
      (detail) => detail.execution.orderId === orderId && detail.reqId !== -1,
    );
    expect(executions.length).toBeGreaterThanOrEqual(3);
    const shares = executions.map((detail) => detail.execution.shares ?? 0);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(9000);
    const cumulative = executions.map((detail) => detail.execution.cumQty ?? 0);
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));
    expect(cumulative[cumulative.length - 1]).toBe(9000);
    const value = executions.reduce(
      (sum, detail) => sum + (detail.execution.shares ?? 0) * (detail.execution.price ?? 0),
      0,
    );
    expect(filled.orderStatus?.avgFillPrice).toBeCloseTo(value / 9000, 6);
    // Closing it keeps the other tests' account flat.
    const closeId = await place(NVDA, {
      action: OrderAction.SELL,
      orderType: OrderType.MKT,
      totalQuantity: 9000,
      transmit: true,
    });
    await watch.status(closeId, OrderStatus.Filled, 10_000);
  });

  it('answers a what-if order with margin and commission and keeps no order', async () => {
    const orderId = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 100,
      whatIf: true,
      transmit: true,
    });
    const preview = await watch.until(orderId, (order) => order.order.whatIf === true);
    const state = preview.orderState;
    const ask = quote().ask;
    expect(state.status).toBe(OrderStatus.PreSubmitted);
    expect(state.initMarginChange).toBeCloseTo(0.5 * 100 * ask, -2);
    expect(state.maintMarginChange).toBeCloseTo(0.25 * 100 * ask, -2);
    expect(state.initMarginAfter).toBeCloseTo(
      (state.initMarginBefore ?? 0) + (state.initMarginChange ?? 0),
      2,
    );
    expect(state.equityWithLoanBefore).toBeGreaterThan(0);
    expect(state.commission).toBe(1); // 100 shares at $0.005, at least $1
    expect(state.commissionCurrency).toBe('USD');
    await sleep(400);
    expect((await client.ib.getAllOpenOrders()).some((order) => order.orderId === orderId)).toBe(false);
    expect(
      (await client.ib.getExecutionDetails({})).some((detail) => detail.execution.orderId === orderId),
    ).toBe(false);
  });

  it('rejects invalid orders with IB error codes and changes nothing', async () => {
    const before = simulator.broker.snapshot();
    const zero = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 0,
      transmit: true,
    });
    const noLimit = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      totalQuantity: 1,
      transmit: true,
    });
    const noStop = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.STP,
      totalQuantity: 1,
      transmit: true,
    });
    const noTrail = await place(AAPL, {
      action: OrderAction.SELL,
      orderType: OrderType.TRAIL,
      totalQuantity: 1,
      transmit: true,
    });
    const unknownContract = await place(
      { symbol: 'NOSUCHTHING', secType: SecType.STK, exchange: 'SMART', currency: 'USD' },
      { action: OrderAction.BUY, orderType: OrderType.MKT, totalQuantity: 1, transmit: true },
    );
    const unknownType = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: 'FOO' as OrderType,
      totalQuantity: 1,
      transmit: true,
    });
    const unknownAccount = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 1,
      account: 'DU0000000',
      transmit: true,
    });
    expect((await errorFor(client.errors, zero, 434)).message).toBe('The order size cannot be zero.');
    await errorFor(client.errors, noLimit, 321);
    await errorFor(client.errors, noStop, 403);
    await errorFor(client.errors, noTrail, 321);
    expect((await errorFor(client.errors, unknownContract, 200)).message).toBe(
      'No security definition has been found for the request',
    );
    await errorFor(client.errors, unknownType, 387);
    expect((await errorFor(client.errors, unknownAccount, 321)).message).toContain('DU0000000');
    await sleep(300);
    const after = simulator.broker.snapshot();
    expect(after.openOrders).toEqual(before.openOrders);
    expect(after.executions).toBe(before.executions);
    expect(after.accounts[0]?.positions).toEqual(before.accounts[0]?.positions);
  });

  it('refuses a duplicate order id with 103', async () => {
    const orderId = await place(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 1,
      transmit: true,
    });
    await watch.status(orderId, OrderStatus.Filled);
    // The id of a filled order is spent.
    client.ib.placeOrder(orderId, AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 1,
      transmit: true,
    });
    expect((await errorFor(client.errors, orderId, 103)).message).toBe('Duplicate order id');
    // An id below every id ever handed out was never valid.
    client.ib.placeOrder(5, AAPL, restingBuy(quote().bid * 0.8));
    await errorFor(client.errors, 5, 103);
    await sleep(300);
    expect((await client.ib.getAllOpenOrders()).some((order) => order.orderId === 5)).toBe(false);
    const closeId = await place(AAPL, {
      action: OrderAction.SELL,
      orderType: OrderType.MKT,
      totalQuantity: 1,
      transmit: true,
    });
    await watch.status(closeId, OrderStatus.Filled);
  });

  it('lets only the placing client cancel an order; client 0 bound with autoBind sees every order', async () => {
    const master = await connectClient(port, { clientId: 0 });
    const seen = master.ib.getAutoOpenOrders(true).subscribe();
    await firstValueFrom(master.ib.getAutoOpenOrders(true));
    const orderId = await place(AAPL, restingBuy(quote().bid * 0.8));
    const mirrored = await firstValueFrom(
      master.ib.getAutoOpenOrders(true).pipe(
        map((update) => update.all.find((order) => order.orderId === orderId)),
        filter((order) => order?.orderState.status === OrderStatus.Submitted),
        timeout(5000),
      ),
    );
    expect(mirrored?.order.clientId).not.toBe(0);
    master.ib.cancelOrder(orderId);
    await errorFor(master.errors, orderId, 10147);
    master.ib.cancelAllOrders();
    await watch.status(orderId, OrderStatus.Cancelled);
    seen.unsubscribe();
    expect(decodeErrors(master.errors)).toEqual([]);
  });

  it('reports the placing client only its own orders, and all orders on request', async () => {
    const other = await connectClient(port);
    const mine = await place(AAPL, restingBuy(quote().bid * 0.8));
    const theirs = await other.ib.placeNewOrder(AAPL, restingBuy(quote().bid * 0.7));
    await watch.status(mine, OrderStatus.Submitted);
    const own = await firstValueFrom(
      client.ib.getOpenOrders().pipe(filter((update) => update.all.length > 0)),
    );
    expect(own.all.map((order) => order.orderId)).toContain(mine);
    expect(own.all.map((order) => order.orderId)).not.toContain(theirs);
    const all = (await client.ib.getAllOpenOrders()).map((order) => order.orderId);
    expect(all).toEqual(expect.arrayContaining([mine, theirs]));
    client.ib.cancelAllOrders();
    await watch.status(mine, OrderStatus.Cancelled);
    expect(decodeErrors(other.errors)).toEqual([]);
  });

  it('fills a stock order before the open only when it allows trading outside regular hours', async () => {
    // 08:00 in New York: pre-market.
    simulator.setClock(Date.parse('2025-06-11T12:00:00Z'));
    try {
      const regular = await place(AAPL, {
        action: OrderAction.BUY,
        orderType: OrderType.MKT,
        totalQuantity: 1,
        transmit: true,
      });
      const extended = await place(AAPL, {
        action: OrderAction.BUY,
        orderType: OrderType.MKT,
        totalQuantity: 1,
        outsideRth: true,
        transmit: true,
      });
      await watch.status(extended, OrderStatus.Filled);
      await watch.status(regular, OrderStatus.PreSubmitted);
      await sleep(400);
      expect(
        (await client.ib.getAllOpenOrders()).find((order) => order.orderId === regular)?.orderState.status,
      ).toBe(OrderStatus.PreSubmitted);
      client.ib.cancelOrder(regular);
      await watch.status(regular, OrderStatus.Cancelled);
      const close = await place(AAPL, {
        action: OrderAction.SELL,
        orderType: OrderType.MKT,
        totalQuantity: 1,
        outsideRth: true,
        transmit: true,
      });
      await watch.status(close, OrderStatus.Filled);
    } finally {
      simulator.setClock(MARKET_OPEN + 60_000);
    }
  });

  it('rests orders while the market is closed and fills them when it opens', async () => {
    // Saturday: nothing trades.
    simulator.setClock(Date.parse('2025-06-14T15:00:00Z'));
    try {
      const orderId = await place(AAPL, {
        action: OrderAction.BUY,
        orderType: OrderType.MKT,
        totalQuantity: 1,
        transmit: true,
      });
      await watch.status(orderId, OrderStatus.PreSubmitted);
      await sleep(500);
      expect(
        (await client.ib.getExecutionDetails({})).some((detail) => detail.execution.orderId === orderId),
      ).toBe(false);
      simulator.setClock(MARKET_OPEN + 60_000);
      await watch.status(orderId, OrderStatus.Filled);
    } finally {
      simulator.setClock(MARKET_OPEN + 60_000);
    }
  });
});

function restingBuy(limit: number): Order {
  return {
    action: OrderAction.BUY,
    orderType: OrderType.LMT,
    lmtPrice: round(limit),
    totalQuantity: 10,
    transmit: true,
  };
}

function round(price: number): number {
  return Math.round(price * 100) / 100;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
