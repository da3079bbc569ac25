import { Writable } from 'node:stream';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { rawRequest } from '../security/security-harness';
import { startTestService, testConfig } from '../service/service-harness';
import { readEvents, sleep, waitFor, type ServerSentEvent } from './market-data-support';

const FULL_TOKEN = 'full-token-0123456789abcdef';
const READ_ONLY_TOKEN = 'read-only-token-0123456789';
const FAST_ROUTE = 'GET /market-data/quote 200 (get_quote, fast route)';
const WEDNESDAY_AFTERNOON = '2026-11-18T17:00:00Z';

interface QuoteBody {
  symbol: string;
  source: string;
  bid: number | null;
  [field: string]: unknown;
}

/** Opens a quote stream for `symbol` and resolves once its first quote arrived: the service now streams it. */
async function streamQuotes(
  service: RunningService,
  symbol: string,
  abort: AbortController,
  headers: Record<string, string> = {},
): Promise<ServerSentEvent[]> {
  const response = await fetch(`${service.urls.base}/market-data/stream?symbols=${symbol}`, {
    headers,
    signal: abort.signal,
  });
  expect(response.status).toBe(200);
  const events: ServerSentEvent[] = [];
  void readEvents(response, events);
  await waitFor(
    () => events.some((event) => event.data.includes(`"symbol":"${symbol}"`)),
    `a ${symbol} quote`,
  );
  return events;
}

function logCapture(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
}

