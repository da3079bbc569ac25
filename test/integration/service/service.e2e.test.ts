import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import { connectMcpClient, startTestService } from './service-harness';

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId: string }>>;
}

describe('service end to end: REST and MCP against the simulator', () => {
  let service: RunningService;
  let mcp: Client;

  beforeAll(async () => {
    service = await startTestService();
    mcp = await connectMcpClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const rest = async (path: string, init?: RequestInit) => fetch(`${service.urls.base}${path}`, init);
  const post = async (path: string, body: unknown) =>
    rest(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('reports the IB session as connected over REST', async () => {
    const response = await rest('/connection/status');
    expect(response.status).toBe(200);
    const status = (await response.json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      state: 'connected',
      host: '127.0.0.1',
      clientId: CONFIG_DEFAULTS.ib.clientId,
      reconnects: 0,
    });
    expect(status.port).toBe(service.simulator?.port);
  });

  it("gets the gateway's time over REST and over MCP as structured content", async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await rest('/connection/server-time');
    const overRest = (await response.json()) as { epochSeconds: number; iso: string };
    expect(Math.abs(overRest.epochSeconds - before)).toBeLessThanOrEqual(2);
    expect(new Date(overRest.iso).getTime()).toBe(overRest.epochSeconds * 1000);

    const result = await mcp.callTool({ name: 'get_server_time', arguments: {} });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { epochSeconds: number; iso: string };
    expect(Math.abs(structured.epochSeconds - before)).toBeLessThanOrEqual(2);
  });

  it('lists the tools with their explicit safety annotations', async () => {
    const { tools } = await mcp.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get('get_server_time')?.annotations).toEqual({
      title: "Get IB Gateway's current time",
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: false,
    });
    expect(byName.get('reconnect')?.annotations?.readOnlyHint).toBe(false);
    expect(byName.get('get_connection_status')?.outputSchema).toBeDefined();
  });

  it('rejects a bad input with 400 over REST and isError over MCP, with the same message', async () => {
    const response = await post('/connection/reconnect', { timeoutSeconds: -5 });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe('INVALID_INPUT');
    expect(body.message).toContain('timeoutSeconds');

    const result = await mcp.callTool({ name: 'reconnect', arguments: { timeoutSeconds: -5 } });
    expect(result.isError).toBe(true);
    const [content] = result.content as { type: string; text: string }[];
    expect(content?.text).toBe(body.message);
  });

  it('rejects an unknown parameter instead of ignoring it', async () => {
    const response = await rest('/connection/status?verbose=true');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain('verbose');
  });

  it('reconnects the IB session on request and counts it', async () => {
    const response = await post('/connection/reconnect', { timeoutSeconds: 10 });
    expect(response.status).toBe(200);
    const status = (await response.json()) as { state: string; reconnects: number };
    expect(status.state).toBe('connected');
    expect(status.reconnects).toBeGreaterThanOrEqual(1);
    const viaMcp = await mcp.callTool({ name: 'reconnect', arguments: {} });
    expect((viaMcp.structuredContent as { state: string }).state).toBe('connected');
  });

  it('answers 503 NOT_CONNECTED when the IB session is down, and readiness says so', async () => {
    await service.simulator?.refuseConnections(3000);
    const deadline = Date.now() + 5000;
    let ready = 200;
    while (ready === 200 && Date.now() < deadline) {
      ready = (await rest('/health/ready')).status;
      if (ready === 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(ready).toBe(503);
    const response = await rest('/connection/server-time');
    expect(response.status).toBe(503);
    expect(((await response.json()) as { code: string }).code).toBe('NOT_CONNECTED');
    const result = await mcp.callTool({ name: 'get_server_time', arguments: {} });
    expect(result.isError).toBe(true);
    // The session reconnects by itself once the simulator listens again.
    const back = Date.now() + 10_000;
    while ((await rest('/health/ready')).status !== 200 && Date.now() < back) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await rest('/health/ready')).status).toBe(200);
  });

  it('serves Swagger UI at /docs and the OpenAPI document at /docs-json', async () => {
    const ui = await rest('/docs');
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
    const document = (await (await rest('/docs-json')).json()) as OpenApiDocument;
    const operationIds = Object.values(document.paths).flatMap((methods) =>
      Object.values(methods).map((operation) => operation.operationId),
    );
    expect(operationIds).toEqual(
      expect.arrayContaining(['get_connection_status', 'reconnect', 'get_server_time']),
    );
  });

  it('serves liveness and counts operations per interface in Prometheus metrics', async () => {
    expect((await rest('/health')).status).toBe(200);
    await rest('/connection/status');
    await mcp.callTool({ name: 'get_connection_status', arguments: {} });
    const metrics = await (await rest('/metrics')).text();
    expect(metrics).toMatch(
      /ibgs_operation_requests_total\{operation="get_connection_status",interface="rest",outcome="ok"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ibgs_operation_requests_total\{operation="get_connection_status",interface="mcp",outcome="ok"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ibgs_operation_requests_total\{operation="reconnect",interface="rest",outcome="error"\} [1-9]/,
    );
    expect(metrics).toContain('ibgs_operation_duration_seconds_bucket');
  });
});

describe('MCP protocol revisions', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startTestService();
  });

  afterAll(async () => service.close());

  it('serves the current revision, 2026-07-28, to the official v2 client', async () => {
    const client = new ClientV2(
      { name: 'ibgs-revision-test', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(new HttpV2(new URL(service.urls.mcp)));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const result = await client.callTool({ name: 'get_server_time', arguments: {} });
      expect((result.structuredContent as { epochSeconds: number }).epochSeconds).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it.each(['2025-11-25', '2025-06-18', '2025-03-26'])(
    'accepts a 2025-era client asking for %s',
    async (revision) => {
      const rpc = async (body: unknown, extraHeaders: Record<string, string> = {}) => {
        const response = await fetch(service.urls.mcp, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...extraHeaders,
          },
          body: JSON.stringify(body),
        });
        const text = await response.text();
        // A JSON body, or one server-sent event carrying it.
        const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
        return JSON.parse(json) as { result?: Record<string, unknown> };
      };
      const initialized = await rpc({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: revision, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      });
      expect(initialized.result?.protocolVersion).toBe(revision);
      const listed = await rpc(
        { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
        { 'mcp-protocol-version': revision },
      );
      const tools = (listed.result?.tools ?? []) as { name: string }[];
      expect(tools.map((tool) => tool.name)).toContain('get_server_time');
    },
  );
});
