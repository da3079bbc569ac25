import { Module, type INestApplication } from '@nestjs/common';
import { McpController } from '@rekog/mcp-nest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Writable } from 'node:stream';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { AppModule } from '../../../src/app.module';
import { DomainError } from '../../../src/common/domain-error';
import { Input, Operation } from '../../../src/common/operation.decorator';
import { listenWithBothFaces } from '../../../src/main';
import { testConfig } from './service-harness';

const FailInput = z.strictObject({ kind: z.enum(['domain', 'rate-limited', 'unexpected']) });
const Nothing = z.object({});
const SECRET = 'correct-horse-battery-staple';

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
    throw new Error(`database exploded while using password ${SECRET}`);
  }
}

describe('one error mapping for REST and MCP', () => {
  let app: INestApplication;
  let base: string;
  let mcp: Client;
  const logLines: string[] = [];

  beforeAll(async () => {
    const config = testConfig({ logLevel: 'info' });
    config.ib = { ...config.ib, username: 'trader', password: SECRET };
    const logDestination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    @Module({
      // The IB session target is unused here; nothing listens on port 9 and nothing asks.
      imports: [
        AppModule.forRoot({
          config,
          ibApiTarget: { host: '127.0.0.1', port: 9, clientId: 1 },
          logDestination,
        }),
      ],
      controllers: [FailingController],
    })
    class FailingAppModule {}
    app = await listenWithBothFaces({ module: FailingAppModule }, config);
    base = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
    mcp = new Client({ name: 'error-test', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
  });

  afterAll(async () => {
    await mcp.close();
    await app.close();
  });

  const restFail = async (kind: string) => fetch(`${base}/failing/fail?kind=${kind}`);
  const mcpFail = async (kind: string) => {
    const result = await mcp.callTool({ name: 'fail_on_purpose', arguments: { kind } });
    return { isError: result.isError, text: (result.content as { text: string }[])[0]?.text };
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
    const mcpResult = await mcpFail('unexpected');
    expect(mcpResult.isError).toBe(true);
    expect(mcpResult.text).toMatch(
      /^Internal error; the service log has the details under error id [0-9a-f]{8}$/,
    );

    const logged = logLines.filter((line) => line.includes(body.errorId));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('database exploded');
    expect(logged[0]).toContain('[redacted]');
    expect(logLines.join('\n')).not.toContain(SECRET);
  });
});
