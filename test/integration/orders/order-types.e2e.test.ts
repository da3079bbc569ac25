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
  restClient,
  restingPrice,
} from './orders-harness';

interface OrderView {
  orderId: number;
  status: string;
  orderType: string;
  limitPrice?: number;
  stopPrice?: number;
  tif?: string;
  goodTillDate?: string;
  ocaGroup?: string;
}
interface Placed {
  orderId: number;
  orders: OrderView[];
  priceAdjustments?: { field: string; requested: number; used: number; tickSize: number }[];
}
interface ErrorBody {
  code: string;
  message: string;
}

/** 15:55 in New York: after the 15:50 cutoff for on-close orders. */
const AFTER_CUTOFF = Date.parse('2025-06-11T19:55:00Z');

const round = (price: number) => Math.round(price * 100) / 100;

describe('order types, GTD, OCA and tick sizes: REST and MCP against the simulated broker', () => {
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

  afterEach(async () => {
    simulator.setClock(MARKET_OPEN);
    await rest.delete('/orders');
  });

  const aapl = (fields: Record<string, unknown>) => ({ symbol: 'AAPL', quantity: 10, ...fields });
  /** What the broker holds, without the order ids a broker-side rejection hands out. */
  const orders = () => {
    const { openOrders, executions, positions } = brokerState(simulator);
    return { openOrders, executions, positions };
  };

  it('places MIT and LIT over REST and MOC, LOC over MCP: each rests in the book as sent', async () => {
    const trigger = restingPrice(simulator, AAPL_CON_ID, 'BUY');
    const mit = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'MIT', stopPrice: trigger }),
    );
    expect(mit.status).toBe(200);
    expect(mit.body.orders[0]).toMatchObject({ orderType: 'MIT', stopPrice: trigger });
    expect(openOrder(simulator, mit.body.orderId)).toMatchObject({ orderType: 'MIT', auxPrice: trigger });

    const lit = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'LIT', stopPrice: trigger, limitPrice: round(trigger + 0.1) }),
    );
    expect(lit.status).toBe(200);
    expect(openOrder(simulator, lit.body.orderId)).toMatchObject({
      orderType: 'LIT',
      auxPrice: trigger,
      lmtPrice: round(trigger + 0.1),
    });

    const moc = await callTool<Placed>(mcp, 'place_order', aapl({ side: 'BUY', orderType: 'MOC' }));
    expect(moc.isError).toBe(false);
    expect(openOrder(simulator, moc.structured.orderId)).toMatchObject({
      orderType: 'MOC',
      status: 'Submitted',
    });
    const loc = await callTool<Placed>(
      mcp,
      'place_order',
      aapl({ side: 'SELL', orderType: 'LOC', limitPrice: 1000 }),
    );
    expect(loc.isError).toBe(false);
    expect(openOrder(simulator, loc.structured.orderId)).toMatchObject({ orderType: 'LOC', lmtPrice: 1000 });
  });

  it('fills an MIT whose trigger the market has touched', async () => {
    const trigger = round(marketPrice(simulator, AAPL_CON_ID) * 1.01);
    const placed = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'MIT', stopPrice: trigger }),
    );
    expect(placed.status).toBe(200);
    await eventually(async () => {
      const status = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${placed.body.orderId}`);
      return status.body.order.status === 'Filled' ? true : undefined;
    });
  });

  it('places TRAIL LIMIT and REL orders with their offsets', async () => {
    const trail = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'SELL', orderType: 'TRAIL LIMIT', trailingPercent: 10, limitPriceOffset: 0.05 }),
    );
    expect(trail.status).toBe(200);
    expect(openOrder(simulator, trail.body.orderId)).toMatchObject({
      orderType: 'TRAIL LIMIT',
      trailingPercent: 10,
      lmtPriceOffset: 0.05,
    });
    const rel = await callTool<Placed>(
      mcp,
      'place_order',
      aapl({ side: 'BUY', orderType: 'REL', pegOffset: 0.01 }),
    );
    expect(rel.isError).toBe(false);
    expect(openOrder(simulator, rel.structured.orderId)).toMatchObject({ orderType: 'REL', auxPrice: 0.01 });
  });

  it('places a GTD order with its goodTillDate, and refuses one in the past with 400, changing nothing', async () => {
    // The service checks the date against its own (real) clock, as it would against IB's.
    const goodTillDate = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000).toISOString();
    const ibForm = `${goodTillDate.slice(0, 10).replaceAll('-', '')}-${goodTillDate.slice(11, 19)}`;
    const placed = await rest.post<Placed>(
      '/orders',
      aapl({
        side: 'BUY',
        orderType: 'LMT',
        limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
        tif: 'GTD',
        goodTillDate,
      }),
    );
    expect(placed.status).toBe(200);
    expect(openOrder(simulator, placed.body.orderId)).toMatchObject({
      tif: 'GTD',
      goodTillDate: ibForm,
    });
    await eventually(async () => {
      const status = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${placed.body.orderId}`);
      return status.body.order.goodTillDate === goodTillDate ? true : undefined;
    });

    const before = brokerState(simulator);
    const past = await rest.post<ErrorBody>(
      '/orders',
      aapl({
        side: 'BUY',
        orderType: 'LMT',
        limitPrice: 100,
        tif: 'GTD',
        goodTillDate: new Date(Date.now() - 60_000).toISOString(),
      }),
    );
    expect(past.status).toBe(400);
    expect(past.body.message).toContain('goodTillDate');
    expect(past.body.message).toContain('must be in the future');
    const missing = await rest.post<ErrorBody>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'LMT', limitPrice: 100, tif: 'GTD' }),
    );
    expect(missing.status).toBe(400);
    expect(brokerState(simulator)).toEqual(before);
  });

  it('refuses a price off the tick size with 400 naming it, or rounds it toward the passive side when asked', async () => {
    const before = brokerState(simulator);
    const limit = round(restingPrice(simulator, AAPL_CON_ID, 'BUY')) + 0.005;
    const refused = await rest.post<ErrorBody>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'LMT', limitPrice: limit }),
    );
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('tick size 0.01');
    const overMcp = await callTool(
      mcp,
      'preview_order',
      aapl({ side: 'SELL', orderType: 'STP', stopPrice: limit }),
    );
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toContain('tick size 0.01');
    expect(brokerState(simulator)).toEqual(before);

    const rounded = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'LMT', limitPrice: limit, roundToTick: true }),
    );
    expect(rounded.status).toBe(200);
    const used = round(limit - 0.005);
    expect(rounded.body.priceAdjustments).toEqual([
      { field: 'limitPrice', requested: limit, used, tickSize: 0.01 },
    ]);
    expect(openOrder(simulator, rounded.body.orderId)).toMatchObject({ lmtPrice: used });

    const sell = await rest.post<Placed>(
      '/orders/preview',
      aapl({ side: 'SELL', orderType: 'LMT', limitPrice: 1000.005, roundToTick: true }),
    );
    expect(sell.status).toBe(200);
    expect(sell.body.priceAdjustments).toEqual([
      { field: 'limitPrice', requested: 1000.005, used: 1000.01, tickSize: 0.01 },
    ]);

    const modified = await rest.post<ErrorBody>(`/orders/${rounded.body.orderId}/modify`, {
      limitPrice: limit,
    });
    expect(modified.status).toBe(400);
    expect(modified.body.message).toContain('tick size 0.01');
  });

  it('modifies the trigger of a working MIT order', async () => {
    const trigger = restingPrice(simulator, AAPL_CON_ID, 'BUY');
    const placed = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'MIT', stopPrice: trigger }),
    );
    await eventually(() =>
      openOrder(simulator, placed.body.orderId)?.status === 'PreSubmitted' ? true : undefined,
    );
    const lower = round(trigger - 1);
    const modified = await rest.post<OrderView>(`/orders/${placed.body.orderId}/modify`, {
      stopPrice: lower,
    });
    expect(modified.status).toBe(200);
    expect(openOrder(simulator, placed.body.orderId)).toMatchObject({ orderType: 'MIT', auxPrice: lower });
  });

  it('refuses MOC after the cutoff as IB does, and an unknown order type with 400, changing nothing', async () => {
    simulator.setClock(AFTER_CUTOFF);
    const before = orders();
    const late = await rest.post<ErrorBody>('/orders', aapl({ side: 'BUY', orderType: 'MOC' }));
    expect(late.status).toBe(400);
    expect(late.body.message).toContain('cutoff');
    const unknown = await rest.post<ErrorBody>('/orders', aapl({ side: 'BUY', orderType: 'PEG MID' }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('orderType');
    expect(orders()).toEqual(before);
  });

  it('places an OCA group: when one member fills, the broker cancels the other', async () => {
    const group = 'e2e-oca';
    const resting = await rest.post<Placed>(
      '/orders',
      aapl({
        side: 'BUY',
        orderType: 'LMT',
        limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
        ocaGroup: group,
      }),
    );
    expect(resting.status).toBe(200);
    expect(openOrder(simulator, resting.body.orderId)).toMatchObject({ ocaGroup: group, ocaType: 1 });
    const marketable = await callTool<Placed>(
      mcp,
      'place_order',
      aapl({
        side: 'BUY',
        orderType: 'LMT',
        limitPrice: round(marketPrice(simulator, AAPL_CON_ID) * 1.02),
        ocaGroup: group,
        ocaType: 1,
      }),
    );
    expect(marketable.isError).toBe(false);
    await eventually(async () => {
      const status = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${resting.body.orderId}`);
      return status.body.order.status === 'Cancelled' ? true : undefined;
    });
    expect(openOrder(simulator, resting.body.orderId)).toBeUndefined();
  });
});
