import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import {
  AAPL_CON_ID,
  brokerState,
  callTool,
  eventually,
  MARKET_OPEN,
  restClient,
  restingPrice,
} from '../orders/orders-harness';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';

/**
 * The rest of the account (issue 16, part 4): every account value by tag and currency, completed orders with a
 * time window, the journal of one account, executions in a time window. Answers are checked against the
 * simulated broker's own state, over REST and MCP, on a login that manages two accounts.
 */

const ACCOUNTS = ['DU1111111', 'DU2222222'];

interface AccountValues {
  accounts: Array<{
    account: string;
    updatedAt: string | null;
    values: Array<{ tag: string; currency: string; value: string; number: number | null }>;
  }>;
}
interface CompletedOrders {
  orders: Array<{
    permId: number | null;
    account: string | null;
    contract: { conId?: number; symbol?: string };
    side: string | null;
    orderType: string | null;
    quantity: number | null;
    limitPrice: number | null;
    status: string;
    completedStatus: string | null;
    completedAt: string | null;
    idempotencyKey: string | null;
  }>;
  total: number;
}
interface Journal {
  entries: Array<{ type: string; operation?: string; input?: { account?: string; idempotencyKey?: string } }>;
  total: number;
}

describe('account breadth: values, completed orders, the journal by account, executions by time', () => {
  let simulator: IbGatewaySimulator;
  let service: RunningService;
  let mcp: Client;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: ACCOUNTS });
    await simulator.start();
    simulator.setClock(MARKET_OPEN);
    service = await startTestService(testConfig(), { simulator });
    mcp = await connectMcpClient(service);
    rest = restClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
    await simulator.stop();
  });

  const restingBuy = (account: string, key: string) => ({
    account,
    symbol: 'AAPL',
    side: 'BUY',
    quantity: 3,
    orderType: 'LMT',
    limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
    tif: 'GTC',
    idempotencyKey: key,
  });

  it("answers every account value IB keeps, per currency, as the simulated broker's ledger has it", async () => {
    const { status, body } = await rest.get<AccountValues>(`/account/values?account=${ACCOUNTS[0]}`);
    expect(status).toBe(200);
    const [entry] = body.accounts;
    expect(entry?.account).toBe(ACCOUNTS[0]);
    const tags = new Set(entry?.values.map((value) => value.tag));
    expect(tags.size).toBeGreaterThan(13); // more than get_account_summary's 13
    const ledger = simulator.broker.snapshot().accounts.find((account) => account.account === ACCOUNTS[0]);
    const cash = entry?.values.find((value) => value.tag === 'CashBalance' && value.currency === 'USD');
    expect(cash?.number).toBeCloseTo(ledger?.cash['USD'] ?? Number.NaN, 2);
    expect(cash?.value).toMatch(/^-?\d/);
    const text = entry?.values.find((value) => value.number === null && value.value !== '');
    expect(text).toBeDefined(); // e.g. AccountType INDIVIDUAL: text stays text

    const filtered = await callTool<AccountValues>(mcp, 'get_account_values', {
      account: ACCOUNTS[1],
      tags: 'CashBalance,NetLiquidation',
      currency: 'USD',
    });
    expect(filtered.isError).toBe(false);
    expect(filtered.structured.accounts.map((account) => account.account)).toEqual([ACCOUNTS[1]]);
    const values = filtered.structured.accounts[0]?.values ?? [];
    expect(new Set(values.map((value) => value.tag))).toEqual(new Set(['CashBalance', 'NetLiquidation']));
    expect(values.every((value) => value.currency === 'USD')).toBe(true);

    const both = await rest.get<AccountValues>('/account/values?tags=NetLiquidation');
    expect(both.body.accounts.map((account) => account.account)).toEqual(ACCOUNTS);
  });

  it('refuses bad account-value input without asking IB', async () => {
    for (const query of ['account=U9999999', 'tags=Cash Balance', 'currency=dollars']) {
      const { status, body } = await rest.get<{ code: string; message: string }>(`/account/values?${query}`);
      expect([query, status]).toEqual([query, query.startsWith('account') ? 404 : 400]);
      expect(body.message).not.toBe('');
    }
  });

  it('lists a cancelled order as completed, by account and time window, and the journal of each account', async () => {
    const before = new Date(MARKET_OPEN - 60_000).toISOString();
    const placedFirst = await rest.post<{ orderId: number }>(
      '/orders',
      restingBuy(ACCOUNTS[0] ?? '', `acct1-${process.pid}`),
    );
    const placedSecond = await rest.post<{ orderId: number }>(
      '/orders',
      restingBuy(ACCOUNTS[1] ?? '', `acct2-${process.pid}`),
    );
    expect([placedFirst.status, placedSecond.status]).toEqual([200, 200]);
    const cancelled = await rest.delete(`/orders/${placedFirst.body.orderId}`);
    expect(cancelled.status).toBe(200);
    await eventually(() =>
      simulator.broker.snapshot().openOrders.some((order) => order.orderId === placedFirst.body.orderId)
        ? undefined
        : true,
    );

    const completed = await rest.get<CompletedOrders>(`/orders/completed?account=${ACCOUNTS[0]}`);
    expect(completed.status).toBe(200);
    const atBroker = simulator.broker
      .snapshot()
      .orders.find((order) => order.orderId === placedFirst.body.orderId);
    expect(completed.body.orders).toEqual([
      expect.objectContaining({
        permId: atBroker?.permId,
        account: ACCOUNTS[0],
        contract: expect.objectContaining({ conId: AAPL_CON_ID, symbol: 'AAPL' }),
        side: 'BUY',
        orderType: 'LMT',
        quantity: 3,
        status: 'Cancelled',
        completedStatus: expect.stringMatching(/Cancel/),
        idempotencyKey: `acct1-${process.pid}`,
      }),
    ]);
    const completedAt = Date.parse(completed.body.orders[0]?.completedAt ?? '');
    expect(Math.abs(completedAt - MARKET_OPEN)).toBeLessThan(10 * 60_000); // the simulator's clock

    // The time window, over MCP: before the cancel nothing, around it the order.
    const none = await callTool<CompletedOrders>(mcp, 'get_completed_orders', { until: before });
    expect(none.structured).toEqual({ orders: [], total: 0 });
    const around = await callTool<CompletedOrders>(mcp, 'get_completed_orders', { since: before });
    expect(around.structured.orders.map((order) => order.idempotencyKey)).toEqual([`acct1-${process.pid}`]);
    // The other account has none completed (its order still works).
    const other = await rest.get<CompletedOrders>(`/orders/completed?account=${ACCOUNTS[1]}`);
    expect(other.body).toEqual({ orders: [], total: 0 });

    // Each account's journal holds its own orders' entries: the request, what was sent, the broker's answers.
    for (const [index, account] of ACCOUNTS.entries()) {
      const journal = await rest.get<Journal>(`/orders/journal?account=${account}&limit=1000`);
      expect(journal.status).toBe(200);
      const keys = new Set(
        journal.body.entries.map((entry) => entry.input?.idempotencyKey).filter((key) => key !== undefined),
      );
      expect([...keys]).toEqual([`acct${index + 1}-${process.pid}`]);
      expect(new Set(journal.body.entries.map((entry) => entry.type))).toEqual(
        new Set(['request', 'sent', 'response', 'outcome']),
      );
    }
    const first = await rest.get<Journal>(`/orders/journal?account=${ACCOUNTS[0]}&limit=1000`);
    expect(first.body.entries.some((entry) => entry.operation === 'cancel_order')).toBe(true);
  });

  it('keeps executions to a time window', async () => {
    const fill = await rest.post<{ orderId: number }>('/orders', {
      account: ACCOUNTS[1],
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'MKT',
    });
    expect(fill.status).toBe(200);
    const executions = await eventually(async () => {
      const answer = await rest.get<{ executions: Array<{ time: string; orderId: number }> }>(
        '/account/executions',
      );
      return answer.body.executions.length > 0 ? answer.body.executions : undefined;
    });
    const time = Date.parse(executions[0]?.time ?? '');
    const window = (since: number, until: number) =>
      `/account/executions?since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}`;
    expect(
      (await rest.get<{ executions: unknown[] }>(window(time - 1000, time + 1000))).body.executions,
    ).toHaveLength(executions.length);
    expect((await rest.get<{ executions: unknown[] }>(window(time - 5000, time))).body.executions).toEqual(
      [],
    );
    expect(
      (await rest.get<{ executions: unknown[] }>(window(time + 1, time + 5000))).body.executions,
    ).toEqual([]);
  });

  it('refuses a bad window or account filter and changes nothing at the broker', async () => {
    const before = brokerState(simulator);
    for (const path of [
      '/orders/completed?since=yesterday',
      '/orders/completed?limit=0',
      '/orders/journal?account=not%20an%20account',
      '/account/executions?until=soon',
    ]) {
      const { status } = await rest.get(path);
      expect([path, status]).toEqual([path, 400]);
    }
    expect(brokerState(simulator)).toEqual(before);
  });
});
