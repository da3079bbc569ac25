import { CONFIG_DEFAULTS, type AppConfig } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { startTestService, testConfig } from '../service/service-harness';
import {
  ACCEPT,
  API_TOKEN,
  brokerOrdersOf,
  rawModernCall,
  READ_ONLY_TOKEN,
  rest,
  restingOrder,
} from './confirm-orders-support';
import { MARKET_OPEN, openOrder } from './orders-harness';

interface Ticket {
  statusCode: number;
  code: string;
  message: string;
  approvalId: string;
  expiresAt: string;
  summary: string;
  details: { whatIf?: { margin: Record<string, number> }; order?: Record<string, unknown> };
  orderHash: string;
  reason?: string;
}
interface Placed {
  orderId: number;
  replayed: boolean;
  idempotencyKey?: string;
}
interface ApprovalEntry {
  type: string;
  step?: string;
  approvalId?: string;
  reason?: string;
}

/** --confirm-orders over REST (and for 2025 MCP clients): an approval ticket a person approves over REST. */
describe('--confirm-orders over REST: approval tickets', () => {
  let simulator: IbGatewaySimulator;
  let config: AppConfig;
  let service: RunningService | undefined;

  beforeAll(async () => {
    // The simulator outlives the supervisors, like a real IB Gateway does.
    simulator = new IbGatewaySimulator({ seed: 13 });
    await simulator.start();
    simulator.setClock(MARKET_OPEN);
  });

  afterAll(async () => {
    await service?.close();
    await simulator.stop();
  });

  async function startSupervisor(
    approvalTimeoutSeconds: number,
    keepDataDir = false,
  ): Promise<RunningService> {
    await service?.close();
    if (!keepDataDir) {
      config = testConfig({
        orders: { ...CONFIG_DEFAULTS.orders, confirmOrders: true, approvalTimeoutSeconds, maxQuantity: 1000 },
        security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
      });
    }
    service = await startTestService(config, { simulator });
    return service;
  }

  async function approvalSteps(running: RunningService, approvalId: string): Promise<ApprovalEntry[]> {
    const { body } = await rest<{ entries: ApprovalEntry[] }>(running, 'GET', '/orders/journal?limit=1000');
    return body.entries.filter((entry) => entry.type === 'approval' && entry.approvalId === approvalId);
  }

  it('answers 202 with a ticket; approved with the full token, the repeated call places once, and again answers it', async () => {
    const running = await startSupervisor(60);
    const order = restingOrder(simulator, 21);
    const asked = await rest<Ticket>(running, 'POST', '/orders', order);
    expect(asked.status).toBe(202);
    const ticket = asked.body;
    expect(ticket).toMatchObject({ statusCode: 202, code: 'APPROVAL_PENDING' });
    expect(ticket.approvalId).toMatch(/^apv-/);
    expect(ticket.summary).toContain('Place order: BUY 21 AAPL');
    expect(ticket.details.whatIf?.margin).toBeDefined();
    expect(ticket.message).toContain(`POST /orders/approvals/${ticket.approvalId}/approve`);
    expect(brokerOrdersOf(simulator, 21)).toEqual([]);

    // Repeated before anyone answered: the same ticket, still nothing placed.
    const early = await rest<Ticket>(running, 'POST', '/orders', { ...order, approvalId: ticket.approvalId });
    expect(early.status).toBe(202);
    expect(early.body.approvalId).toBe(ticket.approvalId);
    // A call waiting for a person is counted as pending, not as a failed call.
    const metrics = await fetch(`${running.urls.base}/metrics`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    const counted = await metrics.text();
    expect(counted).toMatch(
      /ibgs_operation_requests_total\{operation="place_order",interface="rest",outcome="pending"\} 2/,
    );
    expect(counted).not.toMatch(/operation="place_order",interface="rest",outcome="error"/);

    // The read-only token neither sees nor decides approvals.
    const path = `/orders/approvals/${ticket.approvalId}/approve`;
    expect((await rest(running, 'POST', path, undefined, READ_ONLY_TOKEN)).status).toBe(403);
    expect((await rest(running, 'GET', '/orders/approvals', undefined, READ_ONLY_TOKEN)).status).toBe(403);
    const listed = await rest<{ approvals: { approvalId: string; state: string }[] }>(
      running,
      'GET',
      '/orders/approvals',
    );
    expect(listed.body.approvals).toEqual(
      expect.arrayContaining([expect.objectContaining({ approvalId: ticket.approvalId, state: 'pending' })]),
    );
    expect(brokerOrdersOf(simulator, 21)).toEqual([]);

    const approved = await rest<{ state: string }>(running, 'POST', path);
    expect(approved).toMatchObject({ status: 200, body: { state: 'approved' } });

    const placed = await rest<Placed>(running, 'POST', '/orders', {
      ...order,
      approvalId: ticket.approvalId,
    });
    expect(placed.status).toBe(200);
    expect(brokerOrdersOf(simulator, 21)).toEqual([placed.body.orderId]);
    const again = await rest<Placed>(running, 'POST', '/orders', { ...order, approvalId: ticket.approvalId });
    expect(again).toMatchObject({ status: 200, body: { orderId: placed.body.orderId, replayed: true } });
    expect(brokerOrdersOf(simulator, 21)).toEqual([placed.body.orderId]);

    const steps = await approvalSteps(running, ticket.approvalId);
    expect(steps.map((entry) => entry.step)).toEqual(['asked', 'shown', 'approved', 'placed']);
    expect(JSON.stringify(steps)).not.toContain(API_TOKEN);
  });

  it('voids a ticket whose call comes back with another parameter, and places nothing', async () => {
    const running = service ?? (await startSupervisor(60));
    const order = restingOrder(simulator, 22);
    const { body: ticket } = await rest<Ticket>(running, 'POST', '/orders', order);
    await rest(running, 'POST', `/orders/approvals/${ticket.approvalId}/approve`);

    const changed = await rest<Ticket>(running, 'POST', '/orders', {
      ...order,
      quantity: 23,
      approvalId: ticket.approvalId,
    });
    expect(changed).toMatchObject({ status: 409, body: { code: 'CONFLICT', reason: 'parameters-changed' } });
    const same = await rest<Ticket>(running, 'POST', '/orders', { ...order, approvalId: ticket.approvalId });
    expect(same).toMatchObject({ status: 409, body: { reason: 'void' } });
    expect(brokerOrdersOf(simulator, 22)).toEqual([]);
    expect(brokerOrdersOf(simulator, 23)).toEqual([]);
    expect((await approvalSteps(running, ticket.approvalId)).map((entry) => entry.step)).toEqual([
      'asked',
      'approved',
      'void',
    ]);
  });

  it('refuses a declined ticket (403) and an unknown one (404); nothing placed', async () => {
    const running = service ?? (await startSupervisor(60));
    const order = restingOrder(simulator, 24);
    const { body: ticket } = await rest<Ticket>(running, 'POST', '/orders', order);
    const declined = await rest<{ state: string }>(
      running,
      'POST',
      `/orders/approvals/${ticket.approvalId}/decline`,
    );
    expect(declined.body.state).toBe('declined');
    // A declined ticket cannot be approved afterwards.
    expect((await rest(running, 'POST', `/orders/approvals/${ticket.approvalId}/approve`)).status).toBe(409);
    const repeated = await rest<Ticket>(running, 'POST', '/orders', {
      ...order,
      approvalId: ticket.approvalId,
    });
    expect(repeated).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', reason: 'declined' } });
    const unknown = await rest(running, 'POST', '/orders', {
      ...order,
      approvalId: 'apv-AAAAAAAAAAAAAAAAAAAAAA',
    });
    expect(unknown.status).toBe(404);
    expect(brokerOrdersOf(simulator, 24)).toEqual([]);
  });

  it('asks no one about an order the safety settings refuse anyway (403, journaled)', async () => {
    const running = service ?? (await startSupervisor(60));
    const refused = await rest<Ticket>(running, 'POST', '/orders', restingOrder(simulator, 5000));
    expect(refused).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(refused.body.message).toMatch(/No one was asked/);
    const listed = await rest<{ approvals: { summary: string }[] }>(running, 'GET', '/orders/approvals');
    expect(listed.body.approvals.filter((approval) => approval.summary.includes('BUY 5000'))).toEqual([]);
    const { body } = await rest<{ entries: ApprovalEntry[] }>(running, 'GET', '/orders/journal?limit=50');
    expect(body.entries.filter((entry) => entry.type === 'approval').at(-1)).toMatchObject({
      step: 'refused',
    });
    expect(brokerOrdersOf(simulator, 5000)).toEqual([]);
  });

  it('asks for a cancel too, and cancels once approved', async () => {
    const running = service ?? (await startSupervisor(60));
    const order = restingOrder(simulator, 25);
    const { body: ticket } = await rest<Ticket>(running, 'POST', '/orders', order);
    await rest(running, 'POST', `/orders/approvals/${ticket.approvalId}/approve`);
    const { body: placed } = await rest<Placed>(running, 'POST', '/orders', {
      ...order,
      approvalId: ticket.approvalId,
    });

    const cancel = await rest<Ticket>(running, 'DELETE', `/orders/${placed.orderId}`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.summary).toContain(`Cancel order ${placed.orderId}: BUY 25 AAPL`);
    expect(openOrder(simulator, placed.orderId)).toBeDefined();
    await rest(running, 'POST', `/orders/approvals/${cancel.body.approvalId}/approve`);
    const cancelled = await rest<{ status: string }>(
      running,
      'DELETE',
      `/orders/${placed.orderId}?approvalId=${cancel.body.approvalId}`,
    );
    expect(cancelled.status).toBe(200);
    expect(openOrder(simulator, placed.orderId)).toBeUndefined();
  });

  it('asks before transmitting a staged order, and before a global cancel (declined: nothing cancelled)', async () => {
    const running = service ?? (await startSupervisor(60));
    const order = { ...restingOrder(simulator, 28), transmit: false };
    const { body: ticket } = await rest<Ticket>(running, 'POST', '/orders', order);
    await rest(running, 'POST', `/orders/approvals/${ticket.approvalId}/approve`);
    const { body: staged } = await rest<Placed>(running, 'POST', '/orders', {
      ...order,
      approvalId: ticket.approvalId,
    });

    const transmit = await rest<Ticket>(running, 'POST', `/orders/${staged.orderId}/transmit`, {});
    expect(transmit.status).toBe(202);
    expect(transmit.body.summary).toContain(`Transmit staged order ${staged.orderId}: BUY 28 AAPL`);
    await rest(running, 'POST', `/orders/approvals/${transmit.body.approvalId}/approve`);
    const sent = await rest<{ staged?: boolean }>(running, 'POST', `/orders/${staged.orderId}/transmit`, {
      approvalId: transmit.body.approvalId,
    });
    expect(sent.status).toBe(200);
    expect(sent.body.staged).not.toBe(true);

    const openBefore = simulator.broker.snapshot().openOrders.length;
    expect(openBefore).toBeGreaterThan(0);
    const cancelAll = await rest<Ticket>(running, 'POST', '/orders/cancel-all', {});
    expect(cancelAll.status).toBe(202);
    expect(cancelAll.body.summary).toMatch(/^Cancel ALL open orders/);
    await rest(running, 'POST', `/orders/approvals/${cancelAll.body.approvalId}/decline`);
    const refused = await rest(running, 'POST', '/orders/cancel-all', {
      approvalId: cancelAll.body.approvalId,
    });
    expect(refused.status).toBe(403);
    expect(simulator.broker.snapshot().openOrders).toHaveLength(openBefore);
  });

  it('refuses an expired ticket, approved or not, and journals the expiry', async () => {
    const running = await startSupervisor(1);
    const order = restingOrder(simulator, 26);
    const { body: unanswered } = await rest<Ticket>(running, 'POST', '/orders', order);
    const { body: approvedLate } = await rest<Ticket>(running, 'POST', '/orders', order);
    await rest(running, 'POST', `/orders/approvals/${approvedLate.approvalId}/approve`);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    expect((await rest(running, 'POST', `/orders/approvals/${unanswered.approvalId}/approve`)).status).toBe(
      409,
    );
    for (const ticket of [unanswered, approvedLate]) {
      const repeated = await rest<Ticket>(running, 'POST', '/orders', {
        ...order,
        approvalId: ticket.approvalId,
      });
      expect(repeated).toMatchObject({ status: 409, body: { reason: 'expired' } });
      expect((await approvalSteps(running, ticket.approvalId)).map((entry) => entry.step)).toContain(
        'expired',
      );
    }
    expect(brokerOrdersOf(simulator, 26)).toEqual([]);
  });

  it('refuses tickets and MCP confirmations from before a supervisor restart, saying so', async () => {
    const running = await startSupervisor(60);
    const order = restingOrder(simulator, 27);
    const { body: ticket } = await rest<Ticket>(running, 'POST', '/orders', order);
    await rest(running, 'POST', `/orders/approvals/${ticket.approvalId}/approve`);
    const question = await rawModernCall(running, 'place_order', order);
    const state = question.message.result?.requestState as string;

    // Stopped and started against the same simulator and data directory: the approvals and the key are gone.
    const restarted = await startSupervisor(60, true);
    const repeated = await rest<Ticket>(restarted, 'POST', '/orders', {
      ...order,
      approvalId: ticket.approvalId,
    });
    expect(repeated).toMatchObject({ status: 409, body: { reason: 'restarted' } });
    expect(repeated.body.message).toMatch(/issued before the supervisor restarted/);
    const approveAgain = await rest<Ticket>(
      restarted,
      'POST',
      `/orders/approvals/${ticket.approvalId}/approve`,
    );
    expect(approveAgain).toMatchObject({ status: 409, body: { reason: 'restarted' } });
    const retried = await rawModernCall(restarted, 'place_order', order, {
      requestState: state,
      inputResponses: ACCEPT,
    });
    expect(JSON.stringify(retried.message.result)).toMatch(/the supervisor restarted since it asked/);
    expect(brokerOrdersOf(simulator, 27)).toEqual([]);
    const steps = await approvalSteps(restarted, ticket.approvalId);
    expect(steps.at(-1)).toMatchObject({ step: 'refused', reason: 'restarted' });
  });
});
