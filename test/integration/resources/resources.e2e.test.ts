import type { Client as ClientV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RunningService } from '../../../src/main';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { LEGACY_SUBSCRIBE_REFUSAL } from '../../../src/events/legacy-resource-subscriptions';
import { readEvents, type ServerSentEvent } from '../market-data/market-data-support';
import {
  connectModernClient,
  eventually,
  FULL_TOKEN,
  readJson,
  READ_ONLY_TOKEN,
  restJson,
  placeOrder,
  startServiceWithTokens,
} from './resources-harness';
import { MARKET_OPEN, restingPrice } from '../orders/orders-harness';

/** Each fixed resource, the REST route whose answer it holds, and what that answer holds after the set-up. */
const FIXED = [
  ['ibgs://account/summary', '/account/summary', '"netLiquidation"'],
  ['ibgs://account/positions', '/account/positions', '"AAPL"'],
  ['ibgs://orders/open', '/orders/open', '"MSFT"'],
  ['ibgs://orders/journal', '/orders/journal', '"AAPL"'],
  ['ibgs://health/status', '/health/status', '"state"'],
  ['ibgs://gateway/logs', '/gateway/logs', '"mode":"simulator"'],
] as const;

const MSFT_CON_ID = 272093;

/** The v1 SDK client: a 2025-revision client, on the stateless leg. */
async function connectLegacyClient(service: RunningService, token: string): Promise<Client> {
  const client = new Client({ name: 'ibgs-resources-legacy', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(service.urls.mcp), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/**
 * Between two reads a few milliseconds apart a tick's age and the gateway's clock move, and each open-orders
 * read asks IB again (stamping updatedAt); all else must be equal.
 */
function withoutMovingTimes(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, field: unknown) =>
    /AgeSeconds$|^gatewayTime$|^updatedAt$/.test(key) ? '<moving>' : field,
  ) as unknown;
}

describe('MCP resources, read with the read-only token through the official client (2026-07-28)', () => {
  let service: RunningService;
  let mcp: ClientV2;
  let gatewayName: string;

  beforeAll(async () => {
    service = await startServiceWithTokens();
    mcp = await connectModernClient(service, READ_ONLY_TOKEN);
    gatewayName = service.gateways[0]?.name ?? '';
    // Something in every resource: a fill (a position, executions, journal entries) and a working order.
    const simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(MARKET_OPEN);
    const filled = await placeOrder(service, { symbol: 'AAPL', side: 'BUY', quantity: 5, orderType: 'MKT' });
    expect(filled.status).toBe(200);
    const resting = await placeOrder(service, {
      symbol: 'MSFT',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, MSFT_CON_ID, 'BUY'),
    });
    expect(resting.status).toBe(200);
    await eventually(async () => {
      const positions = JSON.stringify(await restJson(service, '/account/positions', READ_ONLY_TOKEN));
      return positions.includes('"AAPL"') ? true : undefined;
    });
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  it('lists the fixed resources and the templates, with the cache fields of the revision', async () => {
    const listed = await mcp.listResources();
    expect(listed.resources.map((resource) => resource.uri).sort()).toEqual(FIXED.map(([uri]) => uri).sort());
    for (const resource of listed.resources) {
      expect(resource).toMatchObject({ mimeType: 'application/json', name: expect.any(String) });
      expect(resource.description).toBeTruthy();
    }
    expect(listed).toMatchObject({ ttlMs: 0, cacheScope: 'private' });

    const templates = await mcp.listResourceTemplates();
    expect(templates.resourceTemplates.map((template) => template.uriTemplate).sort()).toEqual(
      [
        'ibgs://quotes/{symbol}',
        'ibgs://gateways/{gateway}/quotes/{symbol}',
        ...FIXED.map(([uri]) => uri.replace('ibgs://', 'ibgs://gateways/{gateway}/')),
      ].sort(),
    );
    expect(templates).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
    expect(mcp.getServerCapabilities()?.resources).toEqual({ subscribe: true, listChanged: true });
  });

  it.each(FIXED)('%s holds what GET %s answers, plain and per gateway', async (uri, route, holds) => {
    const viaRest = await restJson(service, route, READ_ONLY_TOKEN);
    expect(JSON.stringify(viaRest)).toContain(holds);
    const viaResource = await readJson(mcp, uri);
    expect(withoutMovingTimes(viaResource)).toEqual(withoutMovingTimes(viaRest));
    const perGateway = uri.replace('ibgs://', `ibgs://gateways/${gatewayName}/`);
    expect(withoutMovingTimes(await readJson(mcp, perGateway))).toEqual(withoutMovingTimes(viaRest));
  });

  it('answers reads with the cache fields of the revision', async () => {
    const result = await mcp.readResource({ uri: 'ibgs://orders/open' });
    expect(result).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
  });

  it('reads a quote by symbol; for a streaming symbol from the stream, as GET /market-data/quote', async () => {
    const snapshot = (await readJson(mcp, 'ibgs://quotes/MSFT')) as Record<string, unknown>;
    expect(snapshot).toMatchObject({ symbol: 'MSFT', secType: 'STK', source: 'snapshot' });

    const abort = new AbortController();
    const events: ServerSentEvent[] = [];
    const stream = await fetch(`${service.urls.base}/market-data/stream?symbols=AAPL`, {
      headers: { authorization: `Bearer ${READ_ONLY_TOKEN}` },
      signal: abort.signal,
    });
    expect(stream.status).toBe(200);
    const reading = readEvents(stream, events);
    try {
      await eventually(() => (events.some((event) => event.data.includes('"bid"')) ? true : undefined));
      const quote = (await readJson(mcp, 'ibgs://quotes/AAPL')) as Record<string, unknown>;
      const rest = (await restJson(service, '/market-data/quote?symbol=AAPL', READ_ONLY_TOKEN)) as Record<
        string,
        unknown
      >;
      expect(quote).toMatchObject({ symbol: 'AAPL', conId: 265598, source: 'stream' });
      expect(rest).toMatchObject({ symbol: 'AAPL', conId: 265598, source: 'stream' });
      expect(Object.keys(quote).sort()).toEqual(Object.keys(rest).sort());
      expect(quote.bid).toEqual(expect.any(Number));
      expect(quote.ask as number).toBeGreaterThanOrEqual(quote.bid as number);
      expect(await readJson(mcp, `ibgs://gateways/${gatewayName}/quotes/AAPL`)).toMatchObject({
        symbol: 'AAPL',
        source: 'stream',
      });
    } finally {
      abort.abort();
      await reading;
    }
  });

  it.each([
    ['an unknown path', 'ibgs://account/nothing', /Unknown resource: ibgs:\/\/account\/nothing/],
    ['another scheme', 'file://account/summary', /Unknown resource: file:\/\/account\/summary/],
    [
      'an unknown symbol',
      'ibgs://quotes/NOPEX',
      /ibgs:\/\/quotes\/NOPEX: No contract found for symbol NOPEX/,
    ],
    ['an unknown gateway', 'ibgs://gateways/nowhere/orders/open', /No gateway is named nowhere/],
  ])('answers %s with the protocol error -32602, and keeps serving', async (_what, uri, message) => {
    const read = mcp.readResource({ uri });
    await expect(read).rejects.toMatchObject({ code: -32602 });
    await expect(read).rejects.toThrow(message);
    expect(await readJson(mcp, 'ibgs://health/status')).toMatchObject({ state: expect.any(String) });
  });

  it('serves 2025-revision clients the same list and reads, and refuses resources/subscribe clearly', async () => {
    const legacy = await connectLegacyClient(service, READ_ONLY_TOKEN);
    try {
      const listed = await legacy.listResources();
      expect(listed.resources.map((resource) => resource.uri).sort()).toEqual(
        FIXED.map(([uri]) => uri).sort(),
      );
      const read = await legacy.readResource({ uri: 'ibgs://account/summary' });
      const [content] = read.contents;
      expect(JSON.parse((content as { text: string }).text)).toEqual(
        await restJson(service, '/account/summary', READ_ONLY_TOKEN),
      );
      const subscribe = legacy.subscribeResource({ uri: 'ibgs://orders/open' });
      await expect(subscribe).rejects.toMatchObject({ code: -32601 });
      await expect(subscribe).rejects.toThrow(LEGACY_SUBSCRIBE_REFUSAL);
      await expect(legacy.unsubscribeResource({ uri: 'ibgs://orders/open' })).rejects.toMatchObject({
        code: -32601,
      });
    } finally {
      await legacy.close();
    }
  });

  it('removes resources/subscribe on the current revision (404, -32601), as the SDK does', async () => {
    const response = await fetch(service.urls.mcp, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${FULL_TOKEN}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'resources/subscribe',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'resources/subscribe',
        params: {
          uri: 'ibgs://orders/open',
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          },
        },
      }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: -32601 } });
  });

  it('answers a read IB cannot serve (session down) with -32603 and the REST code, then serves again', async () => {
    const simulator = service.simulator as IbGatewaySimulator;
    await simulator.refuseConnections(2000);
    simulator.dropConnections();
    const failure = await eventually(async () => {
      try {
        await mcp.readResource({ uri: 'ibgs://orders/open' });
        return undefined;
      } catch (error) {
        return error as { code?: number; message?: string; data?: unknown };
      }
    });
    expect(failure).toMatchObject({ code: -32603, data: { code: 'NOT_CONNECTED', statusCode: 503 } });
    expect(failure.message).toMatch(/^.*ibgs:\/\/orders\/open: /);
    const served = await eventually(async () => {
      try {
        return await readJson(mcp, 'ibgs://orders/open');
      } catch {
        return undefined;
      }
    }, 15_000);
    expect(served).toMatchObject({ orders: expect.any(Array) });
  }, 30_000);

  it('keeps /mcp behind the token: no token, no resource list', async () => {
    const response = await fetch(service.urls.mcp, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/list', params: {} }),
    });
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain('ibgs://');
  });
});
