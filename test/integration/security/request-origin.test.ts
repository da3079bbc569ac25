import type { RunningService } from '../../../src/main';
import { startTestService } from '../service/service-harness';
import { MCP_HEADERS, MCP_INITIALIZE, rawRequest, upgradeStatus, websocketUrl } from './security-harness';

interface JsonRpcError {
  jsonrpc: string;
  error: { code: number; message: string };
}

/**
 * DNS rebinding and foreign pages, with no token configured (the default on loopback): the Host and Origin
 * checks are then all that keeps a web page in the user's browser away from the API, the MCP tools and
 * the gateway's screen.
 */
describe('Host and Origin checks (DNS rebinding, foreign pages)', () => {
  let service: RunningService;
  let port: string;

  beforeAll(async () => {
    service = await startTestService();
    port = new URL(service.urls.base).port;
  });

  afterAll(async () => {
    await service.close();
  });

  const mcpInitialize = async (headers: Record<string, string>) =>
    rawRequest(service, 'POST', '/mcp', { ...MCP_HEADERS, ...headers }, MCP_INITIALIZE);

  it('/mcp answers a rebinding page (foreign Origin) with 403 and a JSON-RPC error', async () => {
    const response = await mcpInitialize({ origin: `http://evil.example:${port}` });
    expect(response.status).toBe(403);
    const body = JSON.parse(response.body) as JsonRpcError;
    expect(body.jsonrpc).toBe('2.0');
    expect(body.error.message).toMatch(/Invalid Origin: evil\.example/);
  });

  it('/mcp answers a rebound host name (foreign Host) with 403', async () => {
    const response = await mcpInitialize({ host: `evil.example:${port}` });
    expect(response.status).toBe(403);
    expect((JSON.parse(response.body) as JsonRpcError).error.message).toMatch(/Invalid Host: evil\.example/);
  });

  it('/mcp serves local clients: no Origin, or a localhost page', async () => {
    expect((await mcpInitialize({})).status).toBe(200);
    expect((await mcpInitialize({ origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await mcpInitialize({ host: `localhost:${port}` })).status).toBe(200);
  });

  it('REST, /docs and /vnc refuse a rebound Host and a foreign Origin, in the API error shape', async () => {
    for (const path of ['/connection/status', '/docs-json', '/docs', '/vnc', '/metrics']) {
      const rebound = await rawRequest(service, 'GET', path, { host: `evil.example:${port}` });
      expect({ path, status: rebound.status }).toEqual({ path, status: 403 });
      expect(JSON.parse(rebound.body)).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
      expect(JSON.parse(rebound.body).message).toMatch(/Host evil\.example:\d+ is not allowed/);

      const foreign = await rawRequest(service, 'GET', path, { origin: 'http://evil.example' });
      expect({ path, status: foreign.status }).toEqual({ path, status: 403 });
      expect(JSON.parse(foreign.body).message).toMatch(/Origin http:\/\/evil\.example is not allowed/);
    }
  });

  it('a foreign page cannot make the service act (cross-site POST) and nothing happens', async () => {
    const simulator = service.simulator!;
    const before = simulator.stats().connectedClients;
    const response = await rawRequest(
      service,
      'POST',
      '/connection/reconnect',
      { origin: 'http://evil.example', 'content-type': 'text/plain' },
      '{}',
    );
    expect(response.status).toBe(403);
    expect(simulator.stats().connectedClients).toEqual(before);
  });

  it("the service's own pages (same origin) and non-browser clients are served", async () => {
    const sameOrigin = await rawRequest(service, 'GET', '/connection/status', { origin: service.urls.base });
    expect(sameOrigin.status).toBe(200);
    const viaLocalhost = await rawRequest(service, 'GET', '/connection/status', {
      host: `localhost:${port}`,
      origin: `http://localhost:${port}`,
    });
    expect(viaLocalhost.status).toBe(200);
    // A localhost page on another port is another origin.
    const otherPort = await rawRequest(service, 'GET', '/connection/status', {
      origin: 'http://127.0.0.1:1',
    });
    expect(otherPort.status).toBe(403);
    expect((await rawRequest(service, 'GET', '/connection/status')).status).toBe(200);
  });

  it('the VNC websocket refuses a foreign page and a rebound Host', async () => {
    const url = websocketUrl(service);
    expect(await upgradeStatus(url, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(url, { host: `evil.example:${port}` })).toBe(403);
    expect(await upgradeStatus(url, { origin: service.urls.base })).toBe(101);
  });

  it('/health answers whatever the Host (orchestrators probe by any name)', async () => {
    expect((await rawRequest(service, 'GET', '/health', { host: `gateway-supervisor:${port}` })).status).toBe(
      200,
    );
  });
});
