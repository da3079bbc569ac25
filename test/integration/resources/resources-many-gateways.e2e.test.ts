import type { Client as ClientV2, McpSubscription } from '@modelcontextprotocol/client';
import type { RunningService } from '../../../src/main';
import { RESOURCE_UPDATE_INTERVAL_MS } from '../../../src/events/resource-update-coalescer';
import { startTestService, testConfig } from '../service/service-harness';
import { connectModernClient, eventually, readJson } from './resources-harness';

/**
 * Two simulator gateways in one supervisor, no token (resources.e2e covers access); paper is first, so market
 * data comes from it.
 */
describe('MCP resources with several gateways: per-gateway URIs, plain ones where they are unambiguous', () => {
  let service: RunningService;
  let mcp: ClientV2;

  beforeAll(async () => {
    service = await startTestService(
      testConfig({
        gateways: [
          { name: 'paper', required: true },
          { name: 'second', required: true },
        ],
      }),
    );
    mcp = await connectModernClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  it('refuses a plain account or order URI with the protocol error naming the gateways', async () => {
    for (const uri of ['ibgs://orders/open', 'ibgs://account/positions', 'ibgs://health/status']) {
      const read = mcp.readResource({ uri });
      await expect(read).rejects.toMatchObject({ code: -32602 });
      await expect(read).rejects.toThrow(/Several gateways could answer .*paper, second/);
    }
  });

  it('reads each gateway at its own URI, as REST does with ?gateway=', async () => {
    for (const gateway of ['paper', 'second']) {
      const rest = (await (
        await fetch(`${service.urls.base}/account/summary?gateway=${gateway}`)
      ).json()) as {
        accounts: Array<{ account: string }>;
      };
      const resource = (await readJson(mcp, `ibgs://gateways/${gateway}/account/summary`)) as typeof rest;
      expect(resource.accounts.map((entry) => entry.account)).toEqual(
        rest.accounts.map((entry) => entry.account),
      );
    }
    const paper = (await readJson(mcp, 'ibgs://gateways/paper/account/summary')) as {
      accounts: Array<{ account: string }>;
    };
    const second = (await readJson(mcp, 'ibgs://gateways/second/account/summary')) as typeof paper;
    expect(paper.accounts[0]?.account).not.toEqual(second.accounts[0]?.account);
  });

  it('reads a plain quote URI from the gateway for data', async () => {
    expect(await readJson(mcp, 'ibgs://quotes/AAPL')).toMatchObject({ symbol: 'AAPL', conId: 265598 });
  });

  it("announces an order on its own gateway's URI only", async () => {
    const listener = await connectModernClient(service);
    const updates: string[] = [];
    listener.setNotificationHandler('notifications/resources/updated', (notification) => {
      updates.push(notification.params.uri);
    });
    let subscription: McpSubscription | undefined;
    try {
      subscription = await listener.listen({
        resourceSubscriptions: [
          'ibgs://gateways/second/orders/open',
          'ibgs://gateways/paper/orders/open',
          'ibgs://orders/open',
        ],
      });
      const placed = await fetch(`${service.urls.base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          gateway: 'second',
          symbol: 'AAPL',
          side: 'BUY',
          quantity: 1,
          orderType: 'LMT',
          limitPrice: 1,
        }),
      });
      expect(placed.status).toBe(200);
      const { orderId } = (await placed.json()) as { orderId: number };
      await eventually(
        () => (updates.includes('ibgs://gateways/second/orders/open') ? true : undefined),
        3000,
      );
      await new Promise((resolve) => setTimeout(resolve, 2 * RESOURCE_UPDATE_INTERVAL_MS));
      expect(new Set(updates)).toEqual(new Set(['ibgs://gateways/second/orders/open']));
      const open = (await readJson(mcp, 'ibgs://gateways/second/orders/open')) as {
        orders: Array<{ orderId: number }>;
      };
      expect(open.orders.map((order) => order.orderId)).toContain(orderId);
    } finally {
      await subscription?.close();
      await listener.close();
    }
  });
});
