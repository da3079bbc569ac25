import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { startTestService, testConfig } from '../service/service-harness';
import { MCP_HEADERS, MCP_INITIALIZE } from './security-harness';

const LIMIT = 5;

interface RateLimitedBody {
  statusCode: number;
  code: string;
  message: string;
  retryAfterSeconds: number;
}

describe('rate limiting of the HTTP API', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startTestService(
      testConfig({ security: { ...CONFIG_DEFAULTS.security, rateLimitPerMinute: LIMIT } }),
    );
  });

  afterAll(async () => {
    await service.close();
  });

  it('answers 429 with Retry-After and the API error shape once a client exceeds the limit per minute', async () => {
    const statuses: number[] = [];
    for (let request = 0; request < LIMIT; request++) {
      const response = await fetch(`${service.urls.base}/connection/status`);
      statuses.push(response.status);
      // The IETF draft's RateLimit header tells clients the budget before they run into it.
      expect(response.headers.get('ratelimit')).toMatch(
        new RegExp(`limit=${LIMIT}, remaining=${LIMIT - 1 - request}`),
      );
    }
    expect(statuses).toEqual(Array(LIMIT).fill(200));

    const limited = await fetch(`${service.urls.base}/connection/status`);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await limited.json()) as RateLimitedBody;
    expect(body).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
    expect(body.message).toContain(`at most ${LIMIT} per minute per client address`);

    // The limit covers every face of the API, MCP included.
    const mcp = await fetch(service.urls.mcp, { method: 'POST', headers: MCP_HEADERS, body: MCP_INITIALIZE });
    expect(mcp.status).toBe(429);
    expect((await fetch(`${service.urls.base}/docs-json`)).status).toBe(429);
  });

  it('never limits the health probes', async () => {
    for (let request = 0; request < LIMIT * 2; request++) {
      expect((await fetch(`${service.urls.base}/health`)).status).toBe(200);
    }
    expect((await fetch(`${service.urls.base}/health/ready`)).status).toBe(200);
  });
});
