import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService } from '../service/service-harness';
import {
  AAPL_CON_ID,
  brokerState,
  callTool,
  eventually,
  MARKET_OPEN,
  marketPrice,
  openOrder,
  positionOf,
  restClient,
  restingPrice,
} from './orders-harness';

interface OrderView {
  orderId: number;
  parentId?: number;
  status: string;
  side: string;
  quantity: number;
  orderType: string;
  limitPrice?: number;
  stopPrice?: number;
  trailingAmount?: number;
  trailingPercent?: number;
  filled: number;
  remaining: number;
  avgFillPrice?: number;
  commission?: number;
  contract: { conId?: number; symbol?: string };
}
interface Placed {
  orderId: number;
  orders: OrderView[];
  bracket?: { parentOrderId: number; takeProfitOrderId: number; stopLossOrderId: number };
  replayed: boolean;
}
interface ErrorBody {
  code: string;
  message: string;
}
interface JournalEntry {
  at: string;
  type: string;
  operation?: string;
  event?: string;
  orderId?: number;
  orderIds?: number[];
}

describe('orders end to end: REST and MCP against the simulated broker', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    service = await startTestService();
    simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(MARKET_OPEN);
    mcp = await connectMcpClient(service);
    rest = restClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const limitBuy = (overrides: Record<string, unknown> = {}) => ({
    symbol: 'AAPL',
    side: 'BUY',
    quantity: 10,
    orderType: 'LMT',
    limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
    ...overrides,
  });

  describe('preview_order', () => {
    it("returns IB's what-if margin and commission over REST and MCP, and places nothing", async () => {
      const before = brokerState(simulator);
      const overRest = await rest.post<{
        margin: Record<string, number>;
        commission: { commission: number; currency: string };
        safety: { allowed: boolean };
        contract: { conId: number };
      }>('/orders/preview', { symbol: 'AAPL', side: 'BUY', quantity: 100, orderType: 'MKT' });
      expect(overRest.status).toBe(200);
      expect(overRest.body.contract.conId).toBe(AAPL_CON_ID);
      expect(overRest.body.margin.initMarginChange).toBeGreaterThan(0);
      expect(overRest.body.margin.maintMarginChange).toBeGreaterThan(0);
      expect(overRest.body.margin.equityWithLoanBefore).toBeGreaterThan(0);
      expect(overRest.body.commission.commission).toBeGreaterThan(0);
      expect(overRest.body.commission.currency).toBe('USD');
      expect(overRest.body.safety).toEqual({ allowed: true });

      const overMcp = await callTool<{ margin: Record<string, number> }>(mcp, 'preview_order', {
        symbol: 'AAPL',
        side: 'SELL',
        quantity: 5,
        orderType: 'LMT',
        limitPrice: 150,
      });
      expect(overMcp.isError).toBe(false);
      expect(overMcp.structured.margin.initMarginChange).toBeDefined();
      const after = brokerState(simulator);
      expect(after.openOrders).toEqual(before.openOrders);
      expect(after.executions).toBe(before.executions);
      expect(after.positions).toEqual(before.positions);
    });
  });

  describe('place_order', () => {
    it('places a limit order over REST that rests at the broker with its price and quantity', async () => {
      const price = restingPrice(simulator, AAPL_CON_ID, 'BUY');
      const placed = await rest.post<Placed>('/orders', limitBuy({ limitPrice: price }));
      expect(placed.status).toBe(200);
      expect(placed.body.replayed).toBe(false);
      const [view] = placed.body.orders;
      expect(view).toMatchObject({
        orderId: placed.body.orderId,
        side: 'BUY',
        quantity: 10,
        orderType: 'LMT',
      });
      expect(view?.contract.conId).toBe(AAPL_CON_ID);
      expect(['Submitted', 'PreSubmitted']).toContain(view?.status);
      expect(openOrder(simulator, placed.body.orderId)).toMatchObject({
        conId: AAPL_CON_ID,
        action: 'BUY',
        orderType: 'LMT',
        totalQuantity: 10,
        lmtPrice: price,
        filled: 0,
      });
    });

    it('places a market order over MCP that fills, moves the position and reports the fill', async () => {
      const positionBefore = positionOf(simulator, AAPL_CON_ID);
      const executionsBefore = simulator.broker.snapshot().executions;
      const placed = await callTool<Placed>(mcp, 'place_order', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 3,
        orderType: 'MKT',
      });
      expect(placed.isError).toBe(false);
      const orderId = placed.structured.orderId;
      await eventually(() => (positionOf(simulator, AAPL_CON_ID) === positionBefore + 3 ? true : undefined));
      expect(simulator.broker.snapshot().executions).toBeGreaterThan(executionsBefore);
      expect(openOrder(simulator, orderId)).toBeUndefined();
      const status = await eventually(async () => {
        const answer = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${orderId}`);
        return answer.body.order.status === 'Filled' && answer.body.order.commission !== undefined
          ? answer.body.order
          : undefined;
      });
      expect(status).toMatchObject({ filled: 3, remaining: 0 });
      expect(status.avgFillPrice).toBeGreaterThan(0);
      expect(status.commission).toBeGreaterThan(0);
    });

    it('places stop, stop-limit and trailing (amount and percent) orders with their prices at the broker', async () => {
      const last = marketPrice(simulator, AAPL_CON_ID);
      const stop = Math.round(last * 1.3 * 100) / 100;
      const stp = await rest.post<Placed>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 1,
        orderType: 'STP',
        stopPrice: stop,
      });
      expect(stp.status).toBe(200);
      expect(openOrder(simulator, stp.body.orderId)).toMatchObject({ orderType: 'STP', auxPrice: stop });

      const stpLmt = await callTool<Placed>(mcp, 'place_order', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 2,
        orderType: 'STP LMT',
        stopPrice: stop,
        limitPrice: stop + 1,
        tif: 'GTC',
      });
      expect(stpLmt.isError).toBe(false);
      expect(openOrder(simulator, stpLmt.structured.orderId)).toMatchObject({
        orderType: 'STP LMT',
        auxPrice: stop,
        lmtPrice: stop + 1,
        totalQuantity: 2,
      });

      const trailAmount = await rest.post<Placed>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 1,
        orderType: 'TRAIL',
        trailingAmount: Math.round(last * 0.3 * 100) / 100,
      });
      expect(trailAmount.status).toBe(200);
      expect(openOrder(simulator, trailAmount.body.orderId)).toMatchObject({
        orderType: 'TRAIL',
        auxPrice: Math.round(last * 0.3 * 100) / 100,
      });
      expect(trailAmount.body.orders[0]?.trailingAmount).toBe(Math.round(last * 0.3 * 100) / 100);

      const trailPercent = await callTool<Placed>(mcp, 'place_order', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 1,
        orderType: 'TRAIL',
        trailingPercent: 30,
      });
      expect(trailPercent.isError).toBe(false);
      expect(openOrder(simulator, trailPercent.structured.orderId)).toMatchObject({ orderType: 'TRAIL' });
      expect(trailPercent.structured.orders[0]?.trailingPercent).toBe(30);
    });

    it('places a bracket in one call: entry, take-profit and stop-loss, all at the broker', async () => {
      const entry = restingPrice(simulator, AAPL_CON_ID, 'BUY');
      const placed = await rest.post<Placed>('/orders', {
        ...limitBuy({ limitPrice: entry, quantity: 4 }),
        bracket: { takeProfitPrice: entry + 20, stopLossPrice: entry - 10 },
      });
      expect(placed.status).toBe(200);
      const bracket = placed.body.bracket;
      expect(bracket).toBeDefined();
      if (!bracket) return;
      expect(placed.body.orders.map((order) => order.orderId)).toEqual([
        bracket.parentOrderId,
        bracket.takeProfitOrderId,
        bracket.stopLossOrderId,
      ]);
      expect(openOrder(simulator, bracket.parentOrderId)).toMatchObject({
        action: 'BUY',
        orderType: 'LMT',
        lmtPrice: entry,
        totalQuantity: 4,
      });
      expect(openOrder(simulator, bracket.takeProfitOrderId)).toMatchObject({
        action: 'SELL',
        orderType: 'LMT',
        lmtPrice: entry + 20,
        totalQuantity: 4,
      });
      expect(openOrder(simulator, bracket.stopLossOrderId)).toMatchObject({
        action: 'SELL',
        orderType: 'STP',
        auxPrice: entry - 10,
        totalQuantity: 4,
      });
      // The children wait for the entry to fill.
      const status = await rest.get<{ order: OrderView; children: OrderView[] }>(
        `/orders/status?orderId=${bracket.parentOrderId}`,
      );
      expect(status.body.children.map((child) => child.orderId).sort()).toEqual(
        [bracket.takeProfitOrderId, bracket.stopLossOrderId].sort(),
      );
      expect(status.body.children.every((child) => child.parentId === bracket.parentOrderId)).toBe(true);
      expect(openOrder(simulator, bracket.stopLossOrderId)?.status).toBe('PreSubmitted');
    });

    it('places a market bracket over MCP whose entry fills and whose exits then work', async () => {
      const last = marketPrice(simulator, AAPL_CON_ID);
      const placed = await callTool<Placed>(mcp, 'place_order', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 2,
        orderType: 'MKT',
        bracket: {
          takeProfitPrice: Math.round(last * 1.5 * 100) / 100,
          stopLossPrice: Math.round(last * 0.5 * 100) / 100,
        },
      });
      expect(placed.isError).toBe(false);
      const bracket = placed.structured.bracket;
      expect(bracket).toBeDefined();
      if (!bracket) return;
      await eventually(() => (openOrder(simulator, bracket.parentOrderId) === undefined ? true : undefined));
      const takeProfit = await eventually(() => {
        const order = openOrder(simulator, bracket.takeProfitOrderId);
        return order?.status === 'Submitted' ? order : undefined;
      });
      expect(takeProfit).toMatchObject({ action: 'SELL', orderType: 'LMT', totalQuantity: 2 });
      expect(openOrder(simulator, bracket.stopLossOrderId)).toMatchObject({
        action: 'SELL',
        orderType: 'STP',
      });
    });
  });

  describe('modify_order', () => {
    it('changes the limit price over REST and the quantity over MCP, at the broker', async () => {
      const placed = await rest.post<Placed>('/orders', limitBuy());
      const orderId = placed.body.orderId;
      const newPrice = restingPrice(simulator, AAPL_CON_ID, 'BUY') - 1;
      const modified = await rest.post<OrderView>(`/orders/${orderId}/modify`, { limitPrice: newPrice });
      expect(modified.status).toBe(200);
      expect(modified.body).toMatchObject({ orderId, limitPrice: newPrice, quantity: 10 });
      expect(openOrder(simulator, orderId)).toMatchObject({ lmtPrice: newPrice, totalQuantity: 10 });

      const viaMcp = await callTool<OrderView>(mcp, 'modify_order', { orderId, quantity: 25 });
      expect(viaMcp.isError).toBe(false);
      expect(viaMcp.structured).toMatchObject({ orderId, quantity: 25, limitPrice: newPrice });
      expect(openOrder(simulator, orderId)).toMatchObject({ lmtPrice: newPrice, totalQuantity: 25 });
    });

    it('refuses a price that does not fit the order type, naming the field, and changes nothing', async () => {
      const placed = await rest.post<Placed>('/orders', limitBuy());
      const before = brokerState(simulator);
      const answer = await rest.post<ErrorBody>(`/orders/${placed.body.orderId}/modify`, { stopPrice: 100 });
      expect(answer.status).toBe(400);
      expect(answer.body.message).toContain('[stopPrice]: must not be given for LMT orders');
      expect(brokerState(simulator)).toEqual(before);
    });

    it('answers 404 for an order it does not know, over REST and MCP, and sends nothing', async () => {
      const before = brokerState(simulator);
      const answer = await rest.post<ErrorBody>('/orders/987654/modify', { limitPrice: 10 });
      expect(answer.status).toBe(404);
      expect(answer.body.message).toContain('987654');
      const viaMcp = await callTool(mcp, 'modify_order', { orderId: 987654, limitPrice: 10 });
      expect(viaMcp.isError).toBe(true);
      expect(viaMcp.text).toContain('987654');
      expect(brokerState(simulator)).toEqual(before);
    });
  });

  describe('cancel_order and cancel_all_orders', () => {
    it('cancels over REST and over MCP: the orders leave the broker', async () => {
      const first = await rest.post<Placed>('/orders', limitBuy());
      const second = await rest.post<Placed>('/orders', limitBuy());
      expect(openOrder(simulator, first.body.orderId)).toBeDefined();

      const cancelled = await rest.delete<OrderView>(`/orders/${first.body.orderId}`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ orderId: first.body.orderId, status: 'Cancelled' });
      expect(openOrder(simulator, first.body.orderId)).toBeUndefined();

      const viaMcp = await callTool<OrderView>(mcp, 'cancel_order', { orderId: second.body.orderId });
      expect(viaMcp.isError).toBe(false);
      expect(viaMcp.structured.status).toBe('Cancelled');
      expect(openOrder(simulator, second.body.orderId)).toBeUndefined();
    });

    it('cancelling a bracket entry takes its children with it', async () => {
      const entry = restingPrice(simulator, AAPL_CON_ID, 'BUY');
      const placed = await rest.post<Placed>('/orders', {
        ...limitBuy({ limitPrice: entry }),
        bracket: { takeProfitPrice: entry + 5, stopLossPrice: entry - 5 },
      });
      const bracket = placed.body.bracket;
      if (!bracket) throw new Error('no bracket');
      await rest.delete(`/orders/${bracket.parentOrderId}`);
      for (const orderId of [bracket.parentOrderId, bracket.takeProfitOrderId, bracket.stopLossOrderId]) {
        expect(openOrder(simulator, orderId)).toBeUndefined();
      }
    });

    it("maps IB's unknown-order answer to 404 over REST and MCP", async () => {
      const before = brokerState(simulator);
      const answer = await rest.delete<ErrorBody & { ibCode: number }>('/orders/424242');
      expect(answer.status).toBe(404);
      expect(answer.body.code).toBe('NOT_FOUND');
      expect(answer.body.message).toContain('424242');
      expect(answer.body.ibCode).toBe(10147);
      const viaMcp = await callTool(mcp, 'cancel_order', { orderId: 424242 });
      expect(viaMcp.isError).toBe(true);
      expect(viaMcp.text).toContain('424242');
      expect(brokerState(simulator)).toEqual(before);
    });

    it('answers 409 when the order is already filled', async () => {
      const placed = await rest.post<Placed>('/orders', {
        symbol: 'AAPL',
        side: 'SELL',
        quantity: 1,
        orderType: 'MKT',
      });
      await eventually(async () => {
        const status = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${placed.body.orderId}`);
        return status.body.order.status === 'Filled' ? true : undefined;
      });
      const answer = await rest.delete<ErrorBody>(`/orders/${placed.body.orderId}`);
      expect(answer.status).toBe(409);
      expect(answer.body.message).toContain('Filled');
    });

    it('lists open orders as the broker has them, then cancels them all (REST and MCP)', async () => {
      await rest.post<Placed>('/orders', limitBuy());
      await callTool<Placed>(mcp, 'place_order', limitBuy({ quantity: 7 }));
      const listed = await rest.get<{ orders: OrderView[] }>('/orders/open');
      expect(listed.status).toBe(200);
      const atBroker = simulator.broker.snapshot().openOrders;
      expect(listed.body.orders.map((order) => order.orderId).sort()).toEqual(
        atBroker.map((order) => order.orderId).sort(),
      );
      const viaMcp = await callTool<{ orders: OrderView[] }>(mcp, 'get_open_orders', {});
      expect(viaMcp.structured.orders).toHaveLength(atBroker.length);

      const cancelled = await rest.post<{ cancelledOrderIds: number[]; stillOpen: OrderView[] }>(
        '/orders/cancel-all',
        {},
      );
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.stillOpen).toEqual([]);
      expect(cancelled.body.cancelledOrderIds.sort()).toEqual(atBroker.map((order) => order.orderId).sort());
      expect(simulator.broker.snapshot().openOrders).toEqual([]);

      await callTool<Placed>(mcp, 'place_order', limitBuy());
      const again = await callTool<{ cancelledOrderIds: number[] }>(mcp, 'cancel_all_orders', {});
      expect(again.isError).toBe(false);
      expect(again.structured.cancelledOrderIds).toHaveLength(1);
      expect(simulator.broker.snapshot().openOrders).toEqual([]);
    });
  });

  describe('bad inputs get clear 4xx / isError answers and change nothing at the broker', () => {
    const stopBelowEntry = (simulatorPrice: number) => ({
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: simulatorPrice,
      bracket: { takeProfitPrice: simulatorPrice + 10, stopLossPrice: simulatorPrice + 5 },
    });
    const cases: { name: string; body: () => Record<string, unknown>; status: number; says: string[] }[] = [
      {
        name: 'an unknown symbol',
        body: () => ({ symbol: 'NOPEX', side: 'BUY', quantity: 1, orderType: 'MKT' }),
        status: 404,
        says: ['NOPEX'],
      },
      {
        name: 'a negative quantity',
        body: () => ({ symbol: 'AAPL', side: 'BUY', quantity: -5, orderType: 'MKT' }),
        status: 400,
        says: ['[quantity]', 'must be positive'],
      },
      {
        name: 'a limit order without a price',
        body: () => ({ symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'LMT' }),
        status: 400,
        says: ['[limitPrice]', 'required for LMT'],
      },
      {
        name: 'a market order with a price',
        body: () => ({ symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'MKT', limitPrice: 100 }),
        status: 400,
        says: ['[limitPrice]', 'must not be given for MKT'],
      },
      {
        name: 'a stop order without a stop price',
        body: () => ({ symbol: 'AAPL', side: 'SELL', quantity: 1, orderType: 'STP' }),
        status: 400,
        says: ['[stopPrice]', 'required for STP'],
      },
      {
        name: 'a trailing stop with both an amount and a percent',
        body: () => ({
          symbol: 'AAPL',
          side: 'SELL',
          quantity: 1,
          orderType: 'TRAIL',
          trailingAmount: 1,
          trailingPercent: 1,
        }),
        status: 400,
        says: ['[trailingAmount]', 'exactly one of trailingAmount or trailingPercent'],
      },
      {
        name: 'a bracket with the stop-loss on the wrong side of the entry',
        body: () => stopBelowEntry(restingPrice(simulator, AAPL_CON_ID, 'BUY')),
        status: 400,
        says: ['[bracket.stopLossPrice]', 'must be below the limitPrice'],
      },
      {
        name: 'a market bracket with the take-profit below the market',
        body: () => {
          const last = marketPrice(simulator, AAPL_CON_ID);
          return {
            symbol: 'AAPL',
            side: 'BUY',
            quantity: 1,
            orderType: 'MKT',
            bracket: {
              takeProfitPrice: Math.round(last * 0.9 * 100) / 100,
              stopLossPrice: Math.round(last * 0.8 * 100) / 100,
            },
          };
        },
        status: 400,
        says: ['[bracket.takeProfitPrice]', 'must be above the current ask'],
      },
      {
        name: 'an unknown parameter',
        body: () => ({ symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'MKT', price: 3 }),
        status: 400,
        says: ['price'],
      },
      {
        name: 'neither symbol nor conId',
        body: () => ({ side: 'BUY', quantity: 1, orderType: 'MKT' }),
        status: 400,
        says: ['[symbol]', 'either symbol or conId is required'],
      },
    ];

    it.each(cases)('$name: REST $status, MCP isError, same message', async ({ body, status, says }) => {
      const before = brokerState(simulator);
      const input = body();
      const overRest = await rest.post<ErrorBody>('/orders', input);
      expect(overRest.status).toBe(status);
      for (const text of says) expect(overRest.body.message).toContain(text);
      const overMcp = await callTool(mcp, 'place_order', input);
      expect(overMcp.isError).toBe(true);
      for (const text of says) expect(overMcp.text).toContain(text);
      expect(brokerState(simulator)).toEqual(before);
    });

    it('previewing a bad order is refused the same way and changes nothing', async () => {
      const before = brokerState(simulator);
      const overRest = await rest.post<ErrorBody>('/orders/preview', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 0,
        orderType: 'MKT',
      });
      expect(overRest.status).toBe(400);
      expect(overRest.body.message).toContain('[quantity]');
      const unknown = await callTool(mcp, 'preview_order', {
        symbol: 'NOPEX',
        side: 'BUY',
        quantity: 1,
        orderType: 'MKT',
      });
      expect(unknown.isError).toBe(true);
      expect(unknown.text).toContain('NOPEX');
      expect(brokerState(simulator)).toEqual(before);
    });

    it("turns IB's rejection (201) into a 400 that says why, and leaves no order behind", async () => {
      const before = brokerState(simulator);
      // IB does not take orders on an index.
      const answer = await rest.post<ErrorBody & { ibCode: number }>('/orders', {
        symbol: 'SPX',
        secType: 'IND',
        exchange: 'CBOE',
        side: 'BUY',
        quantity: 1,
        orderType: 'LMT',
        limitPrice: 10,
      });
      expect(answer.status).toBe(400);
      expect(answer.body.ibCode).toBe(201);
      expect(answer.body.message).toContain('Orders cannot be placed on IND contracts');
      const after = brokerState(simulator);
      expect(after.openOrders).toEqual(before.openOrders);
      expect(after.executions).toBe(before.executions);
    });
  });

  describe('get_order_status and get_order_journal', () => {
    it('finds an order by id and by idempotency key, over REST and MCP; 404 for unknown ones', async () => {
      const key = `status-${Date.now()}`;
      const placed = await rest.post<Placed>('/orders', limitBuy({ idempotencyKey: key }));
      const byId = await callTool<{ order: OrderView & { idempotencyKey?: string } }>(
        mcp,
        'get_order_status',
        {
          orderId: placed.body.orderId,
        },
      );
      expect(byId.structured.order).toMatchObject({ orderId: placed.body.orderId, idempotencyKey: key });
      const byKey = await rest.get<{ order: OrderView }>(`/orders/status?idempotencyKey=${key}`);
      expect(byKey.body.order.orderId).toBe(placed.body.orderId);
      expect(byKey.body.order.status).toBe(openOrder(simulator, placed.body.orderId)?.status);

      expect((await rest.get('/orders/status?orderId=777777')).status).toBe(404);
      expect((await rest.get('/orders/status?idempotencyKey=never-used')).status).toBe(404);
      const neither = await rest.get<ErrorBody>('/orders/status');
      expect(neither.status).toBe(400);
      expect(neither.body.message).toContain('exactly one of orderId or idempotencyKey');
    });

    it('journals every request, what was sent, and the broker responses, readable by order id', async () => {
      const placed = await rest.post<Placed>('/orders', limitBuy());
      const orderId = placed.body.orderId;
      await rest.post(`/orders/${orderId}/modify`, { quantity: 11 });
      await rest.delete(`/orders/${orderId}`);
      const journal = await rest.get<{ entries: JournalEntry[]; total: number }>(
        `/orders/journal?orderId=${orderId}&limit=1000`,
      );
      expect(journal.status).toBe(200);
      const { entries } = journal.body;
      const kinds = entries.map((entry) => `${entry.type}:${entry.operation ?? entry.event ?? ''}`);
      expect(kinds).toEqual(
        expect.arrayContaining([
          'sent:place_order',
          'response:openOrder',
          'response:orderStatus',
          'outcome:place_order',
          'request:modify_order',
          'sent:modify_order',
          'request:cancel_order',
          'response:error',
          'outcome:cancel_order',
        ]),
      );
      // Oldest first, and every entry is about this order.
      const times = entries.map((entry) => Date.parse(entry.at));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(entries.every((entry) => entry.orderId === orderId || entry.orderIds?.includes(orderId))).toBe(
        true,
      );

      const viaMcp = await callTool<{ entries: JournalEntry[]; total: number }>(mcp, 'get_order_journal', {
        limit: 2,
      });
      expect(viaMcp.structured.entries).toHaveLength(2);
      expect(viaMcp.structured.total).toBeGreaterThan(2);
      const since = await rest.get<{ entries: JournalEntry[] }>(
        `/orders/journal?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      );
      expect(since.body.entries).toEqual([]);
    });

    it('journals executions and commissions of a fill', async () => {
      const placed = await rest.post<Placed>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 1,
        orderType: 'MKT',
      });
      const entries = await eventually(async () => {
        const journal = await rest.get<{ entries: JournalEntry[] }>(
          `/orders/journal?orderId=${placed.body.orderId}`,
        );
        const events = journal.body.entries.map((entry) => entry.event);
        return events.includes('execDetails') && events.includes('commission')
          ? journal.body.entries
          : undefined;
      });
      expect(entries.find((entry) => entry.event === 'execDetails')).toMatchObject({
        shares: 1,
        side: 'BOT',
      });
    });
  });

  it('declares every order operation with honest safety hints', async () => {
    const { tools } = await mcp.listTools();
    const hints = Object.fromEntries(
      tools
        .filter((tool) => /order/.test(tool.name))
        .map((tool) => [
          tool.name,
          [
            tool.annotations?.readOnlyHint,
            tool.annotations?.destructiveHint,
            tool.annotations?.idempotentHint,
            tool.annotations?.openWorldHint,
          ],
        ]),
    );
    expect(hints).toEqual({
      preview_order: [true, false, true, true],
      place_order: [false, true, false, true],
      transmit_order: [false, true, true, true],
      modify_order: [false, true, true, true],
      cancel_order: [false, true, true, true],
      cancel_all_orders: [false, true, true, true],
      get_open_orders: [true, false, true, true],
      get_order_status: [true, false, true, true],
      get_order_journal: [true, false, true, false],
      get_completed_orders: [true, false, true, true],
    });
  });
});
