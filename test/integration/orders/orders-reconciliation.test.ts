import { OrderAction, OrderType, SecType, TimeInForce } from '@stoqey/ib';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { fingerprintOf, IDEMPOTENCY_KEYS_FILE } from '../../../src/orders/idempotency-key.repository';
import { PlaceOrderInput } from '../../../src/orders/orders.schemas';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient } from '../../support/ib-client';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';
import { AAPL_CON_ID, callTool, eventually, MARKET_OPEN, restClient, restingPrice } from './orders-harness';

interface Placed {
  orderId: number;
  orders: { orderId: number; status: string }[];
  replayed: boolean;
}
interface ErrorBody {
  code: string;
  message: string;
  retryAfterSeconds?: number;
}
interface Status {
  order: { orderId: number; status: string; idempotencyKey?: string };
}

/**
 * Whether an uncertain idempotency key's order exists is asked of IB (open orders of every client, completed
 * orders, executions: the key is the order's orderRef), on start-up, on every reconnect, and when the key is
 * answered for. These tests make the uncertainty the way a crash or a dropped connection leaves it.
 */
describe('reconciling uncertain idempotency keys with the broker', () => {
  let simulator: IbGatewaySimulator;
  let config: AppConfig;
  let service: RunningService | undefined;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: 11 });
    await simulator.start();
    simulator.setClock(MARKET_OPEN);
  });

  beforeEach(() => {
    config = testConfig({ ib: { tradingMode: 'paper', clientId: 7 } });
  });

  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  afterAll(async () => {
    await simulator.stop();
  });

  function restingOrder(key: string) {
    return {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
      idempotencyKey: key,
    };
  }

  /** What a supervisor killed right after fsyncing the key (before or after the send) leaves on disk. */
  function leaveReservedKey(
    order: ReturnType<typeof restingOrder>,
    orderId: number,
    at = new Date().toISOString(),
  ): void {
    const { idempotencyKey: key, ...parameters } = PlaceOrderInput.parse(order);
    mkdirSync(config.dataDir, { recursive: true });
    const line = {
      key,
      fingerprint: fingerprintOf(parameters),
      orderIds: [orderId],
      state: 'reserved',
      at,
    };
    appendFileSync(join(config.dataDir, IDEMPOTENCY_KEYS_FILE), `${JSON.stringify(line)}\n`);
  }

  function brokerOrdersWithRef(key: string) {
    return simulator.broker.snapshot().orders.filter((order) => order.orderRef === key);
  }

  async function start() {
    service = await startTestService(config, { simulator });
    return restClient(service);
  }

  it('places, exactly once, an order whose key was fsynced but which never reached IB (crash before the send)', async () => {
    const order = restingOrder('crashed-before-send');
    leaveReservedKey(order, simulator.broker.snapshot().nextValidOrderId + 40);
    const rest = await start();

    const status = await eventually(async () => {
      const answer = await rest.get<ErrorBody>('/orders/status?idempotencyKey=crashed-before-send');
      return answer.status === 404 ? answer : undefined;
    });
    expect(status.body.message).toMatch(/IB was asked and has none/);
    expect(brokerOrdersWithRef('crashed-before-send')).toHaveLength(0);

    const retry = await rest.post<Placed>('/orders', order);
    expect(retry.status).toBe(200);
    expect(retry.body.replayed).toBe(false);
    const again = await rest.post<Placed>('/orders', order);
    expect([again.status, again.body.replayed, again.body.orderId]).toEqual([200, true, retry.body.orderId]);
    expect(brokerOrdersWithRef('crashed-before-send')).toHaveLength(1);
    const after = await rest.get<Status>('/orders/status?idempotencyKey=crashed-before-send');
    expect(after.body.order).toMatchObject({ orderId: retry.body.orderId, status: 'Submitted' });
  });

  it('adopts an order IB got before the crash (the journal never saw it sent): no second order, its real state', async () => {
    const order = restingOrder('crashed-after-send');
    const orderId = simulator.broker.snapshot().nextValidOrderId + 60;
    leaveReservedKey(order, orderId);
    // The crashed supervisor's session (same client id) had sent it.
    const crashed = await connectClient(simulator.port, { clientId: 7 });
    crashed.ib.placeOrder(
      orderId,
      { conId: AAPL_CON_ID, symbol: 'AAPL', secType: SecType.STK, exchange: 'SMART', currency: 'USD' },
      {
        action: OrderAction.BUY,
        totalQuantity: 1,
        orderType: OrderType.LMT,
        lmtPrice: order.limitPrice,
        tif: TimeInForce.DAY,
        transmit: true,
        orderRef: 'crashed-after-send',
      },
    );
    await eventually(() => (brokerOrdersWithRef('crashed-after-send').length === 1 ? true : undefined));
    crashed.disconnect();

    const rest = await start();
    const status = await eventually(async () => {
      const answer = await rest.get<Status>('/orders/status?idempotencyKey=crashed-after-send');
      return answer.status === 200 ? answer : undefined;
    });
    expect(status.body.order).toMatchObject({ orderId, status: 'Submitted' });
    const retry = await rest.post<Placed>('/orders', order);
    expect([retry.status, retry.body.replayed, retry.body.orderId]).toEqual([200, true, orderId]);
    expect(retry.body.orders[0]?.status).toBe('Submitted');
    expect(brokerOrdersWithRef('crashed-after-send')).toHaveLength(1);
    const journal = await rest.get<{ entries: { event?: string }[] }>(`/orders/journal?orderId=${orderId}`);
    expect(journal.body.entries.map((entry) => entry.event)).toContain('reconciled');
  });

  it.each(['before-accepting', 'after-accepting'] as const)(
    'answers 503 when the connection drops while the order is sent (%s); the retry finds or places it, once',
    async (when) => {
      const rest = await start();
      const key = `dropped-${when}`;
      const order = restingOrder(key);
      simulator.dropConnectionsOnNextOrder(when);
      const first = await rest.post<ErrorBody>('/orders', order);
      expect([first.status, first.body.code]).toEqual([503, 'ORDER_STATE_UNKNOWN']);
      expect(first.body.message).toContain(`retry with idempotency key ${key}`);
      expect(first.body.message).not.toMatch(/retry is safe/);
      expect(brokerOrdersWithRef(key)).toHaveLength(when === 'after-accepting' ? 1 : 0);

      const retry = await eventually(async () => {
        const answer = await rest.post<Placed>('/orders', order);
        return answer.status === 200 ? answer : undefined;
      }, 20_000);
      expect(retry.body.replayed).toBe(when === 'after-accepting');
      expect(brokerOrdersWithRef(key)).toHaveLength(1);
      expect(brokerOrdersWithRef(key)[0]?.orderId).toBe(retry.body.orderId);
      const status = await rest.get<Status>(`/orders/status?idempotencyKey=${key}`);
      expect(status.body.order).toMatchObject({ orderId: retry.body.orderId, status: 'Submitted' });
    },
  );

  it('never re-places an uncertain key too old for IB lists to prove it absent: 409 saying why', async () => {
    const order = restingOrder('uncertain-for-days');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
    leaveReservedKey(order, simulator.broker.snapshot().nextValidOrderId + 90, twoDaysAgo);
    const rest = await start();
    for (const answer of [
      await rest.post<ErrorBody>('/orders', order),
      await rest.get<ErrorBody>('/orders/status?idempotencyKey=uncertain-for-days'),
    ]) {
      expect([answer.status, answer.body.code]).toEqual([409, 'CONFLICT']);
      expect(answer.body.message).toMatch(/current day only, so it cannot be told any more/);
    }
    expect(brokerOrdersWithRef('uncertain-for-days')).toHaveLength(0);
  });

  it("keeps its orders its own when IB gave it another client id (326): open orders, fills, a later run's", async () => {
    const squatter = await connectClient(simulator.port, { clientId: 7 }); // a user's script took our id
    let rest = await start();
    const resting = await rest.post<Placed>('/orders', restingOrder('collided-resting'));
    expect(resting.status).toBe(200);
    expect(brokerOrdersWithRef('collided-resting')[0]?.clientId).toBe(8);
    const filled = await rest.post<Placed>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'MKT',
      idempotencyKey: 'collided-filled',
    });
    expect(filled.status).toBe(200);
    const status = await eventually(async () => {
      const answer = await rest.get<{ order: { status: string; commission?: number } }>(
        '/orders/status?idempotencyKey=collided-filled',
      );
      return answer.body.order.commission !== undefined ? answer.body.order : undefined;
    }, 10_000);
    expect(status.status).toBe('Filled');

    // The next run gets the configured id back: the orders its predecessor placed as client 8 are still its own.
    await service?.close();
    squatter.disconnect();
    rest = await start();
    const open = await eventually(async () => {
      const answer = await rest.get<{ orders: { orderId: number; idempotencyKey?: string }[] }>(
        '/orders/open',
      );
      return answer.body.orders.find((order) => order.orderId === resting.body.orderId);
    });
    expect(open.idempotencyKey).toBe('collided-resting');
  });

  it('answers 503 ORDER_STATE_UNKNOWN, never 200, for an uncertain key while IB cannot be asked', async () => {
    const order = restingOrder('uncertain-while-down');
    leaveReservedKey(order, simulator.broker.snapshot().nextValidOrderId + 80);
    const rest = await start();
    await eventually(async () => {
      const answer = await rest.get('/orders/status?idempotencyKey=uncertain-while-down');
      return answer.status === 404 ? true : undefined;
    });
    // Settled as absent; a new uncertainty arrives with a key left by another crash while the session is down.
    await service?.close();
    const second = restingOrder('uncertain-while-down-2');
    leaveReservedKey(second, simulator.broker.snapshot().nextValidOrderId + 81);
    simulator.login.set('starting'); // the gateway is down: API connections are refused
    try {
      service = undefined;
      const { startService } = await import('../../../src/main');
      service = await startService(config, { simulator });
      const down = restClient(service);
      for (const answer of [
        await down.post<ErrorBody>('/orders', second),
        await down.get<ErrorBody>('/orders/status?idempotencyKey=uncertain-while-down-2'),
      ]) {
        expect(answer.status).toBe(503);
        expect(answer.body.code).toBe('ORDER_STATE_UNKNOWN');
        expect(answer.body.retryAfterSeconds).toBeGreaterThan(0);
        expect(answer.body.message).not.toMatch(/retry is safe/);
      }
      const mcp = await connectMcpClient(service);
      try {
        const tool = await callTool<ErrorBody>(mcp, 'place_order', second);
        expect([tool.isError, tool.structured.code]).toEqual([true, 'ORDER_STATE_UNKNOWN']);
      } finally {
        await mcp.close();
      }
      expect(brokerOrdersWithRef('uncertain-while-down-2')).toHaveLength(0);
    } finally {
      simulator.login.set('logged-in');
    }
    const up = restClient(service);
    const placed = await eventually(async () => {
      const answer = await up.post<Placed>('/orders', second);
      return answer.status === 200 ? answer : undefined;
    }, 20_000);
    expect(placed.body.replayed).toBe(false);
    expect(brokerOrdersWithRef('uncertain-while-down-2')).toHaveLength(1);
  });
});
