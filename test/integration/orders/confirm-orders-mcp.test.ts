import type { Client as ClientV2 } from '@modelcontextprotocol/client';
import { CONFIG_DEFAULTS, type AppConfig } from '../../../src/config/config.schema';
import { EVENT_HUB, type EventHub } from '../../../src/events/event-hub';
import type { LiveEvent } from '../../../src/events/live-event';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClientWithToken } from '../security/security-harness';
import { startTestService, testConfig } from '../service/service-harness';
import {
  ACCEPT,
  API_TOKEN,
  brokerOrdersOf,
  modernClient,
  rawModernCall,
  READ_ONLY_TOKEN,
  rest,
  restingOrder,
  type ElicitationSeen,
} from './confirm-orders-support';
import { MARKET_OPEN } from './orders-harness';

interface ApprovalEntry {
  type: string;
  step?: string;
  approvalId?: string;
  reason?: string;
  orderIds?: number[];
}

/**
 * --confirm-orders over MCP, 2026-07-28: the person is asked inside the tool result (input-required, form
 * elicitation) and the retry's request state is signed over the order's hash.
 */
describe('--confirm-orders over MCP (2026-07-28): the tool result asks the person', () => {
  let simulator: IbGatewaySimulator;
  let config: AppConfig;
  let service: RunningService;
  const events: LiveEvent[] = [];
  const clients: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: 11 });
    await simulator.start();
    simulator.setClock(MARKET_OPEN);
    config = testConfig({
      orders: { ...CONFIG_DEFAULTS.orders, confirmOrders: true, approvalTimeoutSeconds: 60 },
      security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
    });
    service = await startTestService(config, { simulator });
    service.app
      .get<EventHub>(EVENT_HUB)
      .subscribe({ topics: new Set(['approvals']) }, (event) => events.push(event));
  });

  afterAll(async () => {
    for (const client of clients) await client.close();
    await service.close();
    await simulator.stop();
  });

  async function connect(
    answer: Parameters<typeof modernClient>[1],
    seen: ElicitationSeen[],
  ): Promise<ClientV2> {
    const client = await modernClient(service, answer, seen);
    clients.push(client);
    return client;
  }

  async function approvalSteps(approvalId: string): Promise<string[]> {
    const { body } = await rest<{ entries: ApprovalEntry[] }>(service, 'GET', '/orders/journal?limit=1000');
    return body.entries
      .filter((entry) => entry.type === 'approval' && entry.approvalId === approvalId)
      .map((entry) => entry.step ?? '');
  }

  it('shows the exact order with IB’s what-if, and an accepted answer places it exactly once', async () => {
    const seen: ElicitationSeen[] = [];
    const client = await connect({ action: 'accept', content: { confirm: true } }, seen);
    const order = restingOrder(simulator, 7);
    const result = await client.callTool({ name: 'place_order', arguments: order });

    expect(result.isError).toBeFalsy();
    const placed = result.structuredContent as { orderId: number; idempotencyKey?: string };
    expect(brokerOrdersOf(simulator, 7)).toEqual([placed.orderId]);
    // The person saw this very order: contract, side, quantity, type, price, account, margin, commission.
    expect(seen).toHaveLength(1);
    const [question] = seen;
    expect(question?.message).toContain(`Place order: BUY 7 AAPL (STK`);
    expect(question?.message).toContain(`LMT (limit ${String(order.limitPrice)})`);
    expect(question?.message).toMatch(/conId 265598/);
    const [account] = simulator.broker.snapshot().accounts;
    expect(question?.message).toContain(`account ${account?.account ?? '?'} (the default account)`);
    expect(question?.message).toMatch(/initial margin change -?[\d,.]+/);
    expect(question?.message).toMatch(/commission [\d,.]+ USD/);
    expect(question?.requestedSchema).toMatchObject({ properties: { confirm: { type: 'boolean' } } });
    // Placed under the approval's idempotency key: a repeated retry cannot place a second one.
    expect(placed.idempotencyKey).toMatch(/^approval:apv-/);
    const approvalId = placed.idempotencyKey?.slice('approval:'.length) ?? '';
    expect(await approvalSteps(approvalId)).toEqual(['asked', 'shown', 'approved', 'placed']);
    expect(
      events
        .filter((event) => (event.data as { approvalId: string }).approvalId === approvalId)
        .map((e) => e.type),
    ).toEqual(['asked', 'shown', 'approved', 'placed']);
  });

  it('asks before a modification too, showing the change and IB’s what-if of the order as it would stand', async () => {
    const seen: ElicitationSeen[] = [];
    const client = await connect({ action: 'accept', content: { confirm: true } }, seen);
    const placed = await client.callTool({ name: 'place_order', arguments: restingOrder(simulator, 14) });
    const { orderId } = placed.structuredContent as { orderId: number };
    const modified = await client.callTool({ name: 'modify_order', arguments: { orderId, quantity: 15 } });

    expect(modified.isError).toBeFalsy();
    expect(seen[1]?.message).toContain(`Modify order ${orderId}: BUY 14 AAPL`);
    expect(seen[1]?.message).toContain('Changes: quantity → 15');
    expect(seen[1]?.message).toMatch(/As it would then stand, IB what-if: initial margin change/);
    expect(brokerOrdersOf(simulator, 15)).toEqual([orderId]);
  });

  it('places nothing when the person declines, and the answer says so', async () => {
    const seen: ElicitationSeen[] = [];
    const client = await connect({ action: 'decline' }, seen);
    const result = await client.callTool({ name: 'place_order', arguments: restingOrder(simulator, 8) });

    expect(seen).toHaveLength(1);
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toMatch(
      /declined by the person asked. Nothing was sent to the broker/,
    );
    expect(result.structuredContent).toMatchObject({
      statusCode: 403,
      code: 'FORBIDDEN',
      reason: 'declined',
    });
    expect(brokerOrdersOf(simulator, 8)).toEqual([]);
  });

  it('places nothing when the accept does not check "confirm"', async () => {
    const client = await connect({ action: 'accept', content: { confirm: false } }, []);
    const result = await client.callTool({ name: 'place_order', arguments: restingOrder(simulator, 9) });
    expect(result.isError).toBe(true);
    expect(brokerOrdersOf(simulator, 9)).toEqual([]);
  });

  it('refuses a retry that carries the yes for another order (changed quantity), and an altered state', async () => {
    const asked = restingOrder(simulator, 10);
    const first = await rawModernCall(service, 'place_order', asked);
    expect(first.status).toBe(200);
    const result = first.message.result ?? {};
    expect(result).toMatchObject({ resultType: 'input_required' });
    const state = result.requestState as string;
    expect(typeof state).toBe('string');
    expect(JSON.stringify(result.inputRequests)).toContain('BUY 10 AAPL');

    // The yes, sent back with a bigger order: refused, and the question is void for good.
    const bigger = await rawModernCall(
      service,
      'place_order',
      { ...asked, quantity: 11 },
      {
        requestState: state,
        inputResponses: ACCEPT,
      },
    );
    expect(bigger.message.result).toMatchObject({ isError: true });
    expect(JSON.stringify(bigger.message.result)).toMatch(
      /parameters differ from the ones the person was asked/,
    );
    const original = await rawModernCall(service, 'place_order', asked, {
      requestState: state,
      inputResponses: ACCEPT,
    });
    expect(JSON.stringify(original.message.result)).toMatch(/is void/);

    // A state whose payload was altered (another quantity's hash cannot be signed without the key).
    const again = await rawModernCall(service, 'place_order', asked);
    const fresh = (again.message.result?.requestState as string).split('.');
    const payload = JSON.parse(Buffer.from(fresh[0] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const altered = `${Buffer.from(JSON.stringify({ ...payload, expiresAt: Date.now() + 3_600_000 })).toString('base64url')}.${fresh[1]}`;
    const forged = await rawModernCall(service, 'place_order', asked, {
      requestState: altered,
      inputResponses: ACCEPT,
    });
    expect(JSON.stringify(forged.message.result)).toMatch(/was altered/);

    expect(brokerOrdersOf(simulator, 10)).toEqual([]);
    expect(brokerOrdersOf(simulator, 11)).toEqual([]);

    // The same accepted retry twice: one order, the second answer is the first order (replayed).
    const third = await rawModernCall(service, 'place_order', asked);
    const thirdState = third.message.result?.requestState as string;
    const yes = await rawModernCall(service, 'place_order', asked, {
      requestState: thirdState,
      inputResponses: ACCEPT,
    });
    const twice = await rawModernCall(service, 'place_order', asked, {
      requestState: thirdState,
      inputResponses: ACCEPT,
    });
    const firstOrder = (yes.message.result?.structuredContent as { orderId: number }).orderId;
    expect(twice.message.result?.structuredContent as { orderId: number; replayed: boolean }).toMatchObject({
      orderId: firstOrder,
      replayed: true,
    });
    expect(brokerOrdersOf(simulator, 10)).toEqual([firstOrder]);
  });

  it('answers a client without the elicitation capability with -32021 and HTTP 400, placing nothing', async () => {
    const answer = await rawModernCall(service, 'place_order', restingOrder(simulator, 12), {
      capabilities: {},
    });
    expect(answer.status).toBe(400);
    expect(answer.message.error).toMatchObject({ code: -32021 });
    expect(JSON.stringify(answer.message.error)).toContain('elicitation');
    expect(brokerOrdersOf(simulator, 12)).toEqual([]);
  });

  it('gives a 2025 MCP client an approval ticket as a plain result, and places nothing', async () => {
    const legacy = await connectMcpClientWithToken(service, API_TOKEN);
    clients.push(legacy);
    const result = await legacy.callTool({ name: 'place_order', arguments: restingOrder(simulator, 13) });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ statusCode: 202, code: 'APPROVAL_PENDING' });
    expect(JSON.stringify(result.content)).toMatch(/Waiting for a person's approval: nothing was sent/);
    expect(brokerOrdersOf(simulator, 13)).toEqual([]);
  });
});
