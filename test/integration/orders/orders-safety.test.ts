import type { AppConfig } from '../../../src/config/config.schema';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';
import {
  AAPL_CON_ID,
  brokerState,
  callTool,
  MARKET_OPEN,
  marketPrice,
  openOrder,
  restClient,
  restingPrice,
} from './orders-harness';

interface ErrorBody {
  code: string;
  message: string;
}
interface Placed {
  orderId: number;
}
interface JournalEntry {
  type: string;
  operation?: string;
  code?: string;
  message?: string;
}

/** A supervisor on the given simulator, with its REST and MCP clients. */
async function supervise(config: AppConfig, simulator: IbGatewaySimulator) {
  const service = await startTestService(config, { simulator });
  const mcp = await connectMcpClient(service);
  return {
    service,
    mcp,
    rest: restClient(service),
    close: async () => {
      await mcp.close();
      await service.close();
    },
  };
}

describe('order safety: read-only mode, live accounts, per-order limits', () => {
  const simulators: IbGatewaySimulator[] = [];

  async function startSimulator(accounts?: string[]): Promise<IbGatewaySimulator> {
    const simulator = new IbGatewaySimulator({ seed: 11, ...(accounts ? { accounts } : {}) });
    await simulator.start();
    simulator.setClock(MARKET_OPEN);
    simulators.push(simulator);
    return simulator;
  }

  afterAll(async () => {
    await Promise.all(simulators.map(async (simulator) => simulator.stop()));
  });

  describe('read-only mode', () => {
    let simulator: IbGatewaySimulator;
    let supervisor: Awaited<ReturnType<typeof supervise>>;
    let existingOrderId: number;

    beforeAll(async () => {
      simulator = await startSimulator();
      const config = testConfig();
      // An order placed before the supervisor restarts in read-only mode.
      const writable = await supervise(config, simulator);
      const placed = await writable.rest.post<Placed>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 1,
        orderType: 'LMT',
        limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
      });
      existingOrderId = placed.body.orderId;
      await writable.close();
      supervisor = await supervise({ ...config, orders: { ...config.orders, readOnly: true } }, simulator);
    });

    afterAll(async () => {
      await supervisor.close();
    });

    it('refuses place, modify, cancel and cancel-all over REST and MCP, and the broker is untouched', async () => {
      const before = brokerState(simulator);
      const { rest, mcp } = supervisor;
      const attempts: [string, Promise<{ status: number; body: ErrorBody }>][] = [
        ['place', rest.post('/orders', { symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'MKT' })],
        ['modify', rest.post(`/orders/${existingOrderId}/modify`, { quantity: 2 })],
        ['cancel', rest.delete(`/orders/${existingOrderId}`)],
        ['cancel all', rest.post('/orders/cancel-all', {})],
      ];
      for (const [name, attempt] of attempts) {
        const answer = await attempt;
        expect([name, answer.status, answer.body.code]).toEqual([name, 403, 'FORBIDDEN']);
        expect(answer.body.message).toContain('read-only mode');
        expect(answer.body.message).toContain('Nothing was sent to the broker');
      }
      const viaMcp = await Promise.all([
        callTool(mcp, 'place_order', { symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'MKT' }),
        callTool(mcp, 'modify_order', { orderId: existingOrderId, quantity: 2 }),
        callTool(mcp, 'cancel_order', { orderId: existingOrderId }),
        callTool(mcp, 'cancel_all_orders', {}),
      ]);
      for (const answer of viaMcp) {
        expect(answer.isError).toBe(true);
        expect(answer.text).toContain('read-only mode');
      }
      expect(brokerState(simulator)).toEqual(before);
      expect(openOrder(simulator, existingOrderId)).toMatchObject({ totalQuantity: 1 });
    });

    it('still previews, saying that placing would be refused; still reads orders', async () => {
      const preview = await supervisor.rest.post<{ safety: { allowed: boolean; refusal?: string } }>(
        '/orders/preview',
        { symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'MKT' },
      );
      expect(preview.status).toBe(200);
      expect(preview.body.safety.allowed).toBe(false);
      expect(preview.body.safety.refusal).toContain('read-only mode');
      const open = await supervisor.rest.get<{ orders: { orderId: number }[] }>('/orders/open');
      expect(open.body.orders.map((order) => order.orderId)).toContain(existingOrderId);
    });

    it('journals the refusals', async () => {
      const journal = await supervisor.rest.get<{ entries: JournalEntry[] }>('/orders/journal?limit=1000');
      const refusals = journal.body.entries.filter((entry) => entry.type === 'refusal');
      expect(refusals.map((entry) => entry.operation)).toEqual(
        expect.arrayContaining(['place_order', 'modify_order', 'cancel_order', 'cancel_all_orders']),
      );
      expect(refusals.every((entry) => entry.code === 'FORBIDDEN')).toBe(true);
    });
  });

  describe('per-order limits', () => {
    let simulator: IbGatewaySimulator;
    let supervisor: Awaited<ReturnType<typeof supervise>>;

    beforeAll(async () => {
      simulator = await startSimulator();
      const config = testConfig();
      supervisor = await supervise(
        { ...config, orders: { ...config.orders, maxQuantity: 10, maxNotional: 1000 } },
        simulator,
      );
    });

    afterAll(async () => {
      await supervisor.close();
    });

    it('refuses more than maxQuantity, naming the limit and the values', async () => {
      const before = brokerState(simulator);
      const answer = await supervisor.rest.post<ErrorBody>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 11,
        orderType: 'LMT',
        limitPrice: 1,
      });
      expect(answer.status).toBe(403);
      expect(answer.body.message).toContain(
        'quantity 11 exceeds the per-order limit orders.maxQuantity = 10',
      );
      const viaMcp = await callTool(supervisor.mcp, 'place_order', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 11,
        orderType: 'LMT',
        limitPrice: 1,
      });
      expect(viaMcp.isError).toBe(true);
      expect(viaMcp.text).toContain('orders.maxQuantity = 10');
      expect(brokerState(simulator)).toEqual(before);
    });

    it('refuses a limit order whose notional (quantity × limit price) exceeds maxNotional', async () => {
      const before = brokerState(simulator);
      const answer = await supervisor.rest.post<ErrorBody>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 10,
        orderType: 'LMT',
        limitPrice: 150,
      });
      expect(answer.status).toBe(403);
      expect(answer.body.message).toContain('notional 1500 USD (quantity 10 × limit price 150)');
      expect(answer.body.message).toContain('orders.maxNotional = 1000');
      expect(brokerState(simulator)).toEqual(before);
    });

    it('prices a market order at the current quote for the notional check', async () => {
      const before = brokerState(simulator);
      const last = marketPrice(simulator, AAPL_CON_ID);
      const quantity = Math.min(10, Math.ceil(1000 / last) + 1);
      const answer = await supervisor.rest.post<ErrorBody>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity,
        orderType: 'MKT',
      });
      expect(answer.status).toBe(403);
      expect(answer.body.message).toMatch(new RegExp(`quantity ${quantity} × current ask [0-9.]+\\)`));
      expect(brokerState(simulator)).toEqual(before);
    });

    it('places an order within the limits, then refuses to modify it beyond them', async () => {
      const placed = await supervisor.rest.post<Placed>('/orders', {
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 2,
        orderType: 'LMT',
        limitPrice: 100,
      });
      expect(placed.status).toBe(200);
      expect(openOrder(simulator, placed.body.orderId)).toMatchObject({ totalQuantity: 2, lmtPrice: 100 });
      const before = brokerState(simulator);
      const tooMany = await supervisor.rest.post<ErrorBody>(`/orders/${placed.body.orderId}/modify`, {
        quantity: 12,
      });
      expect(tooMany.status).toBe(403);
      expect(tooMany.body.message).toContain('orders.maxQuantity = 10');
      const tooRich = await callTool(supervisor.mcp, 'modify_order', {
        orderId: placed.body.orderId,
        limitPrice: 600,
      });
      expect(tooRich.isError).toBe(true);
      expect(tooRich.text).toContain('orders.maxNotional = 1000');
      expect(brokerState(simulator)).toEqual(before);
    });

    it("refuses a combo whose notional (|net limit| × quantity × the legs' multiplier) exceeds maxNotional", async () => {
      const [call] = simulator.market
        .instruments()
        .filter((instrument) => instrument.secType === 'OPT' && instrument.underlyingSymbol === 'AAPL');
      const leg = (strike: number, action: string) => ({
        symbol: 'AAPL',
        secType: 'OPT',
        expiry: call?.lastTradeDate,
        strike,
        right: call?.right,
        ratio: 1,
        action,
      });
      const strike = call?.strike ?? 0;
      const before = brokerState(simulator);
      // A credit of 4 a spread: |-4| × 3 × 100 = 1200.
      const answer = await supervisor.rest.post<ErrorBody>('/orders', {
        legs: [leg(strike, 'SELL'), leg(strike + 5, 'BUY')],
        side: 'BUY',
        quantity: 3,
        orderType: 'LMT',
        limitPrice: -4,
      });
      expect(answer.status).toBe(403);
      expect(answer.body.message).toContain('notional 1200 USD');
      expect(answer.body.message).toContain('combo notional per unit (net limit price)');
      expect(answer.body.message).toContain('orders.maxNotional = 1000');
      expect(brokerState(simulator)).toEqual(before);
    });

    it('previews an order over the limits, saying place_order would refuse it', async () => {
      const preview = await callTool<{ safety: { allowed: boolean; refusal?: string } }>(
        supervisor.mcp,
        'preview_order',
        { symbol: 'AAPL', side: 'BUY', quantity: 10, orderType: 'LMT', limitPrice: 150 },
      );
      expect(preview.isError).toBe(false);
      expect(preview.structured.safety.allowed).toBe(false);
      expect(preview.structured.safety.refusal).toContain('orders.maxNotional = 1000');
    });
  });

  describe('live accounts', () => {
    const order = { symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'LMT', limitPrice: 50 };

    it('refuses orders when the gateway manages a live (non-D) account', async () => {
      const simulator = await startSimulator(['U7654321']);
      const supervisor = await supervise(testConfig(), simulator);
      try {
        const before = brokerState(simulator);
        const answer = await supervisor.rest.post<ErrorBody>('/orders', order);
        expect(answer.status).toBe(403);
        expect(answer.body.message).toContain('account U7654321 is a live account');
        expect(answer.body.message).toContain('orders.allowLive');
        const viaMcp = await callTool(supervisor.mcp, 'place_order', order);
        expect(viaMcp.isError).toBe(true);
        expect(viaMcp.text).toContain('U7654321');
        const cancelAll = await supervisor.rest.post<ErrorBody>('/orders/cancel-all', {});
        expect(cancelAll.status).toBe(403);
        expect(brokerState(simulator)).toEqual(before);
      } finally {
        await supervisor.close();
      }
    });

    it('refuses orders when the config says the gateway trades live, even on a D account', async () => {
      const simulator = await startSimulator();
      const config = testConfig();
      const supervisor = await supervise({ ...config, ib: { ...config.ib, tradingMode: 'live' } }, simulator);
      try {
        const before = brokerState(simulator);
        const answer = await supervisor.rest.post<ErrorBody>('/orders', order);
        expect(answer.status).toBe(403);
        expect(answer.body.message).toContain('ib.tradingMode live');
        expect(brokerState(simulator)).toEqual(before);
      } finally {
        await supervisor.close();
      }
    });

    it('places orders on a live account once orders.allowLive is set', async () => {
      const simulator = await startSimulator(['U7654321']);
      const config = testConfig();
      const supervisor = await supervise(
        { ...config, orders: { ...config.orders, allowLive: true } },
        simulator,
      );
      try {
        const answer = await supervisor.rest.post<Placed>('/orders', order);
        expect(answer.status).toBe(200);
        expect(openOrder(simulator, answer.body.orderId)).toMatchObject({
          account: 'U7654321',
          lmtPrice: 50,
        });
      } finally {
        await supervisor.close();
      }
    });
  });
});
