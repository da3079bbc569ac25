import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import type { Instrument } from '../../../src/simulator/market/instrument';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService } from '../service/service-harness';
import {
  AAPL_CON_ID,
  brokerState,
  callTool,
  eventually,
  MARKET_OPEN,
  openOrder,
  positionOf,
  restClient,
} from './orders-harness';

interface LegView {
  conId: number;
  symbol?: string;
  secType?: string;
  expiry?: string;
  strike?: number;
  right?: string;
  ratio: number;
  action: string;
}
interface OrderView {
  orderId: number;
  status: string;
  orderType: string;
  quantity: number;
  limitPrice?: number;
  filled: number;
  contract: { secType?: string; symbol?: string };
  legs?: LegView[];
}
interface Placed {
  orderId: number;
  orders: OrderView[];
  priceAdjustments?: { field: string; requested: number; used: number; tickSize: number }[];
}
interface Preview {
  contract: { secType?: string; symbol?: string };
  legs?: LegView[];
  commission: { commission?: number };
  margin: { initMarginChange?: number };
  safety: { allowed: boolean };
}
interface ErrorBody {
  code: string;
  message: string;
}

const round = (price: number) => Math.round(price * 100) / 100;

describe('combo (BAG) orders: REST and MCP against the simulated broker', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;
  let rest: ReturnType<typeof restClient>;
  /** Two AAPL expiries and, in the nearer one, two call strikes near the money. */
  let near: string;
  let far: string;
  let lowStrike: number;
  let highStrike: number;

  const calls = (expiry: string) =>
    simulator.market
      .instruments()
      .filter(
        (instrument) =>
          instrument.secType === 'OPT' &&
          instrument.underlyingSymbol === 'AAPL' &&
          instrument.right === 'C' &&
          instrument.lastTradeDate === expiry,
      );
  const callOf = (expiry: string, strike: number): Instrument => {
    const found = calls(expiry).find((instrument) => instrument.strike === strike);
    if (!found) throw new Error(`no AAPL ${expiry} ${strike} call`);
    return found;
  };
  const optionLeg = (expiry: string, strike: number, action: 'BUY' | 'SELL', ratio = 1) => ({
    symbol: 'AAPL',
    secType: 'OPT',
    expiry,
    strike,
    right: 'C',
    ratio,
    action,
  });
  /** The legs' net price as the simulator sees it now (Σ ±ratio × mid). */
  const netMid = (legs: { conId: number; ratio: number; action: string }[]) =>
    legs.reduce((sum, leg) => {
      const quote = simulator.market.quote(leg.conId);
      return sum + (leg.action === 'BUY' ? 1 : -1) * leg.ratio * ((quote.bid + quote.ask) / 2);
    }, 0);
  const orders = () => {
    const { openOrders, executions, positions } = brokerState(simulator);
    return { openOrders, executions, positions };
  };

  beforeAll(async () => {
    service = await startTestService();
    simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(MARKET_OPEN);
    mcp = await connectMcpClient(service);
    rest = restClient(service);
    const expiries = [
      ...new Set(
        simulator.market
          .instruments()
          .filter((instrument) => instrument.secType === 'OPT' && instrument.underlyingSymbol === 'AAPL')
          .map((instrument) => instrument.lastTradeDate ?? ''),
      ),
    ].sort();
    [near = '', far = ''] = expiries;
    const spot = simulator.market.quote(AAPL_CON_ID).last;
    const strikes = calls(near)
      .map((instrument) => instrument.strike ?? 0)
      .filter((strike) => calls(far).some((instrument) => instrument.strike === strike))
      .sort((a, b) => Math.abs(a - spot) - Math.abs(b - spot));
    [lowStrike = 0, highStrike = 0] = strikes.slice(0, 2).sort((a, b) => a - b);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  afterEach(async () => {
    simulator.setClock(MARKET_OPEN);
    await rest.delete('/orders');
  });

  it('previews a vertical spread over REST and MCP: what-if margin and commission for both legs', async () => {
    const legs = [optionLeg(near, lowStrike, 'BUY'), optionLeg(near, highStrike, 'SELL')];
    const before = orders();
    const overRest = await rest.post<Preview>('/orders/preview', {
      legs,
      side: 'BUY',
      quantity: 2,
      orderType: 'LMT',
      limitPrice: 1,
    });
    expect(overRest.status).toBe(200);
    expect(overRest.body.contract).toMatchObject({ secType: 'BAG', symbol: 'AAPL' });
    expect(overRest.body.legs).toEqual([
      expect.objectContaining({
        secType: 'OPT',
        expiry: near,
        strike: lowStrike,
        right: 'C',
        ratio: 1,
        action: 'BUY',
      }),
      expect.objectContaining({
        secType: 'OPT',
        expiry: near,
        strike: highStrike,
        right: 'C',
        ratio: 1,
        action: 'SELL',
      }),
    ]);
    // Two legs of two contracts each at $0.65 a contract.
    expect(overRest.body.commission.commission).toBeCloseTo(2.6, 2);
    expect(overRest.body.safety.allowed).toBe(true);
    const overMcp = await callTool<Preview>(mcp, 'preview_order', {
      legs,
      side: 'BUY',
      quantity: 2,
      orderType: 'LMT',
      limitPrice: 1,
    });
    expect(overMcp.isError).toBe(false);
    expect(overMcp.structured.commission.commission).toBeCloseTo(2.6, 2);
    expect(orders()).toEqual(before);
  });

  it('places a vertical spread over MCP with its limit rounded to the tick; the broker holds one BAG order', async () => {
    const low = callOf(near, lowStrike);
    const high = callOf(near, highStrike);
    const wireLegs = [
      { conId: low.conId, ratio: 1, action: 'BUY' },
      { conId: high.conId, ratio: 1, action: 'SELL' },
    ];
    // Well below the spread's value: it rests.
    const requested = round(netMid(wireLegs) * 0.5) + 0.004;
    const placed = await callTool<Placed>(mcp, 'place_order', {
      legs: [optionLeg(near, lowStrike, 'BUY'), optionLeg(near, highStrike, 'SELL')],
      side: 'BUY',
      quantity: 3,
      orderType: 'LMT',
      limitPrice: requested,
      roundToTick: true,
      idempotencyKey: 'vertical-1',
    });
    expect(placed.isError).toBe(false);
    const used = round(requested - 0.004);
    expect(placed.structured.priceAdjustments).toEqual([
      { field: 'limitPrice', requested, used, tickSize: 0.01 },
    ]);
    const [view] = placed.structured.orders;
    expect(view).toMatchObject({
      contract: { secType: 'BAG', symbol: 'AAPL' },
      limitPrice: used,
      quantity: 3,
    });
    expect(view?.legs).toEqual([
      {
        conId: low.conId,
        symbol: 'AAPL',
        secType: 'OPT',
        expiry: near,
        strike: lowStrike,
        right: 'C',
        ratio: 1,
        action: 'BUY',
      },
      {
        conId: high.conId,
        symbol: 'AAPL',
        secType: 'OPT',
        expiry: near,
        strike: highStrike,
        right: 'C',
        ratio: 1,
        action: 'SELL',
      },
    ]);
    expect(openOrder(simulator, placed.structured.orderId)).toMatchObject({
      orderType: 'LMT',
      lmtPrice: used,
      totalQuantity: 3,
      orderRef: 'vertical-1',
      comboLegs: wireLegs,
    });
    // The open orders and the status show the legs too.
    const open = await rest.get<{ orders: OrderView[] }>('/orders/open');
    const listed = open.body.orders.find((order) => order.orderId === placed.structured.orderId);
    expect(listed?.legs?.map((leg) => leg.conId)).toEqual([low.conId, high.conId]);
    const status = await rest.get<{ order: OrderView }>(
      `/orders/status?orderId=${placed.structured.orderId}`,
    );
    expect(status.body.order.legs?.[1]).toMatchObject({ strike: highStrike, action: 'SELL' });
    // The journal lists the legs of what was sent.
    const journal = await rest.get<{ entries: { type: string; contract?: { comboLegs?: unknown[] } }[] }>(
      `/orders/journal?orderId=${placed.structured.orderId}`,
    );
    const sent = journal.body.entries.find((entry) => entry.type === 'sent');
    expect(sent?.contract?.comboLegs).toHaveLength(2);
    // A retry with the same key is the same order.
    const again = await callTool<Placed & { replayed: boolean }>(mcp, 'place_order', {
      legs: [optionLeg(near, lowStrike, 'BUY'), optionLeg(near, highStrike, 'SELL')],
      side: 'BUY',
      quantity: 3,
      orderType: 'LMT',
      limitPrice: requested,
      roundToTick: true,
      idempotencyKey: 'vertical-1',
    });
    expect(again.structured).toMatchObject({ orderId: placed.structured.orderId, replayed: true });
  });

  it('modifies a combo: quantity and a negative (credit) limit', async () => {
    const placed = await rest.post<Placed>('/orders', {
      legs: [optionLeg(near, lowStrike, 'SELL'), optionLeg(near, highStrike, 'BUY')],
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      // Receiving far more than the spread is worth: it rests.
      limitPrice: -50,
    });
    expect(placed.status).toBe(200);
    expect(openOrder(simulator, placed.body.orderId)).toMatchObject({ lmtPrice: -50 });
    const modified = await rest.post<OrderView>(`/orders/${placed.body.orderId}/modify`, {
      quantity: 4,
      limitPrice: -40,
    });
    expect(modified.status).toBe(200);
    expect(modified.body).toMatchObject({ quantity: 4, limitPrice: -40 });
    expect(openOrder(simulator, placed.body.orderId)).toMatchObject({ totalQuantity: 4, lmtPrice: -40 });
    // Not for a single order.
    const single = await rest.post<ErrorBody>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: -1,
    });
    expect(single.status).toBe(400);
    expect(single.body.message).toContain('limitPrice');
  });

  it('places a calendar spread (two expiries) over REST', async () => {
    const nearCall = callOf(near, lowStrike);
    const farCall = callOf(far, lowStrike);
    const wireLegs = [
      { conId: nearCall.conId, ratio: 1, action: 'SELL' },
      { conId: farCall.conId, ratio: 1, action: 'BUY' },
    ];
    const limit = Math.max(0.01, round(netMid(wireLegs) * 0.3));
    const placed = await rest.post<Placed>('/orders', {
      legs: [optionLeg(near, lowStrike, 'SELL'), optionLeg(far, lowStrike, 'BUY')],
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: limit,
    });
    expect(placed.status).toBe(200);
    expect(placed.body.orders[0]?.legs?.map((leg) => leg.expiry)).toEqual([near, far]);
    expect(openOrder(simulator, placed.body.orderId)).toMatchObject({ lmtPrice: limit, comboLegs: wireLegs });
  });

  it('fills a stock-and-option (buy-write) MKT combo: one execution per leg, positions per leg', async () => {
    const call = callOf(near, highStrike);
    const before = { stock: positionOf(simulator, AAPL_CON_ID), call: positionOf(simulator, call.conId) };
    const executionsBefore = brokerState(simulator).executions;
    const placed = await rest.post<Placed>('/orders', {
      legs: [
        { symbol: 'AAPL', secType: 'STK', ratio: 100, action: 'BUY' },
        optionLeg(near, highStrike, 'SELL'),
      ],
      side: 'BUY',
      quantity: 2,
      orderType: 'MKT',
    });
    expect(placed.status).toBe(200);
    const filled = await eventually(async () => {
      const status = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${placed.body.orderId}`);
      return status.body.order.status === 'Filled' ? status.body.order : undefined;
    });
    expect(filled).toMatchObject({ filled: 2, contract: { secType: 'BAG' } });
    expect(filled.legs?.[0]).toMatchObject({ secType: 'STK', ratio: 100, action: 'BUY' });
    expect(positionOf(simulator, AAPL_CON_ID)).toBe(before.stock + 200);
    expect(positionOf(simulator, call.conId)).toBe(before.call - 2);
    expect(brokerState(simulator).executions).toBeGreaterThanOrEqual(executionsBefore + 2);
    const executions = await rest.get<{ executions: { conId?: number; side?: string; shares?: number }[] }>(
      '/account/executions',
    );
    const legExecutions = executions.body.executions.filter(
      (execution) => execution.conId === AAPL_CON_ID || execution.conId === call.conId,
    );
    expect(legExecutions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ conId: AAPL_CON_ID, side: 'BUY', shares: 200 }),
        expect.objectContaining({ conId: call.conId, side: 'SELL', shares: 2 }),
      ]),
    );
    // Completed orders carry no order id (IB's way): found by the broker's permId.
    const permId = simulator.broker
      .snapshot()
      .orders.find((order) => order.orderId === placed.body.orderId)?.permId;
    const completed = await rest.get<{ orders: { permId?: number; legs?: LegView[] }[] }>(
      '/orders/completed',
    );
    const done = completed.body.orders.find((order) => order.permId === permId);
    expect(done?.legs?.map((leg) => leg.conId)).toEqual([AAPL_CON_ID, call.conId]);
  });

  it('refuses a combo with a leg that does not resolve (400 naming the leg): nothing reaches the broker', async () => {
    const before = brokerState(simulator);
    const overRest = await rest.post<ErrorBody>('/orders', {
      legs: [optionLeg(near, lowStrike, 'BUY'), optionLeg(near, 12345, 'SELL')],
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: 1,
    });
    expect(overRest.status).toBe(400);
    expect(overRest.body.message).toContain('legs[1]');
    const overMcp = await callTool<ErrorBody>(mcp, 'place_order', {
      legs: [{ symbol: 'NOSUCHSYM', ratio: 100, action: 'BUY' }, optionLeg(near, lowStrike, 'SELL')],
      side: 'BUY',
      quantity: 1,
      orderType: 'MKT',
    });
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toContain('legs[0]');
    expect(brokerState(simulator)).toEqual(before);
  });

  it('refuses a combo limit off the tick (400 naming the tick size), and non-combo types for combos', async () => {
    const before = brokerState(simulator);
    const offTick = await rest.post<ErrorBody>('/orders', {
      legs: [optionLeg(near, lowStrike, 'BUY'), optionLeg(near, highStrike, 'SELL')],
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: 1.234,
    });
    expect(offTick.status).toBe(400);
    expect(offTick.body.message).toContain('tick size 0.01');
    expect(offTick.body.message).toContain('combo');
    const stop = await rest.post<ErrorBody>('/orders', {
      legs: [optionLeg(near, lowStrike, 'BUY'), optionLeg(near, highStrike, 'SELL')],
      side: 'BUY',
      quantity: 1,
      orderType: 'STP',
      stopPrice: 1,
    });
    expect(stop.status).toBe(400);
    expect(stop.body.message).toContain('orderType');
    expect(brokerState(simulator)).toEqual(before);
  });
});
