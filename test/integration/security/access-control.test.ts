import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { AppConfigSchema, CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { startTestService, testConfig } from '../service/service-harness';
import {
  connectMcpClientWithToken,
  MCP_HEADERS,
  MCP_INITIALIZE,
  openApiRoutes,
  upgradeStatus,
  websocketUrl,
  type Route,
} from './security-harness';

const API_TOKEN = 'full-access-token-0123456789';
const READ_ONLY_TOKEN = 'read-only-token-0123456789';
const WRONG_TOKEN = 'not-a-configured-token-0123';

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  operation?: string;
}

/** Routes outside the OpenAPI document that the token guards as well. */
const EXTRA_ROUTES: Route[] = [
  { method: 'POST', path: '/mcp', operationId: undefined },
  { method: 'GET', path: '/vnc', operationId: undefined },
  { method: 'GET', path: '/vnc/vnc-page.js', operationId: undefined },
  { method: 'GET', path: '/vnc/novnc/core/rfb.js', operationId: undefined },
  { method: 'GET', path: '/metrics', operationId: undefined },
  { method: 'GET', path: '/docs', operationId: undefined },
  { method: 'GET', path: '/docs-json', operationId: undefined },
];
const OPEN_ROUTES = ['/health', '/health/ready'];

describe('access control with API tokens configured', () => {
  let service: RunningService;
  let routes: Route[];
  const clients: Client[] = [];

  beforeAll(async () => {
    service = await startTestService(
      testConfig({
        security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
      }),
    );
    routes = [
      ...(await openApiRoutes(service, API_TOKEN)).filter((route) => !OPEN_ROUTES.includes(route.path)),
      ...EXTRA_ROUTES,
    ];
  });

  afterAll(async () => {
    for (const client of clients) await client.close();
    await service.close();
  });

  const call = async (route: Route, token?: string, body = '{}'): Promise<Response> =>
    fetch(`${service.urls.base}${route.path}`, {
      method: route.method,
      redirect: 'manual',
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(route.path === '/mcp' ? MCP_HEADERS : { 'content-type': 'application/json' }),
      },
      ...(route.method === 'GET' || route.method === 'DELETE'
        ? {}
        : { body: route.path === '/mcp' ? MCP_INITIALIZE : body }),
    });

  it('refuses every route without a token or with a wrong one (401 with WWW-Authenticate), /health stays open', async () => {
    expect(routes.filter((route) => route.operationId !== undefined).length).toBeGreaterThan(10);
    for (const route of routes) {
      for (const token of [undefined, WRONG_TOKEN]) {
        const response = await call(route, token);
        const label = `${route.method} ${route.path} with ${token === undefined ? 'no token' : 'a wrong token'}`;
        expect({ label, status: response.status }).toEqual({ label, status: 401 });
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
        const body = (await response.json()) as ErrorBody;
        expect(body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
        expect(body.message).toMatch(token === undefined ? /API token is required/ : /not valid/);
      }
    }
    expect(await upgradeStatus(websocketUrl(service), {})).toBe(401);
    expect(await upgradeStatus(websocketUrl(service), { authorization: `Bearer ${WRONG_TOKEN}` })).toBe(401);
    for (const path of OPEN_ROUTES) {
      expect((await fetch(`${service.urls.base}${path}`)).status).toBe(200);
    }
  });

  it('lets the full token through on every route', async () => {
    for (const route of routes) {
      const label = `${route.method} ${route.path}`;
      if (route.operationId === undefined) {
        const response = await call(route, API_TOKEN);
        expect({ label, status: response.status }).toEqual({ label, status: 200 });
        continue;
      }
      // An unknown field fails validation, which runs after the guards: the token got through, nothing ran.
      const response = await call(
        { ...route, path: `${route.path}?unexpectedField=1` },
        API_TOKEN,
        JSON.stringify({ unexpectedField: 1 }),
      );
      expect({ label, status: response.status }).toEqual({ label, status: 400 });
      expect(((await response.json()) as ErrorBody).message).toMatch(/unexpectedField/);
    }
    expect(await upgradeStatus(websocketUrl(service), { authorization: `Bearer ${API_TOKEN}` })).toBe(101);
  });

  it('serves MCP to a client with the full token and refuses one without', async () => {
    const mcp = await connectMcpClientWithToken(service, API_TOKEN);
    clients.push(mcp);
    const status = await mcp.callTool({ name: 'get_connection_status', arguments: {} });
    expect(status.isError).toBeFalsy();
    expect(status.structuredContent).toMatchObject({ state: 'connected' });
    await expect(connectMcpClientWithToken(service, WRONG_TOKEN)).rejects.toThrow(/401/);
  });

  it('keeps the read-only token to read-only operations over REST: every other one is 403, naming it', async () => {
    const mcp = await connectMcpClientWithToken(service, READ_ONLY_TOKEN);
    clients.push(mcp);
    const { tools } = await mcp.listTools();
    const changing = tools.filter((tool) => tool.annotations?.readOnlyHint !== true).map((tool) => tool.name);
    const reading = tools.filter((tool) => tool.annotations?.readOnlyHint === true).map((tool) => tool.name);
    expect(changing).toEqual(expect.arrayContaining(['reconnect', 'place_order', 'cancel_order']));
    const simulator = service.simulator!;
    const before = simulator.broker.snapshot();
    const sessionBefore = simulator.stats().connectedClients;

    for (const name of changing) {
      const route = routes.find((candidate) => candidate.operationId === name);
      if (!route) throw new Error(`operation ${name} has no route in /docs-json`);
      const response = await call(route, READ_ONLY_TOKEN);
      expect({ name, status: response.status }).toEqual({ name, status: 403 });
      const body = (await response.json()) as ErrorBody;
      expect(body).toMatchObject({ code: 'FORBIDDEN', operation: name });
      expect(body.message).toContain(name);
      expect(body.message).toMatch(/read-only API token/);
    }
    // Reading is allowed: no read-only operation is refused for the token.
    for (const name of reading) {
      const route = routes.find((candidate) => candidate.operationId === name);
      if (!route) continue;
      const response = await call(route, READ_ONLY_TOKEN);
      expect({ name, forbidden: [401, 403].includes(response.status) }).toEqual({ name, forbidden: false });
    }

    const after = simulator.broker.snapshot();
    expect(after.nextValidOrderId).toBe(before.nextValidOrderId);
    expect(after.openOrders).toEqual(before.openOrders);
    expect(after.executions).toBe(before.executions);
    expect(simulator.stats().connectedClients).toEqual(sessionBefore); // no reconnect happened
  });

  it('keeps the read-only token to read-only tools over MCP, through the same guard', async () => {
    const mcp = await connectMcpClientWithToken(service, READ_ONLY_TOKEN);
    clients.push(mcp);
    const simulator = service.simulator!;
    const ordersBefore = simulator.broker.snapshot();
    const sessionBefore = simulator.stats().connectedClients;

    const reconnect = await mcp.callTool({ name: 'reconnect', arguments: {} });
    expect(reconnect.isError).toBe(true);
    expect(JSON.stringify(reconnect.content)).toMatch(/reconnect changes state, and the read-only API token/);
    // The same body as the REST 403, as structured content.
    expect(reconnect.structuredContent).toMatchObject({
      statusCode: 403,
      code: 'FORBIDDEN',
      operation: 'reconnect',
    });

    const order = await mcp.callTool({
      name: 'place_order',
      arguments: { symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'MKT' },
    });
    expect(order.isError).toBe(true);
    expect(JSON.stringify(order.content)).toMatch(/place_order changes state, and the read-only API token/);

    const status = await mcp.callTool({ name: 'get_connection_status', arguments: {} });
    expect(status.isError).toBeFalsy();

    expect(simulator.broker.snapshot().nextValidOrderId).toBe(ordersBefore.nextValidOrderId);
    expect(simulator.broker.snapshot().openOrders).toEqual(ordersBefore.openOrders);
    expect(simulator.stats().connectedClients).toEqual(sessionBefore);
  });

  it('keeps the read-only token to read-only tools for clients of the current MCP revision (2026-07-28) too', async () => {
    const client = new ClientV2(
      { name: 'ibgs-security-test', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(
      new HttpV2(new URL(service.urls.mcp), {
        requestInit: { headers: { authorization: `Bearer ${READ_ONLY_TOKEN}` } },
      }),
    );
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const reconnect = await client.callTool({ name: 'reconnect', arguments: {} });
      expect(reconnect.isError).toBe(true);
      expect(JSON.stringify(reconnect.content)).toMatch(
        /reconnect changes state, and the read-only API token/,
      );
      expect(reconnect.structuredContent).toMatchObject({ code: 'FORBIDDEN', operation: 'reconnect' });
      const time = await client.callTool({ name: 'get_server_time', arguments: {} });
      expect(time.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('lets the full token do what the read-only one may not (the guard is what stopped it)', async () => {
    const simulator = service.simulator!;
    const [before] = simulator.stats().connectedClients;
    const response = await fetch(`${service.urls.base}/connection/reconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    const [after] = simulator.stats().connectedClients;
    expect(after?.connectionId).not.toBe(before?.connectionId);
  });

  it('keeps the read-only token off the gateway screen, which takes keyboard input', async () => {
    const page = await fetch(`${service.urls.base}/vnc`, {
      headers: { authorization: `Bearer ${READ_ONLY_TOKEN}` },
    });
    expect(page.status).toBe(403);
    expect(((await page.json()) as ErrorBody).message).toMatch(/needs the full API token/);
    expect(await upgradeStatus(websocketUrl(service), { authorization: `Bearer ${READ_ONLY_TOKEN}` })).toBe(
      403,
    );
  });

  it('takes the token once as ?token= on the browser pages, into an HttpOnly SameSite=Strict cookie', async () => {
    const opened = await fetch(`${service.urls.base}/vnc?token=${API_TOKEN}&view=1`, { redirect: 'manual' });
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe('/vnc?view=1'); // the token leaves the address bar
    const setCookie = opened.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^ibgs_token=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = setCookie.split(';')[0] ?? '';

    const page = await fetch(`${service.urls.base}/vnc`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('IB Gateway screen');
    expect((await fetch(`${service.urls.base}/docs-json`, { headers: { cookie } })).status).toBe(200);
    expect(await upgradeStatus(websocketUrl(service), { cookie })).toBe(101);
    // MCP clients send the header; the cookie (which other localhost ports' pages would send too) is not enough.
    const mcp = await fetch(service.urls.mcp, {
      method: 'POST',
      headers: { ...MCP_HEADERS, cookie },
      body: MCP_INITIALIZE,
    });
    expect(mcp.status).toBe(401);

    const wrong = await fetch(`${service.urls.base}/docs?token=${WRONG_TOKEN}`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // Elsewhere ?token= is no way in: API clients send the header.
    expect((await fetch(`${service.urls.base}/connection/status?token=${API_TOKEN}`)).status).toBe(401);
  });
});

describe('CORS', () => {
  it('is closed by default: no CORS headers, and a foreign page is refused', async () => {
    const service = await startTestService(testConfig());
    try {
      const preflight = await fetch(`${service.urls.base}/connection/status`, {
        method: 'OPTIONS',
        headers: { origin: 'http://app.example', 'access-control-request-method': 'GET' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
      const simple = await fetch(`${service.urls.base}/connection/status`, {
        headers: { origin: 'http://app.example' },
      });
      expect(simple.status).toBe(403);
      expect(simple.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await service.close();
    }
  });

  it('opens to the origins in security.corsOrigins, and only to them', async () => {
    const service = await startTestService(
      testConfig({
        security: {
          ...CONFIG_DEFAULTS.security,
          apiToken: API_TOKEN,
          corsOrigins: ['http://app.example:3000'],
        },
      }),
    );
    try {
      const preflight = await fetch(`${service.urls.base}/connection/status`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://app.example:3000',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://app.example:3000');
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);

      const allowed = await fetch(`${service.urls.base}/connection/status`, {
        headers: { origin: 'http://app.example:3000', authorization: `Bearer ${API_TOKEN}` },
      });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('http://app.example:3000');

      const other = await fetch(`${service.urls.base}/connection/status`, {
        headers: { origin: 'http://other.example', authorization: `Bearer ${API_TOKEN}` },
      });
      expect(other.status).toBe(403);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await service.close();
    }
  });
});

describe('listening beyond loopback', () => {
  it('is refused without an API token', () => {
    const result = AppConfigSchema.safeParse({ ...testConfig(), host: '0.0.0.0' });
    expect(result.success).toBe(false);
    const issue = result.error?.issues.find((candidate) => candidate.path.join('.') === 'security.apiToken');
    expect(issue?.message).toMatch(/API token is required to listen on the non-loopback address 0\.0\.0\.0/);
  });

  it('works with one, and then every request needs it', async () => {
    const service = await startTestService(
      testConfig({ host: '0.0.0.0', security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN } }),
    );
    try {
      // Reached through loopback here; any Host name is fine beyond loopback (the token protects).
      const url = service.urls.base.replace('0.0.0.0', '127.0.0.1');
      expect((await fetch(`${url}/connection/status`)).status).toBe(401);
      const response = await fetch(`${url}/connection/status`, {
        headers: { authorization: `Bearer ${API_TOKEN}` },
      });
      expect(response.status).toBe(200);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      await service.close();
    }
  });
});
