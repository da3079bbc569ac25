import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService, StartOptions } from '../../../src/main';
import { startTestService, testConfig } from '../service/service-harness';

export const FULL_TOKEN = 'resources-full-token-0123456789';
export const READ_ONLY_TOKEN = 'resources-read-only-token-0123456789';

/** The service with both API tokens and a rate limit no test reaches. */
export async function startServiceWithTokens(options: StartOptions = {}): Promise<RunningService> {
  return startTestService(
    testConfig({
      security: {
        ...CONFIG_DEFAULTS.security,
        apiToken: FULL_TOKEN,
        readOnlyToken: READ_ONLY_TOKEN,
        rateLimitPerMinute: 100_000,
      },
    }),
    options,
  );
}

/** The official v2 client on the current revision (2026-07-28), sending `token` when given. */
export async function connectModernClient(service: RunningService, token?: string): Promise<ClientV2> {
  const client = new ClientV2(
    { name: 'ibgs-resources-test', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(
    new HttpV2(new URL(service.urls.mcp), {
      requestInit: token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** A REST read with `token`, as parsed JSON; fails the test on a non-200. */
export async function restJson(service: RunningService, path: string, token: string): Promise<unknown> {
  const response = await fetch(`${service.urls.base}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body: unknown = await response.json();
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** POST /orders with the full token. */
export async function placeOrder(
  service: RunningService,
  order: Record<string, unknown>,
): Promise<{ status: number; body: { orderId?: number } }> {
  const response = await fetch(`${service.urls.base}/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${FULL_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(order),
  });
  return { status: response.status, body: (await response.json()) as { orderId?: number } };
}

/** A resource's one JSON content, parsed, after checking its URI and MIME type. */
export async function readJson(client: ClientV2, uri: string): Promise<unknown> {
  const result = await client.readResource({ uri });
  expect(result.contents).toHaveLength(1);
  const [content] = result.contents;
  expect(content).toMatchObject({ uri, mimeType: 'application/json' });
  return JSON.parse((content as { text: string }).text) as unknown;
}

/** Polls until `check` returns a value. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
