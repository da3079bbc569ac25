import { connect } from 'node:net';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { AAPL_CON_ID, brokerState, MARKET_OPEN, restingPrice } from '../orders/orders-harness';
import { startTestService, testConfig } from '../service/service-harness';
import {
  MCP_HEADERS,
  MCP_INITIALIZE,
  openApiRoutes,
  rawRequest as rawRequestOf,
  type RawResponse,
  type Route,
} from './security-harness';

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
/** Over the REST API's 100 kB JSON limit. */
const OVERSIZED_JSON = JSON.stringify({ filler: 'x'.repeat(200_000) });
/** Over the service's 8 KiB URL limit, within Node's 16 KiB for URL and headers. */
const LONG_QUERY = `filler=${'a'.repeat(10_000)}`;
/** Over Node's 16 KiB for URL and headers: its parser gives up before any route sees the request. */
const HUGE_QUERY = `filler=${'a'.repeat(1_000_000)}`;

/**
 * A request over node:http with a Content-Length for its body (node:http sends a DELETE's body without one,
 * and the server would read it as the next request).
 */
async function rawRequest(
  service: RunningService,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawResponse> {
  const length: Record<string, string> =
    body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
  return rawRequestOf(service, method, path, { ...length, ...headers }, body);
}

/** The usual JSON error body with this status and code, and never a 5xx. */
function expectError(label: string, response: RawResponse, statusCode: number, code: string): ErrorBody {
  expect({ label, status: response.status }).toEqual({ label, status: statusCode });
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as ErrorBody;
  expect(body).toMatchObject({ statusCode, code });
  expect(typeof body.message).toBe('string');
  return body;
}

/** A request as raw bytes over TCP (for what node:http would not send), and the raw answer. */
async function rawBytes(service: RunningService, bytes: string): Promise<string> {
  const base = new URL(service.urls.base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

describe('malformed input: every door checks its input before anything happens, and no answer is a 5xx', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let sideEffecting: Route[];

  beforeAll(async () => {
    service = await startTestService();
    simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(MARKET_OPEN);
    sideEffecting = (await openApiRoutes(service)).filter((route) => route.method !== 'GET');
    // A resting order, so that a cancel or cancel-all that ran would show.
    const placed = await fetch(`${service.urls.base}/orders`, {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({
        symbol: 'AAPL',
        side: 'BUY',
        quantity: 3,
        orderType: 'LMT',
        limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
      }),
    });
    expect(placed.status).toBe(200);
  });

  afterAll(async () => {
    await service.close();
  });

  /** What any side-effecting operation would change: the broker, the IB session, the gateway, the journal. */
  const worldState = async () => {
    const journal = await fetch(`${service.urls.base}/orders/journal?limit=1000`);
    return {
      broker: brokerState(simulator),
      sessions: simulator.stats().connectedClients,
      simulatorState: simulator.stats().gatewayState,
      gatewayState: service.gateway.state,
      journal: ((await journal.json()) as { entries: unknown[] }).entries.length,
    };
  };

  it('covers the twelve JSON-body routes and the DELETE', () => {
    const posts = sideEffecting.filter((route) => route.method === 'POST').map((route) => route.path);
    expect(posts.sort()).toEqual(
      [
        '/connection/reconnect',
        '/gateway/restart',
        '/gateway/start',
        '/gateway/stop',
        '/orders',
        '/orders/1/modify',
        '/orders/1/transmit',
        '/orders/approvals/1/approve',
        '/orders/approvals/1/decline',
        '/orders/cancel-all',
        '/orders/preview',
        '/scanner/run',
      ].sort(),
    );
    expect(sideEffecting.filter((route) => route.method === 'DELETE').map((route) => route.path)).toEqual([
      '/orders/1',
    ]);
  });

  it('answers an oversized JSON body with 413 on every JSON-body route, and nothing happens', async () => {
    const before = await worldState();
    for (const route of sideEffecting) {
      const response = await rawRequest(service, route.method, route.path, JSON_TYPE, OVERSIZED_JSON);
      const body = expectError(`${route.method} ${route.path}`, response, 413, 'PAYLOAD_TOO_LARGE');
      expect(body.message).toMatch(/too large: at most 102400 bytes/);
    }
    expect(await worldState()).toEqual(before);
  });

  it('refuses a side-effecting request without application/json with 415, and nothing happens', async () => {
    const before = await worldState();
    const variants: { label: string; headers: Record<string, string>; body?: string }[] = [
      { label: 'text/plain and a broken body', headers: { 'content-type': 'text/plain' }, body: '{"broken' },
      { label: 'text/plain and JSON', headers: { 'content-type': 'text/plain' }, body: '{}' },
      {
        label: 'a form',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'waitSeconds=1',
      },
      { label: 'no Content-Type and a body', headers: {}, body: '{}' },
    ];
    for (const route of sideEffecting) {
      for (const { label, headers, body } of variants) {
        const response = await rawRequest(service, route.method, route.path, headers, body);
        const error = expectError(
          `${route.method} ${route.path} with ${label}`,
          response,
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        );
        expect(error.message).toMatch(/Content-Type: application\/json/);
        expect(error.message).toMatch(/nothing was done/);
      }
    }
    // A POST says application/json even without a body (curl -X POST needs -H 'Content-Type: application/json').
    for (const route of sideEffecting.filter((candidate) => candidate.method === 'POST')) {
      const response = await rawRequest(service, 'POST', route.path);
      expectError(
        `POST ${route.path} without a body or Content-Type`,
        response,
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    }
    expect(await worldState()).toEqual(before);
  });

  it('still runs body-less requests that say what they are: a JSON POST without a body, a DELETE', async () => {
    const [session] = simulator.stats().connectedClients;
    const reconnect = await rawRequest(service, 'POST', '/connection/reconnect', JSON_TYPE);
    expect(reconnect.status).toBe(200);
    expect(simulator.stats().connectedClients[0]?.connectionId).not.toBe(session?.connectionId);
    // No order 999999: the DELETE got past the content check to the order book.
    const cancel = await rawRequest(service, 'DELETE', '/orders/999999');
    expectError('DELETE without a body', cancel, 404, 'NOT_FOUND');
    const withJson = await rawRequest(service, 'DELETE', '/orders/999999', JSON_TYPE, '{}');
    expectError('DELETE with a JSON body', withJson, 404, 'NOT_FOUND');
    // A charset in the media type is fine.
    const preview = await rawRequest(
      service,
      'POST',
      '/orders/preview',
      { 'content-type': 'application/json; charset=utf-8' },
      JSON.stringify({ symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'MKT' }),
    );
    expect(preview.status).toBe(200);
  });

  it('answers broken JSON and unreadable bodies with 4xx, without quoting the body', async () => {
    const before = await worldState();
    const secretLooking = 'sk-not-a-real-secret-0123456789';
    for (const route of sideEffecting) {
      for (const body of [`{"token":"${secretLooking}"`, `not json ${secretLooking}`, '"a string"', 'null']) {
        const response = await rawRequest(service, route.method, route.path, JSON_TYPE, body);
        const error = expectError(
          `${route.method} ${route.path} with ${body}`,
          response,
          400,
          'INVALID_INPUT',
        );
        expect(error.message).toMatch(/not valid JSON/);
        expect(response.body).not.toContain(secretLooking);
      }
    }
    const charset = await rawRequest(
      service,
      'POST',
      '/orders/cancel-all',
      { 'content-type': 'application/json; charset=latin1' },
      '{}',
    );
    expectError('a charset other than UTF-8', charset, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(charset.body).not.toContain('LATIN1');
    const encoding = await rawRequest(
      service,
      'POST',
      '/orders/cancel-all',
      { ...JSON_TYPE, 'content-encoding': 'made-up' },
      '{}',
    );
    expectError('an unknown Content-Encoding', encoding, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const gzipLie = await rawRequest(
      service,
      'POST',
      '/orders/cancel-all',
      { ...JSON_TYPE, 'content-encoding': 'gzip' },
      '{}',
    );
    const gunzip = expectError('a body that is not gzip as it says', gzipLie, 400, 'INVALID_INPUT');
    expect(gunzip.message).toMatch(/could not be decompressed/);
    expect(await worldState()).toEqual(before);
  });

  it.each(['/connection/status', '/market-data/quote'])(
    'answers a URL over 8 KiB on GET %s with 414 and the JSON error body',
    async (path) => {
      const response = await rawRequest(service, 'GET', `${path}?symbol=AAPL&${LONG_QUERY}`);
      const body = expectError(`GET ${path}`, response, 414, 'URI_TOO_LONG');
      expect(body.message).toMatch(/8192 characters/);
      expect(response.headers.connection).toBe('close');
    },
  );

  it('answers a long URL on a side-effecting route with 414 before anything happens', async () => {
    const before = await worldState();
    const response = await rawRequest(service, 'POST', `/orders/cancel-all?${LONG_QUERY}`, JSON_TYPE, '{}');
    expectError('POST /orders/cancel-all', response, 414, 'URI_TOO_LONG');
    expect(await worldState()).toEqual(before);
  });

  it.each(['/connection/status', '/market-data/quote', '/orders/cancel-all'])(
    "answers a 1 MB URL on %s with 431 and the JSON error body (Node's parser refuses it), not a reset",
    async (path) => {
      const before = await worldState();
      const response = await rawRequest(
        service,
        path === '/orders/cancel-all' ? 'POST' : 'GET',
        `${path}?${HUGE_QUERY}`,
        JSON_TYPE,
      );
      const body = expectError(path, response, 431, 'HEADERS_TOO_LARGE');
      expect(body.message).toMatch(/16384 bytes/);
      expect(response.headers.connection).toBe('close');
      expect(await worldState()).toEqual(before);
    },
  );

  it('answers oversized headers with 431 and the JSON error body', async () => {
    for (const path of ['/connection/status', '/market-data/quote?symbol=AAPL', '/health']) {
      const response = await rawRequest(service, 'GET', path, { 'x-filler': 'a'.repeat(20_000) });
      expectError(`GET ${path}`, response, 431, 'HEADERS_TOO_LARGE');
      expect(response.headers.connection).toBe('close');
    }
  });

  it('answers a request that is not HTTP with 400 and the JSON error body', async () => {
    const answer = await rawBytes(service, 'HELLO /connection/status\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody;
    expect(body).toMatchObject({ statusCode: 400, code: 'INVALID_INPUT' });
  });

  it('keeps serving after all that', async () => {
    expect((await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL')).status).toBe(200);
    expect((await rawRequest(service, 'GET', '/connection/status')).status).toBe(200);
  });

  it('answers malformed, oversized and non-JSON MCP calls with a 4xx of its transport (never a 5xx)', async () => {
    const cases: { label: string; headers: Record<string, string>; body: string }[] = [
      { label: 'broken JSON', headers: MCP_HEADERS, body: '{"jsonrpc":' },
      { label: 'not JSON-RPC', headers: MCP_HEADERS, body: '{"hello":"world"}' },
      { label: 'a 200 kB body', headers: MCP_HEADERS, body: OVERSIZED_JSON },
      { label: 'a 5 MB body', headers: MCP_HEADERS, body: JSON.stringify({ filler: 'x'.repeat(5_000_000) }) },
      {
        label: 'text/plain',
        headers: { ...MCP_HEADERS, 'content-type': 'text/plain' },
        body: MCP_INITIALIZE,
      },
    ];
    for (const { label, headers, body } of cases) {
      const response = await rawRequest(service, 'POST', '/mcp', headers, body);
      expect({ label, status: response.status >= 400 && response.status < 500 }).toEqual({
        label,
        status: true,
      });
    }
    const longUrl = await rawRequest(service, 'POST', `/mcp?${LONG_QUERY}`, MCP_HEADERS, MCP_INITIALIZE);
    expectError('POST /mcp with a long URL', longUrl, 414, 'URI_TOO_LONG');
  });
});

describe('malformed input with API tokens: who may call comes first', () => {
  const API_TOKEN = 'full-access-token-0123456789';
  const READ_ONLY_TOKEN = 'read-only-token-0123456789';
  let service: RunningService;

  beforeAll(async () => {
    service = await startTestService(
      testConfig({
        security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
      }),
    );
  });

  afterAll(async () => {
    await service.close();
  });

  it('401 without a token and 403 for the read-only token come before 413 and 415', async () => {
    const before = service.gateway.state;
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const plain = { 'content-type': 'text/plain' };
    expectError(
      'no token, text',
      await rawRequest(service, 'POST', '/orders', plain, '{}'),
      401,
      'UNAUTHORIZED',
    );
    expectError(
      'no token, oversized',
      await rawRequest(service, 'POST', '/orders', JSON_TYPE, OVERSIZED_JSON),
      401,
      'UNAUTHORIZED',
    );
    expectError(
      'read-only token, no Content-Type',
      await rawRequest(service, 'POST', '/orders', bearer(READ_ONLY_TOKEN)),
      403,
      'FORBIDDEN',
    );
    expectError(
      'read-only token, text',
      await rawRequest(service, 'POST', '/gateway/stop', { ...bearer(READ_ONLY_TOKEN), ...plain }, '{}'),
      403,
      'FORBIDDEN',
    );
    expectError(
      'full token, text',
      await rawRequest(service, 'POST', '/gateway/stop', { ...bearer(API_TOKEN), ...plain }, '{}'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expectError(
      'full token, oversized',
      await rawRequest(
        service,
        'POST',
        '/gateway/stop',
        { ...bearer(API_TOKEN), ...JSON_TYPE },
        OVERSIZED_JSON,
      ),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expect(service.gateway.state).toBe(before);
  });
});
