import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import type { HistoricalBars, Quote } from '../../../src/market-data/market-data.schemas';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';
import { sentErrorCodes, upstreamRequests } from './market-data-support';

/** Wednesday 2026-11-18 11:00 in New York: US stocks trade. */
const WEDNESDAY_MORNING = Date.UTC(2026, 10, 18, 16, 0);

/** TWS API message ids. */
const REQ_MKT_DATA = 1;
const REQ_CONTRACT_DATA = 9;
const REQ_HISTORICAL_DATA = 20;
/** IB's "max rate of messages per second has been exceeded" and its historical data pacing violation. */
const TOO_MANY_MESSAGES = 100;
const HISTORICAL_DATA_SERVICE = 162;

describe('pacing: whatever the callers do, the service keeps inside IB limits', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let serviceClientId: number;
  let stocks: string[];

  beforeAll(async () => {
    service = await startTestService(
      testConfig({ security: { ...CONFIG_DEFAULTS.security, rateLimitPerMinute: 1_000_000 } }),
    );
    simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(WEDNESDAY_MORNING);
    const status = (await (await fetch(`${service.urls.base}/connection/status`)).json()) as {
      clientId: number;
    };
    serviceClientId = status.clientId;
    stocks = [
      ...new Set(
        simulator.market
          .instruments()
          .filter((instrument) => instrument.secType === 'STK' && instrument.currency === 'USD')
          .map((instrument) => instrument.symbol),
      ),
    ];
  });

  afterAll(async () => service.close());

  const restQuote = async (query: Record<string, string>) => {
    const response = await fetch(
      `${service.urls.base}/market-data/quote?${new URLSearchParams(query).toString()}`,
    );
    return { status: response.status, body: (await response.json()) as Quote & { message?: string } };
  };

  it('answers a burst of 500 quotes from 50 concurrent clients without one pacing error from IB', async () => {
    const errors = sentErrorCodes(simulator);
    const messageTimes: number[] = [];
    const stopTimes = simulator.tap((direction, session) => {
      if (direction === 'in' && session.clientId === serviceClientId) messageTimes.push(Date.now());
    });
    const quotes = upstreamRequests(simulator, [REQ_MKT_DATA], serviceClientId);
    const violationsBefore = simulator.stats().pacingViolations;
    const mcpClients: Client[] = await Promise.all(
      Array.from({ length: 10 }, async () => connectMcpClient(service)),
    );
    const failures: string[] = [];
    try {
      // 40 REST clients and 10 MCP clients, 10 quotes each, over every stock and two market data types.
      await Promise.all(
        Array.from({ length: 50 }, async (_, client) => {
          for (let request = 0; request < 10; request++) {
            const symbol = stocks[(client * 7 + request) % stocks.length] ?? 'AAPL';
            const marketDataType = (client + request) % 3 === 0 ? 'delayed' : 'real-time';
            const mcp = mcpClients[client - 40];
            if (mcp) {
              const result = await mcp.callTool({ name: 'get_quote', arguments: { symbol, marketDataType } });
              const quote = result.structuredContent as Quote | undefined;
              if (result.isError === true || !quote) failures.push(JSON.stringify(result.content));
              else if ((quote.bid ?? NaN) > (quote.ask ?? NaN)) failures.push(`bid > ask for ${symbol}`);
            } else {
              const { status, body } = await restQuote({ symbol, marketDataType });
              if (status !== 200) failures.push(`${status} ${body.message ?? ''}`);
              else if ((body.bid ?? NaN) > (body.ask ?? NaN)) failures.push(`bid > ask for ${symbol}`);
            }
          }
        }),
      );
    } finally {
      errors.stop();
      stopTimes();
      quotes.stop();
      await Promise.all(mcpClients.map(async (client) => client.close()));
    }
    expect(failures).toEqual([]);
    expect(simulator.stats().pacingViolations).toBe(violationsBefore);
    expect(
      errors.codes.filter((code) => code === TOO_MANY_MESSAGES || code === HISTORICAL_DATA_SERVICE),
    ).toEqual([]);
    // The burst did reach IB (it is not all answered from one request), and never faster than IB's 50/s.
    expect(quotes.count()).toBeGreaterThan(stocks.length);
    let busiestSecond = 0;
    for (let first = 0, last = 0; last < messageTimes.length; last++) {
      while ((messageTimes[first] ?? 0) <= (messageTimes[last] ?? 0) - 1000) first++;
      busiestSecond = Math.max(busiestSecond, last - first + 1);
    }
    expect(busiestSecond).toBeLessThanOrEqual(50);
    // The session survived: IB disconnects a client that exceeds the rate.
    expect(simulator.stats().connectedClients.map((client) => client.clientId)).toContain(serviceClientId);
  });

  it('sends identical concurrent quote requests to IB once, over REST and MCP alike', async () => {
    const mcp = await connectMcpClient(service);
    const quotes = upstreamRequests(simulator, [REQ_MKT_DATA], serviceClientId, 'IWM');
    const lookups = upstreamRequests(simulator, [REQ_CONTRACT_DATA], serviceClientId, 'IWM');
    try {
      // A contract and type no other test asks for, so nothing is streaming or cached for it.
      const answers = await Promise.all(
        Array.from({ length: 20 }, async (_, index) =>
          index % 2 === 0
            ? (await restQuote({ symbol: 'IWM', marketDataType: 'delayed-frozen' })).body
            : ((
                await mcp.callTool({
                  name: 'get_quote',
                  arguments: { symbol: 'IWM', marketDataType: 'delayed-frozen' },
                })
              ).structuredContent as Quote),
        ),
      );
      for (const answer of answers) expect(answer).toMatchObject({ symbol: 'IWM', source: 'snapshot' });
      expect(new Set(answers.map((answer) => answer.timestamp)).size).toBe(1);
    } finally {
      quotes.stop();
      lookups.stop();
      await mcp.close();
    }
    expect(quotes.count()).toBe(1);
    // At most one contract lookup too (the contracts module shares and caches it).
    expect(lookups.count()).toBeLessThanOrEqual(1);
  });

  it('sends identical concurrent historical requests to IB once', async () => {
    const counter = upstreamRequests(simulator, [REQ_HISTORICAL_DATA], serviceClientId, 'QQQ');
    const query = new URLSearchParams({ symbol: 'QQQ', duration: '3 D', barSize: '30 mins' }).toString();
    try {
      const answers = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const response = await fetch(`${service.urls.base}/market-data/bars?${query}`);
          expect(response.status).toBe(200);
          return (await response.json()) as HistoricalBars;
        }),
      );
      expect(answers[0]?.bars.length).toBeGreaterThan(0);
      for (const answer of answers) expect(answer).toEqual(answers[0]);
    } finally {
      counter.stop();
    }
    expect(counter.count()).toBe(1);
  });

  it("keeps IB's historical rules: a burst for one contract waits its turn, past 60 in 10 minutes is refused with retry-after", async () => {
    const errors = sentErrorCodes(simulator);
    const counter = upstreamRequests(simulator, [REQ_HISTORICAL_DATA], serviceClientId);
    const bars = async (query: Record<string, string>) => {
      const response = await fetch(
        `${service.urls.base}/market-data/bars?${new URLSearchParams(query).toString()}`,
      );
      return {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: (await response.json()) as { code?: string; message?: string; retryAfterSeconds?: number },
      };
    };
    try {
      // Seven requests for AAPL TRADES at once: IB allows five in 2 s; the service holds back two.
      const burst = await Promise.all(
        Array.from({ length: 7 }, async (_, index) =>
          bars({ symbol: 'AAPL', duration: `${index + 1} D`, barSize: '1 hour' }),
        ),
      );
      expect(burst.map((answer) => answer.status)).toEqual(Array.from({ length: 7 }, () => 200));

      // Then more than IB's 60 in 10 minutes, spread over contracts and data types (no burst rule applies).
      const whatToShow = ['TRADES', 'MIDPOINT', 'BID', 'ASK'];
      const flood = await Promise.all(
        Array.from({ length: 64 }, async (_, index) =>
          bars({
            symbol: stocks[index % stocks.length] ?? 'AAPL',
            whatToShow: whatToShow[Math.floor(index / stocks.length) % whatToShow.length] ?? 'TRADES',
            duration: `${1 + Math.floor(index / (stocks.length * whatToShow.length))} W`,
            barSize: '1 day',
          }),
        ),
      );
      const refused = flood.filter((answer) => answer.status === 429);
      expect(flood.filter((answer) => answer.status === 200).length + refused.length).toBe(64);
      expect(counter.count()).toBeLessThanOrEqual(60);
      expect(refused.length).toBeGreaterThan(0);
      for (const answer of refused) {
        expect(answer.body.code).toBe('RATE_LIMITED');
        expect(answer.body.retryAfterSeconds).toBeGreaterThan(60);
        expect(answer.retryAfter).toBe(String(answer.body.retryAfterSeconds));
        expect(answer.body.message).toContain('60 in 10 minutes');
      }
    } finally {
      errors.stop();
      counter.stop();
    }
    expect(errors.codes.filter((code) => code === HISTORICAL_DATA_SERVICE)).toEqual([]);
  });
});