function operationCount(metrics: string, outcome: string): number {
  const line = metrics
    .split('\n')
    .find((candidate) =>
      candidate.startsWith(
        `ibgs_operation_requests_total{operation="get_quote",interface="rest",outcome="${outcome}"}`,
      ),
    );
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('get_quote over REST, answered in front of Express and Nest', () => {
  let service: RunningService;
  const logLines: string[] = [];
  const abort = new AbortController();
  const bearer = { Authorization: `Bearer ${FULL_TOKEN}` };

  beforeAll(async () => {
    service = await startTestService(
      testConfig({
        logLevel: 'debug',
        security: { ...CONFIG_DEFAULTS.security, apiToken: FULL_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
      }),
      { logDestination: logCapture(logLines) },
    );
    service.simulator?.setClock(Date.parse(WEDNESDAY_AFTERNOON)); // AAPL trades, so its quote moves
    await streamQuotes(service, 'AAPL', abort, bearer);
  });

  afterAll(async () => {
    abort.abort();
    await service.close();
  });

  const fastAnswers = () => logLines.filter((line) => line.includes(FAST_ROUTE)).length;

  it('serves each new tick of the stream, never a stale answer', async () => {
    const first = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL', bearer);
    expect(first.status).toBe(200);
    const deadline = Date.now() + 10_000;
    let latest = first;
    while (latest.body === first.body && Date.now() < deadline) {
      await sleep(100);
      latest = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL', bearer);
    }
    expect(latest.status).toBe(200);
    expect(latest.body).not.toBe(first.body);
    expect(JSON.parse(latest.body)).toMatchObject({ symbol: 'AAPL', source: 'stream' });
  });

  it('answers from the stream with the body of the declared route, counted in the same metrics', async () => {
    // Nothing moves from here on, so answers taken one after the other can be compared field by field.
    service.simulator?.freezeMarketData(true, 'subscriptions');
    await sleep(500);
    const metricsBefore = await (await fetch(service.urls.metrics, { headers: bearer })).text();
    const linesBefore = fastAnswers();

    const fast = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL', bearer);
    expect(fast.status).toBe(200);
    expect(fast.headers['content-type']).toBe('application/json; charset=utf-8');
    const quote = JSON.parse(fast.body) as QuoteBody;
    expect(quote).toMatchObject({ symbol: 'AAPL', source: 'stream' });
    expect(typeof quote.bid).toBe('number');
    await waitFor(() => fastAnswers() === linesBefore + 1, 'the debug line of the fast route');

    // A browser's request (it carries an Origin) takes the full way through Nest: the same answer.
    const viaNest = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL', {
      ...bearer,
      Origin: service.urls.base,
    });
    expect(viaNest.status).toBe(200);
    expect(JSON.parse(viaNest.body)).toEqual(quote);
    expect(fastAnswers()).toBe(linesBefore + 1);

    const metricsAfter = await (await fetch(service.urls.metrics, { headers: bearer })).text();
    expect(operationCount(metricsAfter, 'ok') - operationCount(metricsBefore, 'ok')).toBe(2);
  });

  it('runs the same security layers first: token, read-only token, Host, rate limit', async () => {
    const linesBefore = fastAnswers();
    const anonymous = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toContain('Bearer');
    expect(JSON.parse(anonymous.body)).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });

    const wrongToken = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL', {
      Authorization: 'Bearer not-the-token-at-all-0000',
    });
    expect(wrongToken.status).toBe(401);

    const rebound = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL', {
      ...bearer,
      Host: 'attacker.example:8000',
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ code: 'FORBIDDEN' });
    expect(fastAnswers()).toBe(linesBefore);

    // get_quote is read-only, so the read-only token may call it; the rate limit's headers come along.
    const readOnly = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL', {
      Authorization: `Bearer ${READ_ONLY_TOKEN}`,
    });
    expect(readOnly.status).toBe(200);
    expect(readOnly.headers.ratelimit).toMatch(/^limit=\d+, remaining=\d+, reset=\d+$/);
    await waitFor(() => fastAnswers() === linesBefore + 1, 'the debug line of the fast route');
  });

  it('answers snapshots and errors as the declared route does, and leaves invalid input to it', async () => {
    const metricsBefore = await (await fetch(service.urls.metrics, { headers: bearer })).text();
    const linesBefore = fastAnswers();
    const snapshot = await rawRequest(service, 'GET', '/market-data/quote?symbol=MSFT', bearer);
    expect(snapshot.status).toBe(200);
    expect(JSON.parse(snapshot.body)).toMatchObject({ symbol: 'MSFT', source: 'snapshot' });
    await waitFor(() => fastAnswers() === linesBefore + 1, 'the debug line of the fast route');

    const unknown = await rawRequest(service, 'GET', '/market-data/quote?symbol=ZZZZ', bearer);
    const unknownViaNest = await rawRequest(service, 'GET', '/market-data/quote?symbol=ZZZZ', {
      ...bearer,
      Origin: service.urls.base,
    });
    expect(unknown.status).toBe(404);
    expect(unknownViaNest.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual(JSON.parse(unknownViaNest.body));
    expect(JSON.parse(unknown.body)).toMatchObject({ code: 'NOT_FOUND' });
    expect((JSON.parse(unknown.body) as { message: string }).message).toContain('ZZZZ');
    const metricsAfter = await (await fetch(service.urls.metrics, { headers: bearer })).text();
    expect(operationCount(metricsAfter, 'error') - operationCount(metricsBefore, 'error')).toBe(2);

    const invalid = await rawRequest(service, 'GET', '/market-data/quote?conId=abc', bearer);
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body)).toMatchObject({ code: 'INVALID_INPUT' });
    expect((JSON.parse(invalid.body) as { message: string }).message).toContain('Invalid parameters');
    expect(fastAnswers()).toBe(linesBefore + 1);
  });
});

describe('the rate limit on quotes answered in front of Express', () => {
  const LIMIT = 4;
  let service: RunningService;
  const abort = new AbortController();

  beforeAll(async () => {
    service = await startTestService(
      testConfig({ security: { ...CONFIG_DEFAULTS.security, rateLimitPerMinute: LIMIT } }),
    );
  });

  afterAll(async () => {
    abort.abort();
    await service.close();
  });

  it('counts each quote once and answers 429 with Retry-After past the limit', async () => {
    await streamQuotes(service, 'AAPL', abort); // the first request of this client
    const statuses: number[] = [];
    for (let request = 1; request < LIMIT; request++) {
      const response = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL');
      statuses.push(response.status);
      expect(response.headers.ratelimit).toMatch(
        new RegExp(`^limit=${LIMIT}, remaining=${LIMIT - 1 - request}, reset=\\d+$`),
      );
    }
    expect(statuses).toEqual(Array(LIMIT - 1).fill(200));
    const limited = await rawRequest(service, 'GET', '/market-data/quote?symbol=AAPL');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited.body)).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
  });
});
