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
  openOrder,
  restClient,
  restingPrice,
} from './orders-harness';

interface OrderView {
  orderId: number;
  parentId?: number;
  status: string;
  orderType: string;
  staged?: boolean;
  filled: number;
}
interface Placed {
  orderId: number;
  orders: OrderView[];
  bracket?: { parentOrderId: number; takeProfitOrderId: number; stopLossOrderId: number };
}
interface ErrorBody {
  code: string;
  message: string;
}
interface Journal {
  entries: { type: string; operation?: string; ibOrder?: { transmit?: boolean } }[];
}

const round = (price: number) => Math.round(price * 100) / 100;

describe('staged orders (transmit: false, transmit_order), brackets with MIT/LIT entries, REL percentOffset', () => {
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
  const sentEntries = async (orderId: number, operation: string) =>
    (await rest.get<Journal>(`/orders/journal?orderId=${orderId}`)).body.entries.filter(
      (entry) => entry.type === 'sent' && entry.operation === operation,
    );

  it('stages a marketable order over REST (held at IB, not filling), then transmit_order sends it once', async () => {
    const placed = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'MKT', transmit: false }),
    );
    expect(placed.status).toBe(200);
    const orderId = placed.body.orderId;
    expect(placed.body.orders[0]).toMatchObject({ staged: true, status: 'PreSubmitted' });
    expect(openOrder(simulator, orderId)).toMatchObject({ held: true, status: 'PreSubmitted', filled: 0 });
    // A market order that is held does not fill.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(openOrder(simulator, orderId)).toMatchObject({ held: true, filled: 0 });
    const status = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${orderId}`);
    expect(status.body.order).toMatchObject({ staged: true, filled: 0 });
    const [placeSent] = await sentEntries(orderId, 'place_order');
    expect(placeSent).toBeDefined();

    const transmitted = await rest.post<OrderView>(`/orders/${orderId}/transmit`, {});
    expect(transmitted.status).toBe(200);
    expect(transmitted.body.staged).toBe(false);
    await eventually(async () => {
      const now = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${orderId}`);
      return now.body.order.status === 'Filled' ? true : undefined;
    });
    const broker = simulator.broker.snapshot().orders.find((order) => order.orderId === orderId);
    expect(broker).toMatchObject({ status: 'Filled', filled: 10 });
    expect(broker?.held).toBeUndefined();
    const transmitSent = await sentEntries(orderId, 'transmit_order');
    expect(transmitSent).toHaveLength(1);
    expect(transmitSent[0]?.ibOrder?.transmit).toBe(true);

    // Idempotent: a second transmit answers the state and sends nothing.
    const executions = brokerState(simulator).executions;
    const again = await callTool<OrderView>(mcp, 'transmit_order', { orderId });
    expect(again.isError).toBe(false);
    expect(again.structured).toMatchObject({ orderId, status: 'Filled', staged: false });
    expect(await sentEntries(orderId, 'transmit_order')).toHaveLength(1);
    expect(brokerState(simulator).executions).toBe(executions);
  });

  it('stages a LMT over MCP; modify keeps it staged; transmit over MCP makes it work', async () => {
    const limit = restingPrice(simulator, AAPL_CON_ID, 'BUY');
    const placed = await callTool<Placed>(
      mcp,
      'place_order',
      aapl({ side: 'BUY', orderType: 'LMT', limitPrice: limit, transmit: false }),
    );
    expect(placed.isError).toBe(false);
    const orderId = placed.structured.orderId;
    const modified = await rest.post<OrderView>(`/orders/${orderId}/modify`, { quantity: 12 });
    expect(modified.status).toBe(200);
    expect(modified.body.staged).toBe(true);
    expect(openOrder(simulator, orderId)).toMatchObject({ held: true, totalQuantity: 12 });
    const transmitted = await callTool<OrderView>(mcp, 'transmit_order', { orderId });
    expect(transmitted.isError).toBe(false);
    expect(transmitted.structured).toMatchObject({ staged: false });
    const working = openOrder(simulator, orderId);
    expect(working).toMatchObject({ status: 'Submitted', totalQuantity: 12, lmtPrice: limit });
    expect(working?.held).toBeUndefined();
  });

  it('answers 404 for an unknown id and 409 for an order neither staged nor working; nothing changes at the broker', async () => {
    const before = brokerState(simulator);
    const unknown = await rest.post<ErrorBody>('/orders/987654/transmit', {});
    expect(unknown.status).toBe(404);
    const overMcp = await callTool<ErrorBody>(mcp, 'transmit_order', { orderId: 987654 });
    expect(overMcp.isError).toBe(true);
    expect(overMcp.structured.code).toBe('NOT_FOUND');
    expect(brokerState(simulator)).toEqual(before);

    const filled = await rest.post<Placed>('/orders', aapl({ side: 'BUY', orderType: 'MKT', quantity: 1 }));
    await eventually(async () => {
      const now = await rest.get<{ order: OrderView }>(`/orders/status?orderId=${filled.body.orderId}`);
      return now.body.order.status === 'Filled' ? true : undefined;
    });
    const afterFill = brokerState(simulator);
    const conflict = await rest.post<ErrorBody>(`/orders/${filled.body.orderId}/transmit`, {});
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toContain('was not staged');
    expect(brokerState(simulator)).toEqual(afterFill);
    // A working order placed normally is already transmitted: answered as it stands.
    const working = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'LMT', limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY') }),
    );
    const answered = await rest.post<OrderView>(`/orders/${working.body.orderId}/transmit`, {});
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ orderId: working.body.orderId, status: 'Submitted' });
    expect(await sentEntries(working.body.orderId, 'transmit_order')).toHaveLength(0);
  });

  it('places brackets with MIT (REST) and LIT (MCP) entries; refuses TRAIL and MOC entries with 400', async () => {
    const trigger = restingPrice(simulator, AAPL_CON_ID, 'BUY');
    const mit = await rest.post<Placed>(
      '/orders',
      aapl({
        side: 'BUY',
        orderType: 'MIT',
        stopPrice: trigger,
        bracket: { takeProfitPrice: round(trigger * 1.1), stopLossPrice: round(trigger * 0.9) },
      }),
    );
    expect(mit.status).toBe(200);
    const ids = mit.body.bracket;
    expect(ids).toBeDefined();
    expect(openOrder(simulator, ids?.parentOrderId ?? 0)).toMatchObject({
      orderType: 'MIT',
      auxPrice: trigger,
    });
    expect(openOrder(simulator, ids?.takeProfitOrderId ?? 0)).toMatchObject({
      orderType: 'LMT',
      parentId: ids?.parentOrderId,
    });
    expect(openOrder(simulator, ids?.stopLossOrderId ?? 0)).toMatchObject({
      orderType: 'STP',
      parentId: ids?.parentOrderId,
    });

    const lit = await callTool<Placed>(
      mcp,
      'place_order',
      aapl({
        side: 'BUY',
        orderType: 'LIT',
        stopPrice: trigger,
        limitPrice: round(trigger + 0.1),
        bracket: { takeProfitPrice: round(trigger * 1.1), stopLossPrice: round(trigger * 0.9) },
      }),
    );
    expect(lit.isError).toBe(false);
    expect(lit.structured.orders.map((order) => order.orderType)).toEqual(['LIT', 'LMT', 'STP']);

    // The side checks apply against the LIT's limit.
    const wrongSide = await rest.post<ErrorBody>(
      '/orders',
      aapl({
        side: 'BUY',
        orderType: 'LIT',
        stopPrice: trigger,
        limitPrice: round(trigger + 0.1),
        bracket: { takeProfitPrice: round(trigger * 0.95), stopLossPrice: round(trigger * 0.9) },
      }),
    );
    expect(wrongSide.status).toBe(400);
    expect(wrongSide.body.message).toContain('takeProfitPrice');

    const before = brokerState(simulator);
    for (const entry of [{ orderType: 'TRAIL', trailingPercent: 5 }, { orderType: 'MOC' }]) {
      const refused = await rest.post<ErrorBody>(
        '/orders',
        aapl({ side: 'BUY', ...entry, bracket: { takeProfitPrice: 300, stopLossPrice: 100 } }),
      );
      expect(refused.status).toBe(400);
      expect(refused.body.message).toContain(`not available with ${entry.orderType} entry orders`);
    }
    expect(brokerState(simulator)).toEqual(before);
  });

  it('places REL with percentOffset; refuses both offsets or none', async () => {
    const rel = await rest.post<Placed>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'REL', percentOffset: 0.5 }),
    );
    expect(rel.status).toBe(200);
    // Pegged half a percent beyond the bid it may well fill at once: the broker's whole book is asked.
    const atBroker = simulator.broker.snapshot().orders.find((order) => order.orderId === rel.body.orderId);
    expect(atBroker).toMatchObject({ orderType: 'REL', percentOffset: 0.5 });
    expect(atBroker?.auxPrice).toBeUndefined();
    const both = await rest.post<ErrorBody>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'REL', percentOffset: 0.5, pegOffset: 0.01 }),
    );
    expect(both.status).toBe(400);
    expect(both.body.message).toContain('exactly one of pegOffset or percentOffset');
    const none = await callTool<ErrorBody>(mcp, 'place_order', aapl({ side: 'BUY', orderType: 'REL' }));
    expect(none.isError).toBe(true);
    const tooMuch = await rest.post<ErrorBody>(
      '/orders',
      aapl({ side: 'BUY', orderType: 'REL', percentOffset: 150 }),
    );
    expect(tooMuch.status).toBe(400);
  });
});
