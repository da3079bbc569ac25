import { Module, type INestApplication } from '@nestjs/common';
import { McpController } from '@rekog/mcp-nest';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Writable } from 'node:stream';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { AppModule } from '../../../src/app.module';
import { MetricsRegistry } from '../../../src/common/metrics';
import { GatewayRouter } from '../../../src/gateway/gateway-router';
import { DomainError } from '../../../src/common/domain-error';
import { Input, Operation } from '../../../src/common/operation.decorator';
import { listenWithBothFaces } from '../../../src/main';
import { testConfig } from './service-harness';

const FailInput = z.strictObject({
  kind: z.enum(['domain', 'rate-limited', 'ib', 'ambiguous', 'careless', 'unexpected']),
});
const Nothing = z.object({});
const SECRET = 'correct-horse-battery-staple';
const API_TOKEN = 'api-token-for-the-error-mapping-test';

/** Operations that fail on purpose, declared through the same mechanism as the real ones. */
@McpController('failing')
class FailingController {
  @Operation({
    name: 'fail_on_purpose',
    summary: 'Fails the way it is asked to',
    path: 'fail',
    input: FailInput,
    output: Nothing,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  fail(@Input(FailInput) input: z.infer<typeof FailInput>): never {
    if (input.kind === 'domain') throw new DomainError('NOT_FOUND', 'No contract matches symbol NOPE');
    if (input.kind === 'rate-limited') {
      throw new DomainError('RATE_LIMITED', 'Too many historical requests; retry later', {
        retryAfterSeconds: 15,
      });
    }
    if (input.kind === 'ib') {
      // As the IB error mapping reports a fault on IB's side: IB's code and text as details.
      throw new DomainError(
        'IB_ERROR',
        'IB refused the historical bars request for AAPL: "HMDS query returned no data"',
        {
          ibCode: 162,
          ibMessage: 'Historical Market Data Service error message:HMDS query returned no data',
        },
      );
    }
    if (input.kind === 'ambiguous') {
      throw new DomainError('CONFLICT', 'Several contracts match symbol ABC; name one by conId', {
        candidates: [
          { conId: 1, symbol: 'ABC', exchange: 'NYSE' },
          { conId: 2, symbol: 'ABC', exchange: 'TSX' },
        ],
      });
    }
    if (input.kind === 'careless') {
      // A message written without thinking of the credentials: the answer must not repeat them.
      throw new DomainError('CONFLICT', `The gateway refused the login with password ${SECRET}`, {
        attempted: { password: SECRET, token: API_TOKEN },
      });
    }
    throw new Error(`database exploded while using password ${SECRET}`);
  }
}

describe('one error mapping for REST and MCP', () => {
  let app: INestApplication;
  let base: string;
  let mcp: Client;
  let mcpV2: ClientV2;
  const logLines: string[] = [];

  beforeAll(async () => {
    const config = testConfig({ logLevel: 'info' });
    config.ib = { ...config.ib, username: 'trader', password: SECRET };
    config.security = { ...config.security, apiToken: API_TOKEN };
    const logDestination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    @Module({
      // No gateway: only the failing controller below answers, through the app's one error edge.
      imports: [
        AppModule.forRoot({
          config,
          router: new GatewayRouter([], config.gateway.name),
          metrics: new MetricsRegistry(),
          logDestination,
        }),
      ],
      controllers: [FailingController],
    })
    class FailingAppModule {}
    app = await listenWithBothFaces({ module: FailingAppModule }, config);
    base = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
    const headers = { authorization: `Bearer ${API_TOKEN}` };
    mcp = new Client({ name: 'error-test', version: '1.0.0' });
    await mcp.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers } }),
    );
    // The v1 client checks structuredContent against the listed outputSchema, error results included (SDK
    // issue #1943): listing the tools first puts that check in force for every call below.
    await mcp.listTools();
    mcpV2 = new ClientV2({ name: 'error-test-v2', version: '1.0.0' });
    await mcpV2.connect(new HttpV2(new URL(`${base}/mcp`), { requestInit: { headers } }));
    await mcpV2.listTools();
  });

  afterAll(async () => {
    await mcp.close();
    await mcpV2.close();
    await app.close();
  });

  const restFail = async (kind: string) =>
    fetch(`${base}/failing/fail?kind=${kind}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
  const mcpFail = async (kind: string) => {
    const result = await mcp.callTool({ name: 'fail_on_purpose', arguments: { kind } });
    return { isError: result.isError, text: (result.content as { text: string }[])[0]?.text };
  };
  /** The whole MCP result, from the v1 client and the v2 client (which must agree). */
  const mcpResult = async (kind: string) => {
    const result = await mcp.callTool({ name: 'fail_on_purpose', arguments: { kind } });
    const resultV2 = await mcpV2.callTool({ name: 'fail_on_purpose', arguments: { kind } });
    const pick = (r: typeof result | typeof resultV2) => ({
      isError: r.isError,
      text: (r.content as { text: string }[])[0]?.text,
      structured: r.structuredContent as Record<string, unknown> | undefined,
    });
    const [v1, v2] = [pick(result), pick(resultV2)];
    // An unexpected error gets a fresh error id per call; everything else is the same answer.
    const withoutId = (answer: typeof v1) =>
      JSON.parse(JSON.stringify(answer).replace(/\b[0-9a-f]{8}\b/g, '<id>')) as unknown;
    expect(withoutId(v2)).toEqual(withoutId(v1));
    return v1;
  };

  it('maps a domain error to its HTTP status and to isError with the same message', async () => {
    const response = await restFail('domain');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      statusCode: 404,
      code: 'NOT_FOUND',
      message: 'No contract matches symbol NOPE',
    });
    expect(await mcpFail('domain')).toEqual({ isError: true, text: 'No contract matches symbol NOPE' });
  });

  it('gives an MCP error result the code and details of the REST body, as structured content', async () => {
    for (const kind of ['domain', 'rate-limited', 'ib', 'ambiguous']) {
      const response = await restFail(kind);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.statusCode).toBe(response.status);
      const result = await mcpResult(kind);
      expect({ kind, ...result }).toEqual({ kind, isError: true, text: body.message, structured: body });
    }
    expect((await mcpResult('rate-limited')).structured).toEqual({
      statusCode: 429,
      code: 'RATE_LIMITED',
      message: 'Too many historical requests; retry later',
      retryAfterSeconds: 15,
    });
    expect((await mcpResult('ib')).structured).toMatchObject({
      statusCode: 502,
      code: 'IB_ERROR',
      ibCode: 162,
    });
    expect((await mcpResult('ambiguous')).structured).toMatchObject({
      code: 'CONFLICT',
      candidates: [{ conId: 1 }, { conId: 2 }],
    });
  });

  it("declares the error body beside each tool's output, so that a checking client accepts both", async () => {
    const { tools } = await mcp.listTools();
    const tool = tools.find((candidate) => candidate.name === 'fail_on_purpose');
    const schema = tool?.outputSchema as { type: string; anyOf: Array<{ required?: string[] }> };
    expect(schema.type).toBe('object');
    expect(schema.anyOf.map((branch) => branch.required ?? [])).toContainEqual([
      'statusCode',
      'code',
      'message',
    ]);
  });

  it('sends Retry-After with a rate-limit error', async () => {
    const response = await restFail('rate-limited');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('15');
    expect(((await response.json()) as { retryAfterSeconds: number }).retryAfterSeconds).toBe(15);
  });

  it('names the field and the rule of a validation error', async () => {
    const response = await restFail('sideways');
    expect(response.status).toBe(400);
    const { message } = (await response.json()) as { message: string };
    expect(message).toMatch(/^Invalid parameters: \[kind\]: Invalid option: expected one of/);
    expect(await mcpFail('sideways')).toEqual({ isError: true, text: message });
    expect((await mcpResult('sideways')).structured).toEqual({
      statusCode: 400,
      code: 'INVALID_INPUT',
      message,
    });
  });

  it('takes a credential out of an error answer on both faces, even one a message carries by mistake', async () => {
    const response = await restFail('careless');
    expect(response.status).toBe(409);
    const text = await response.text();
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(API_TOKEN);
    expect(JSON.parse(text)).toEqual({
      statusCode: 409,
      code: 'CONFLICT',
      message: 'The gateway refused the login with password [redacted]',
      attempted: { password: '[redacted]', token: '[redacted]' },
    });
    const result = await mcpResult('careless');
    expect(result.structured).toEqual(JSON.parse(text));
    expect(result.text).toBe('The gateway refused the login with password [redacted]');
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(JSON.stringify(result)).not.toContain(API_TOKEN);
  });

  it('answers an unexpected error generically with an error id, logged once in full without the secret', async () => {
    const response = await restFail('unexpected');
    expect(response.status).toBe(500);
    const body = (await response.json()) as { code: string; message: string; errorId: string };
    expect(body.code).toBe('INTERNAL');
    expect(body.message).toBe(
      `Internal error; the service log has the details under error id ${body.errorId}`,
    );
    expect(JSON.stringify(body)).not.toContain('exploded');
    const overMcp = await mcpFail('unexpected');
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toMatch(
      /^Internal error; the service log has the details under error id [0-9a-f]{8}$/,
    );
    const structured = (await mcpResult('unexpected')).structured;
    expect(structured).toEqual({
      statusCode: 500,
      code: 'INTERNAL',
      message: `Internal error; the service log has the details under error id ${String(structured?.errorId)}`,
      errorId: expect.stringMatching(/^[0-9a-f]{8}$/) as unknown,
    });
    expect(JSON.stringify(structured)).not.toContain('exploded');

    const logged = logLines.filter((line) => line.includes(body.errorId));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('database exploded');
    expect(logged[0]).toContain('[redacted]');
    expect(logLines.join('\n')).not.toContain(SECRET);
  });
});
