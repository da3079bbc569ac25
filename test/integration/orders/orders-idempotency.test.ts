import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';
import {
  AAPL_CON_ID,
  brokerState,
  callTool,
  eventually,
  MARKET_OPEN,
  openOrder,
  positionOf,
  restClient,
  restingPrice,
} from './orders-harness';

interface Placed {
  orderId: number;
  orders: { orderId: number; status: string; filled: number; idempotencyKey?: string }[];
  bracket?: { parentOrderId: number; takeProfitOrderId: number; stopLossOrderId: number };
  idempotencyKey?: string;
  replayed: boolean;
}
interface JournalEntry {
  type: string;
  operation?: string;
  event?: string;
  orderId?: number;
  orderIds?: number[];
}

/** Open orders at the broker placed with this key (orderRef carries it). */
function ordersWithId(simulator: IbGatewaySimulator, orderId: number): number {
  return simulator.broker.snapshot().openOrders.filter((order) => order.orderId === orderId).length;
}

describe('idempotency keys: a retry returns the original order, also across a supervisor restart', () => {
  let simulator: IbGatewaySimulator;
  let config: AppConfig;
  let service: RunningService | undefined;
  let mcp: Client | undefined;

  beforeAll(async () => {
    // The simulator outlives the supervisors, like a real IB Gateway does.
    simulator = new IbGatewaySimulator({ seed: 7 });
    await simulator.start();
    simulator.setClock(MARKET_OPEN);
    config = testConfig();
  });

  afterAll(async () => {
    await mcp?.close();
    await service?.close();
    await simulator.stop();
  });

  async function startSupervisor(): Promise<{ rest: ReturnType<typeof restClient>; mcp: Client }> {
    await mcp?.close();
    await service?.close();
    service = await startTestService(config, { simulator });
    mcp = await connectMcpClient(service);
    return { rest: restClient(service), mcp };
  }

  it('places an order once when the same key is sent twice (REST, then MCP)', async () => {
    const { rest, mcp: client } = await startSupervisor();
    const order = {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 5,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
      idempotencyKey: 'retry-once-1',
    };
    const first = await rest.post<Placed>('/orders', order);
    expect(first.status).toBe(200);
    expect(first.body.replayed).toBe(false);
    const idsAfterFirst = brokerState(simulator).nextValidOrderId;

    const second = await callTool<Placed>(client, 'place_order', order);
    expect(second.isError).toBe(false);
    expect(second.structured.replayed).toBe(true);
    expect(second.structured.orderId).toBe(first.body.orderId);
    expect(second.structured.orders[0]?.idempotencyKey).toBe('retry-once-1');
    expect(ordersWithId(simulator, first.body.orderId)).toBe(1);
    expect(simulator.broker.snapshot().openOrders).toHaveLength(1);
    // The retry asked the broker for nothing: no new order id was handed out.
    expect(brokerState(simulator).nextValidOrderId).toBe(idsAfterFirst);
  });

  it('places one order when many retries with one key arrive at once', async () => {
    const { rest } = await startSupervisor();
    const before = simulator.broker.snapshot().openOrders.length;
    const order = {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 2,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
      idempotencyKey: 'concurrent-1',
    };
    const answers = await Promise.all(
      Array.from({ length: 5 }, async () => rest.post<Placed>('/orders', order)),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(answers.map((answer) => answer.body.orderId)).size).toBe(1);
    expect(answers.filter((answer) => !answer.body.replayed)).toHaveLength(1);
    expect(simulator.broker.snapshot().openOrders).toHaveLength(before + 1);
  });

  it('refuses the same key with different parameters (409) and places nothing', async () => {
    const { rest, mcp: client } = await startSupervisor();
    const order = {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 5,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
      idempotencyKey: 'conflict-1',
    };
    const first = await rest.post<Placed>('/orders', order);
    expect(first.status).toBe(200);
    const before = brokerState(simulator);
    const changed = await rest.post<{ code: string; message: string }>('/orders', { ...order, quantity: 6 });
    expect(changed.status).toBe(409);
    expect(changed.body.code).toBe('CONFLICT');
    expect(changed.body.message).toContain('conflict-1');
    expect(changed.body.message).toContain(String(first.body.orderId));
    const viaMcp = await callTool(client, 'place_order', { ...order, side: 'SELL' });
    expect(viaMcp.isError).toBe(true);
    expect(viaMcp.text).toContain('conflict-1');
    expect(brokerState(simulator)).toEqual(before);
  });

  it('frees a key whose order IB rejected: the retry is judged again, not replayed; its status says rejected', async () => {
    const { rest } = await startSupervisor();
    const rejected = {
      symbol: 'SPX',
      secType: 'IND',
      exchange: 'CBOE',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: 10,
      idempotencyKey: 'rejected-1',
    };
    const first = await rest.post<{ code: string; ibCode: number }>('/orders', rejected);
    expect([first.status, first.body.ibCode]).toEqual([400, 201]);
    const retry = await rest.post<{ code: string; ibCode: number }>('/orders', rejected);
    expect([retry.status, retry.body.ibCode]).toEqual([400, 201]);
    const status = await rest.get<{ order: { status: string; lastError?: { code: number } } }>(
      '/orders/status?idempotencyKey=rejected-1',
    );
    expect([status.status, status.body.order.status, status.body.order.lastError?.code]).toEqual([
      200,
      'Inactive',
      201,
    ]);
  });

  it('has the request, what was sent, the broker acknowledgement and the outcome on disk when it answers', async () => {
    const { rest } = await startSupervisor();
    const placed = await rest.post<Placed>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
    });
    // Read the file right away, not through the API.
    const onDisk = readFileSync(join(config.dataDir, 'order-journal.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as JournalEntry & { requestId?: string });
    const sent = onDisk.find(
      (entry) => entry.type === 'sent' && entry.orderIds?.includes(placed.body.orderId),
    );
    expect(sent).toBeDefined();
    const requestId = sent?.requestId;
    expect(onDisk.some((entry) => entry.type === 'request' && entry.requestId === requestId)).toBe(true);
    expect(
      onDisk.some(
        (entry) =>
          entry.type === 'response' && entry.event === 'openOrder' && entry.orderId === placed.body.orderId,
      ),
    ).toBe(true);
    expect(onDisk.some((entry) => entry.type === 'outcome' && entry.requestId === requestId)).toBe(true);
  });

  it('returns the original resting order, not a second one, when the retry comes after a restart', async () => {
    const order = {
      symbol: 'AAPL',
      side: 'SELL',
      quantity: 3,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'SELL'),
      idempotencyKey: 'across-restart-lmt',
    };
    const before = await startSupervisor();
    const first = await before.rest.post<Placed>('/orders', order);
    expect(first.status).toBe(200);
    const orderId = first.body.orderId;

    const after = await startSupervisor();
    const retry = await after.rest.post<Placed>('/orders', order);
    expect(retry.status).toBe(200);
    expect(retry.body.replayed).toBe(true);
    expect(retry.body.orderId).toBe(orderId);
    expect(retry.body.orders[0]?.status).toBe(openOrder(simulator, orderId)?.status);
    expect(ordersWithId(simulator, orderId)).toBe(1);
    const sameKey = simulator.broker
      .snapshot()
      .openOrders.filter((open) => open.action === 'SELL' && open.totalQuantity === 3);
    expect(sameKey).toHaveLength(1);
    // And it is still the supervisor's order to manage: cancel works after the restart.
    const cancelled = await after.rest.delete<{ status: string }>(`/orders/${orderId}`);
    expect(cancelled.body.status).toBe('Cancelled');
    expect(openOrder(simulator, orderId)).toBeUndefined();
  });

  it('returns the original filled market order after a restart: still one fill, one position change', async () => {
    const order = {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 4,
      orderType: 'MKT',
      idempotencyKey: 'across-restart-mkt',
    };
    const first = await startSupervisor();
    const positionBefore = positionOf(simulator, AAPL_CON_ID);
    const placed = await callTool<Placed>(first.mcp, 'place_order', order);
    expect(placed.isError).toBe(false);
    await eventually(() => (positionOf(simulator, AAPL_CON_ID) === positionBefore + 4 ? true : undefined));
    // Let the fill reach the journal before the supervisor stops.
    await eventually(async () => {
      const status = await first.rest.get<{ order: { status: string } }>(
        `/orders/status?orderId=${placed.structured.orderId}`,
      );
      return status.body.order.status === 'Filled' ? true : undefined;
    });
    const executions = simulator.broker.snapshot().executions;

    const second = await startSupervisor();
    const retry = await callTool<Placed>(second.mcp, 'place_order', order);
    expect(retry.isError).toBe(false);
    expect(retry.structured).toMatchObject({ replayed: true, orderId: placed.structured.orderId });
    expect(retry.structured.orders[0]).toMatchObject({ status: 'Filled', filled: 4 });
    expect(simulator.broker.snapshot().executions).toBe(executions);
    expect(positionOf(simulator, AAPL_CON_ID)).toBe(positionBefore + 4);
    const byKey = await second.rest.get<{ order: { orderId: number; status: string } }>(
      '/orders/status?idempotencyKey=across-restart-mkt',
    );
    expect(byKey.body.order).toMatchObject({ orderId: placed.structured.orderId, status: 'Filled' });
  });

  it('returns a whole bracket after a restart', async () => {
    const entry = restingPrice(simulator, AAPL_CON_ID, 'BUY');
    const order = {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: entry,
      bracket: { takeProfitPrice: entry + 10, stopLossPrice: entry - 10 },
      idempotencyKey: 'across-restart-bracket',
    };
    const first = await startSupervisor();
    const placed = await first.rest.post<Placed>('/orders', order);
    expect(placed.status).toBe(200);
    const openBefore = simulator.broker.snapshot().openOrders.length;
    const second = await startSupervisor();
    const retry = await second.rest.post<Placed>('/orders', order);
    expect(retry.body.replayed).toBe(true);
    expect(retry.body.bracket).toEqual(placed.body.bracket);
    expect(simulator.broker.snapshot().openOrders).toHaveLength(openBefore);
  });

  it('reports an order that filled while the supervisor was down as Filled after the restart', async () => {
    // Saturday: the stock market is closed, so a marketable limit order waits.
    simulator.setClock(Date.parse('2025-06-14T15:00:00Z'));
    const first = await startSupervisor();
    const placed = await first.rest.post<Placed>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: Math.round(simulator.market.quote(AAPL_CON_ID).last * 1.5 * 100) / 100,
      idempotencyKey: 'filled-while-down',
    });
    expect(placed.status).toBe(200);
    const orderId = placed.body.orderId;
    expect(openOrder(simulator, orderId)?.status).toBe('PreSubmitted');
    await mcp?.close();
    mcp = undefined;
    await service?.close();
    service = undefined;

    simulator.setClock(MARKET_OPEN);
    await eventually(() => (openOrder(simulator, orderId) === undefined ? true : undefined));

    const second = await startSupervisor();
    const status = await eventually(async () => {
      const answer = await second.rest.get<{ order: { status: string; filled: number } }>(
        `/orders/status?orderId=${orderId}`,
      );
      return answer.body.order.status === 'Filled' ? answer.body.order : undefined;
    });
    expect(status.filled).toBe(1);
    // The fill's execution report is fetched beside the reconciled status: the journal has it moments later.
    const events = await eventually(async () => {
      const journal = await second.rest.get<{ entries: JournalEntry[] }>(
        `/orders/journal?orderId=${orderId}`,
      );
      const seen = journal.body.entries.map((entry) => entry.event);
      return seen.includes('execDetails') ? seen : undefined;
    });
    expect(events).toEqual(expect.arrayContaining(['reconciled', 'execDetails']));
  });

  it('keeps the audit journal across restarts: it lists every order placed by each supervisor', async () => {
    const first = await startSupervisor();
    const placedBefore = await first.rest.post<Placed>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
    });
    const second = await startSupervisor();
    const placedAfter = await second.rest.post<Placed>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 2,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
    });
    const journal = await second.rest.get<{ entries: JournalEntry[] }>('/orders/journal?limit=1000');
    const placedIds = journal.body.entries
      .filter((entry) => entry.type === 'sent' && entry.operation === 'place_order')
      .flatMap((entry) => entry.orderIds ?? []);
    // Every order of every supervisor in this test file; the broker answered each (accepted or rejected).
    const everyPlaced = [...new Set(placedIds)];
    expect(everyPlaced).toEqual(
      expect.arrayContaining([placedBefore.body.orderId, placedAfter.body.orderId]),
    );
    expect(everyPlaced.length).toBeGreaterThanOrEqual(8);
    const acknowledged = new Set(
      journal.body.entries
        .filter(
          (entry) => entry.type === 'response' && (entry.event === 'openOrder' || entry.event === 'error'),
        )
        .map((entry) => entry.orderId),
    );
    for (const orderId of everyPlaced) expect(acknowledged.has(orderId)).toBe(true);

    // The file itself: one JSON object per line, holding no secret of the config.
    const lines = readFileSync(join(config.dataDir, 'order-journal.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBe(journal.body.entries.length);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });
});
