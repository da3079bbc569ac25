import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { OrderAction, OrderType, SecType, type Contract } from '@stoqey/ib';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';
import { connectClient, disconnectAllClients, type TestClient } from '../../support/ib-client';

const TRADER = 'DU1111111';
const OTHER = 'DU2222222';
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
/** The Saturday after: prices stand still, so answers can be compared exactly. */
const WEEKEND = Date.parse('2025-06-14T16:00:00Z');

const stock = (symbol: string): Contract => ({
  symbol,
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
});

interface ErrorBody {
  code: string;
  message: string;
}
interface PositionAnswer {
  account: string;
  conId: number;
  symbol: string;
  position: number;
  averageCost: number;
  marketPrice: number | null;
  marketValue: number | null;
  unrealizedPnl: number | null;
  realizedPnl: number | null;
}
interface ExecutionAnswer {
  execId: string;
  orderId: number;
  account: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  shares: number;
  price: number;
  time: string;
  commission: number | null;
  realizedPnl: number | null;
}
interface PnlAnswer {
  account: string;
  dailyPnl: number | null;
  unrealizedPnl: number | null;
  realizedPnl: number | null;
}

describe('account: REST and MCP against the simulator, after fills placed by another API client', () => {
  let simulator: IbGatewaySimulator;
  let service: RunningService;
  let mcp: Client;
  let trader: TestClient;
  const orderIds: Record<string, number> = {};

  const get = async (path: string, query: Record<string, string | number> = {}) => {
    const search = new URLSearchParams(
      Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
    );
    const response = await fetch(`${service.urls.base}${path}?${search.toString()}`);
    return { status: response.status, body: await response.json() };
  };
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await mcp.callTool({ name, arguments: args });
    const [content] = result.content as { type: string; text: string }[];
    return { isError: result.isError === true, structured: result.structuredContent, text: content?.text };
  };
  /** Waits until `path` is answered with what IB sent after `since` (ISO time): held again, or asked now. */
  const untilLiveSince = async (path: string, since: string) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { status, body } = await get(path);
      const freshness = (body as { freshness?: { asOf: string | null; note?: string } }).freshness;
      // Every part held again (the one account IB lets a client hold the valuations of included).
      const settled = !(freshness?.note ?? '').includes('not held yet');
      if (status === 200 && settled && (freshness?.asOf ?? '') >= since) return;
      if (Date.now() > deadline) throw new Error(`${path} was not live again: ${JSON.stringify(freshness)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const snapshotOf = (account: string) => {
    const found = simulator.broker.snapshot().accounts.find((entry) => entry.account === account);
    if (!found) throw new Error(`The simulator has no account ${account}`);
    return found;
  };

  /** Places a market order through the raw client and waits until the simulator holds the new position. */
  async function fill(
    account: string,
    symbol: string,
    action: OrderAction,
    quantity: number,
  ): Promise<number> {
    const held = () =>
      snapshotOf(account).positions.find((position) => position.symbol === symbol)?.position ?? 0;
    const before = held();
    const orderId = await trader.ib.placeNewOrder(stock(symbol), {
      action,
      orderType: OrderType.MKT,
      totalQuantity: quantity,
      account,
      transmit: true,
    });
    const expected = before + (action === OrderAction.BUY ? quantity : -quantity);
    const deadline = Date.now() + 5000;
    while (held() !== expected) {
      if (Date.now() > deadline)
        throw new Error(`Order ${orderId} (${action} ${quantity} ${symbol}) did not fill`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return orderId;
  }

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [TRADER, OTHER], seed: 7 });
    simulator.setClock(MARKET_OPEN);
    await simulator.start();
    service = await startTestService(testConfig(), { simulator });
    mcp = await connectMcpClient(service);
    trader = await connectClient(simulator.port, { clientId: 50 });
  });

  afterAll(async () => {
    disconnectAllClients();
    await mcp.close();
    await service.close();
    await simulator.stop();
  });

  it('lists the managed accounts, marked paper, the same over REST and MCP', async () => {
    const overRest = await get('/account/managed');
    expect(overRest.status).toBe(200);
    expect(overRest.body).toEqual({
      accounts: [
        { account: TRADER, paper: true },
        { account: OTHER, paper: true },
      ],
    });
    expect((await call('get_managed_accounts')).structured).toEqual(overRest.body);
  });

  it('reports the starting balances of every account as the simulator holds them', async () => {
    const { body } = await get('/account/summary');
    const { accounts } = body as { accounts: Record<string, unknown>[] };
    expect(accounts.map((entry) => entry.account)).toEqual([TRADER, OTHER]);
    for (const entry of accounts) {
      const truth = snapshotOf(entry.account as string);
      expect(entry).toMatchObject({
        currency: 'USD',
        netLiquidation: truth.netLiquidation,
        totalCash: truth.cash.USD,
        maintMargin: 0,
        initMargin: 0,
      });
      expect(entry.buyingPower).toBeGreaterThan(0);
      expect(entry.excessLiquidity).toBe(truth.netLiquidation);
      expect(entry.availableFunds).toBe(truth.netLiquidation);
    }
    const one = (await get('/account/summary', { account: OTHER })).body as {
      accounts: { account: string }[];
    };
    expect(one.accounts.map((entry) => entry.account)).toEqual([OTHER]);
  });

  it('answers an unknown account with 404 naming it and the managed ones, and the same message over MCP', async () => {
    const overRest = await get('/account/summary', { account: 'DU0000000' });
    expect(overRest.status).toBe(404);
    const body = overRest.body as ErrorBody;
    expect(body.message).toBe(`Unknown account DU0000000; this login manages ${TRADER}, ${OTHER}`);
    const overMcp = await call('get_account_summary', { account: 'DU0000000' });
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toBe(body.message);
    const malformed = await get('/account/positions', { account: 'DU-1' });
    expect(malformed.status).toBe(400);
    expect((malformed.body as ErrorBody).message).toContain('[account]');
  });

  it('has no positions, executions or PnL before any trade', async () => {
    expect((await get('/account/positions')).body).toMatchObject({ positions: [] });
    expect((await get('/account/executions')).body).toEqual({ executions: [] });
    const pnl = (await get('/account/pnl')).body as { accounts: PnlAnswer[] };
    for (const entry of pnl.accounts) {
      expect(entry.realizedPnl ?? 0).toBe(0);
      expect(entry.unrealizedPnl ?? 0).toBe(0);
    }
  });

  it('shows fills made by another API client in positions, executions and PnL, consistently', async () => {
    orderIds.buyAapl = await fill(TRADER, 'AAPL', OrderAction.BUY, 100);
    orderIds.buyMsft = await fill(TRADER, 'MSFT', OrderAction.BUY, 50);
    orderIds.sellAapl = await fill(TRADER, 'AAPL', OrderAction.SELL, 20);
    orderIds.buySpy = await fill(OTHER, 'SPY', OrderAction.BUY, 10);

    // Positions: the simulator's, with IB's average cost, and values close to its marks (prices move).
    const { positions } = (await get('/account/positions')).body as { positions: PositionAnswer[] };
    const truth = [TRADER, OTHER].flatMap((account) =>
      snapshotOf(account).positions.map((position) => ({ account, ...position })),
    );
    expect(
      positions.map(({ account, conId, position }) => ({ account, conId, position })).sort(byConId),
    ).toEqual(truth.map(({ account, conId, position }) => ({ account, conId, position })).sort(byConId));
    for (const position of positions) {
      const held = truth.find((entry) => entry.conId === position.conId);
      expect(position.averageCost).toBeCloseTo(held?.averageCost ?? NaN, 4);
      expect(position.marketValue).not.toBeNull();
      expect(Math.abs((position.marketValue ?? 0) / (held?.marketValue ?? 1) - 1)).toBeLessThan(0.01);
      // IB's unrealized PnL is the market value less the cost of the position.
      expect(position.unrealizedPnl).toBeCloseTo(
        (position.marketValue ?? 0) - position.position * position.averageCost,
        0,
      );
    }

    // Executions: every fill of each order, as the placing client sees them, with commissions.
    const { executions } = (await get('/account/executions')).body as { executions: ExecutionAnswer[] };
    const raw = (await trader.ib.getExecutionDetails({})).filter((detail) => detail.reqId !== -1);
    const rawIds = [...new Set(raw.map((detail) => detail.execution.execId))].sort();
    expect(executions.map((execution) => execution.execId).sort()).toEqual(rawIds);
    expect(simulator.broker.snapshot().executions).toBe(rawIds.length);
    const sharesOf = (orderId: number | undefined) =>
      executions
        .filter((execution) => execution.orderId === orderId)
        .reduce((sum, execution) => sum + execution.shares, 0);
    expect(sharesOf(orderIds.buyAapl)).toBe(100);
    expect(sharesOf(orderIds.sellAapl)).toBe(20);
    expect(sharesOf(orderIds.buySpy)).toBe(10);
    for (const execution of executions) {
      expect(execution.commission).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(execution.time))).toBe(false);
      const opening = execution.orderId !== orderIds.sellAapl;
      if (opening) expect(execution.realizedPnl).toBeNull();
      else expect(execution.realizedPnl).not.toBeNull();
    }
    const executionTimes = executions.map((execution) => Date.parse(execution.time));
    expect(Math.min(...executionTimes)).toBeGreaterThanOrEqual(MARKET_OPEN - 1000);
    // The simulator's clock, read back through IB's time text ("20250611 15:00:01 GMT") as UTC.
    expect(Math.max(...executionTimes)).toBeLessThan(simulator.clock.now() + 1000);

    // PnL: realized today is what the closing execution realized; the other account realized nothing.
    const realizedBySell = executions
      .filter((execution) => execution.orderId === orderIds.sellAapl)
      .reduce((sum, execution) => sum + (execution.realizedPnl ?? 0), 0);
    const pnl = (await get('/account/pnl')).body as { accounts: PnlAnswer[] };
    const traderPnl = pnl.accounts.find((entry) => entry.account === TRADER);
    expect(traderPnl?.realizedPnl).toBeCloseTo(realizedBySell, 2);
    expect(traderPnl?.realizedPnl).toBeCloseTo(snapshotOf(TRADER).realizedPnl, 2);
    expect(pnl.accounts.find((entry) => entry.account === OTHER)?.realizedPnl ?? 0).toBe(0);

    // Position PnL, by symbol and by conId: the AAPL left after the sale, and its realized PnL.
    const aapl = positions.find((position) => position.symbol === 'AAPL');
    const bySymbol = (await get('/account/position-pnl', { symbol: 'AAPL', account: TRADER })).body as {
      positions: { position: number; realizedPnl: number | null; conId: number }[];
    };
    expect(bySymbol.positions).toHaveLength(1);
    expect(bySymbol.positions[0]).toMatchObject({ position: 80, conId: aapl?.conId });
    expect(bySymbol.positions[0]?.realizedPnl).toBeCloseTo(realizedBySell, 2);
    const byConIdAnswer = (await get('/account/position-pnl', { conId: aapl?.conId ?? 0 })).body as {
      positions: { account: string; position: number; dailyPnl: number | null }[];
    };
    expect(byConIdAnswer.positions.map(({ account, position }) => ({ account, position }))).toEqual([
      { account: TRADER, position: 80 },
      { account: OTHER, position: 0 },
    ]);
    // Never held in the other account: IB reports no PnL rather than zero.
    expect(byConIdAnswer.positions[1]?.dailyPnl).toBeNull();
  });

  it('filters executions by symbol, side, account and time', async () => {
    const only = async (query: Record<string, string>) =>
      ((await get('/account/executions', query)).body as { executions: ExecutionAnswer[] }).executions;
    const aapl = await only({ symbol: 'AAPL' });
    expect(new Set(aapl.map((execution) => execution.symbol))).toEqual(new Set(['AAPL']));
    expect(new Set(aapl.map((execution) => execution.orderId))).toEqual(
      new Set([orderIds.buyAapl, orderIds.sellAapl]),
    );
    const sells = await only({ side: 'SELL' });
    expect(new Set(sells.map((execution) => execution.orderId))).toEqual(new Set([orderIds.sellAapl]));
    const other = await only({ account: OTHER });
    expect(new Set(other.map((execution) => execution.symbol))).toEqual(new Set(['SPY']));
    // Execution times have whole seconds: a later fill, in a later second, is the only one "since" it.
    const before = await only({});
    const lastBefore = Math.max(...before.map((execution) => Date.parse(execution.time)));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    orderIds.laterSpy = await fill(OTHER, 'SPY', OrderAction.BUY, 5);
    const all = await only({});
    const later = all.filter((execution) => execution.orderId === orderIds.laterSpy);
    const laterTime = Math.min(...later.map((execution) => Date.parse(execution.time)));
    expect(laterTime).toBeGreaterThan(lastBefore);
    const since = await only({ since: new Date(laterTime).toISOString() });
    expect(since.map((execution) => execution.execId).sort()).toEqual(
      later.map((execution) => execution.execId).sort(),
    );
    expect(since.length).toBeLessThan(all.length);
    expect(await only({ since: '2099-01-01T00:00:00Z' })).toEqual([]);

    const badTime = await get('/account/executions', { since: 'yesterday' });
    expect(badTime.status).toBe(400);
    expect((badTime.body as ErrorBody).message).toContain('[since]');
    const badSide = await call('get_executions', { side: 'SHORT' });
    expect(badSide.isError).toBe(true);
    expect(badSide.text).toContain('[side]');
  });

  it('values positions and balances exactly as the simulator does while prices stand still, the same over REST and MCP', async () => {
    simulator.setClock(WEEKEND);
    // The held subscriptions carry what IB last pushed (every few minutes for valuations): a new session
    // makes IB send the whole picture again, at the prices that now stand still.
    const reconnectedAt = new Date().toISOString();
    const reconnect = await fetch(`${service.urls.base}/connection/reconnect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(reconnect.status).toBe(200);
    for (const path of ['/account/positions', '/account/summary', '/account/pnl']) {
      await untilLiveSince(path, reconnectedAt);
    }
    const { positions } = (await get('/account/positions')).body as { positions: PositionAnswer[] };
    for (const account of [TRADER, OTHER]) {
      for (const held of snapshotOf(account).positions) {
        const answer = positions.find(
          (position) => position.account === account && position.conId === held.conId,
        );
        expect(answer?.marketPrice).toBeCloseTo(held.marketPrice, 6);
        expect(answer?.marketValue).toBeCloseTo(held.marketValue, 2);
        expect(answer?.unrealizedPnl).toBeCloseTo(held.unrealizedPnl, 2);
      }
    }
    const summary = (await get('/account/summary')).body as {
      accounts: { account: string; netLiquidation: number; totalCash: number; maintMargin: number }[];
    };
    for (const entry of summary.accounts) {
      const truth = snapshotOf(entry.account);
      expect(entry.netLiquidation).toBeCloseTo(truth.netLiquidation, 2);
      expect(entry.totalCash).toBeCloseTo(truth.cash.USD ?? NaN, 2);
      expect(entry.maintMargin).toBeGreaterThan(0);
    }
    const pnl = (await get('/account/pnl')).body as { accounts: PnlAnswer[] };
    for (const entry of pnl.accounts) {
      expect(entry.unrealizedPnl).toBeCloseTo(snapshotOf(entry.account).unrealizedPnl, 2);
    }

    const pairs: [string, string, Record<string, string | number>][] = [
      ['/account/managed', 'get_managed_accounts', {}],
      ['/account/summary', 'get_account_summary', { account: TRADER }],
      ['/account/positions', 'get_positions', {}],
      ['/account/pnl', 'get_pnl', {}],
      ['/account/position-pnl', 'get_position_pnl', { symbol: 'MSFT', account: TRADER }],
      ['/account/executions', 'get_executions', { symbol: 'AAPL' }],
    ];
    for (const [path, tool, args] of pairs) {
      const overRest = await get(path, args);
      expect(overRest.status).toBe(200);
      // How fresh each answer is may differ between two reads (with two accounts, IB lets the valuations of
      // only one be held, so reading the other's releases and holds it again): compared apart from that.
      const { freshness: restFreshness, ...restAnswer } = overRest.body as { freshness?: unknown };
      const { freshness: mcpFreshness, ...mcpAnswer } = (await call(tool, args)).structured as {
        freshness?: unknown;
      };
      expect(mcpAnswer).toEqual(restAnswer);
      expect(mcpFreshness === undefined).toBe(restFreshness === undefined);
    }
  });

  it('rejects position PnL for an unknown symbol (404 naming it) or without symbol and conId (400), over REST and MCP', async () => {
    const unknown = await get('/account/position-pnl', { symbol: 'XYZQ' });
    expect(unknown.status).toBe(404);
    expect((unknown.body as ErrorBody).message).toBe(
      'No contract found for symbol XYZQ (STK on SMART in USD)',
    );
    const overMcp = await call('get_position_pnl', { symbol: 'XYZQ' });
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toBe((unknown.body as ErrorBody).message);

    const missing = await get('/account/position-pnl', { account: TRADER });
    expect(missing.status).toBe(400);
    expect((missing.body as ErrorBody).message).toContain('[symbol]: either symbol or conId is required');
    const missingOverMcp = await call('get_position_pnl', { account: TRADER });
    expect(missingOverMcp.text).toBe((missing.body as ErrorBody).message);
  });
});

function byConId(a: { conId: number }, b: { conId: number }): number {
  return a.conId - b.conId;
}
