import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfigSchema, CONFIG_DEFAULTS, type AppConfig } from '../../../src/config/config.schema';
import { startService, type RunningService, type StartOptions } from '../../../src/main';

/** A config for tests: the defaults on loopback, free ports, silent logs, a fresh data dir, the simulator. */
export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return AppConfigSchema.parse({
    ...CONFIG_DEFAULTS,
    port: 0,
    logLevel: 'silent',
    dataDir: mkdtempSync(join(tmpdir(), 'ibgs-test-')),
    ...overrides,
  });
}

/** Starts the whole service and waits until the IB session is connected (/health/ready). */
export async function startTestService(
  config: AppConfig = testConfig(),
  options: StartOptions = {},
): Promise<RunningService> {
  const service = await startService(config, options);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const response = await fetch(`${service.urls.base}/health/ready`);
    if (response.status === 200) return service;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await service.close();
  throw new Error('The service did not become ready within 15 s');
}

/** A real MCP client (the official SDK) over streamable HTTP. */
export async function connectMcpClient(service: RunningService): Promise<Client> {
  const client = new Client({ name: 'ibgs-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(service.urls.mcp)));
  return client;
}
