import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import type {
  HeadTimestamp,
  Histogram,
  HistoricalBars,
  HistoricalTicks,
} from '../../../src/market-data/market-data.schemas';
import { headTimestampMs } from '../../../src/simulator/market/head-timestamp';
import type { Instrument } from '../../../src/simulator/market/instrument';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { startMarketDataService, upstreamRequests } from './market-data-support';

/** Wednesday 2026-11-18 16:30 New York: regular hours closed at 16:00; FX (the watchdog's probe) trades. */
const WEDNESDAY_AFTER_CLOSE = Date.UTC(2026, 10, 18, 21, 30);
/** Seconds of one regular US session, 09:30-16:00. */
const REGULAR_SESSION_SECONDS = 6.5 * 3600;

/** TWS API message ids of the requests counted here. */
const REQ_HEAD_TIMESTAMP = 87;
const REQ_HISTOGRAM_DATA = 88;
const REQ_HISTORICAL_TICKS = 96;

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
}

type TradeTick = Extract<HistoricalTicks['ticks'][number], { exchange: string }>;
type BidAskTick = Extract<HistoricalTicks['ticks'][number], { bid: number }>;

describe('market data history: head timestamps, Time & Sales and histograms over REST and MCP', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;
  let serviceClientId: number;
  let brokerBefore: string;

  beforeAll(async () => {
    ({ service, simulator, mcp, serviceClientId } = await startMarketDataService(WEDNESDAY_AFTER_CLOSE));
    brokerBefore = JSON.stringify(simulator.broker.snapshot());
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const get = async (path: string, query: Record<string, string | number | boolean> = {}) => {
    const search = new URLSearchParams(
      Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
    );
    const response = await fetch(`${service.urls.base}${path}?${search.toString()}`);
    return { status: response.status, body: await response.json() };
  };
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await mcp.callTool({ name, arguments: args });
    const [content] = result.content as { type: string; text: string }[];
    return {
      isError: result.isError === true,
      structured: result.structuredContent,
      text: content?.text ?? '',
    };
  };
  const instrument = (symbol: string, secType = 'STK'): Instrument => {
    const found = simulator.market
      .instruments()
      .find((candidate) => candidate.symbol === symbol && candidate.secType === secType);
    if (!found) throw new Error(`The simulator lists no ${secType} ${symbol}`);
    return found;
  };
  const total = (histogram: Histogram) => histogram.buckets.reduce((sum, bucket) => sum + bucket.count, 0);

  it("gives the simulator's own head timestamp over REST, the same over MCP, and 404 where IB has none", async () => {
    const aapl = instrument('AAPL');
    const counter = upstreamRequests(simulator, [REQ_HEAD_TIMESTAMP], serviceClientId);
    try {
      const rest = await get('/market-data/head-timestamp', { symbol: 'AAPL' });
      expect(rest.status).toBe(200);
      const expected = headTimestampMs(simulator.market, aapl, 'TRADES', true, simulator.clock.now());
      expect(rest.body).toEqual({
        symbol: 'AAPL',
        conId: aapl.conId,
        whatToShow: 'TRADES',
        regularHoursOnly: true,
        headTimestamp: new Date(expected ?? NaN).toISOString(),
      } satisfies HeadTimestamp);
      const viaMcp = await call('get_head_timestamp', { conId: aapl.conId });
      expect(viaMcp.structured).toEqual(rest.body);
      // A head timestamp does not move: the second answer came without asking IB again.
      expect(counter.count()).toBe(1);
      const fxQuotes = await call('get_head_timestamp', {
        symbol: 'EUR.USD',
        whatToShow: 'MIDPOINT',
        regularHoursOnly: false,
      });
      expect(fxQuotes.isError).toBe(false);
      const eur = instrument('EUR', 'CASH');
      const fxExpected = headTimestampMs(simulator.market, eur, 'MIDPOINT', false, simulator.clock.now());
      expect((fxQuotes.structured as HeadTimestamp).headTimestamp).toBe(
        new Date(fxExpected ?? NaN).toISOString(),
      );
      const fxTrades = await get('/market-data/head-timestamp', { symbol: 'EUR.USD' });
      expect(fxTrades.status).toBe(404);
      expect((fxTrades.body as ErrorBody).message).toMatch(/^IB has no historical data for EUR\.USD/);
    } finally {
      counter.stop();
    }
  });

  it("gives the trades before an end, each at the simulator's own last price and size, over REST", async () => {
    const aapl = instrument('AAPL');
    const end = '2026-11-18T20:00:00Z'; // 15:00 in New York
    const rest = await get('/market-data/ticks', { symbol: 'AAPL', end, count: 50 });
    expect(rest.status).toBe(200);
    const answer = rest.body as HistoricalTicks;
    expect(answer).toMatchObject({
      symbol: 'AAPL',
      conId: aapl.conId,
      type: 'TRADES',
      regularHoursOnly: true,
    });
    const ticks = answer.ticks as TradeTick[];
    expect(ticks).toHaveLength(50);
    const endSeconds = Date.parse(end) / 1000;
    expect(ticks.map((tick) => Date.parse(tick.time) / 1000)).toEqual(
      Array.from({ length: 50 }, (_, i) => endSeconds - 50 + i),
    );
    for (const tick of ticks) {
      const quote = simulator.market.quote(aapl.conId, Date.parse(tick.time));
      expect(tick).toEqual({
        time: tick.time,
        price: quote.last,
        size: quote.lastSize,
        exchange: expect.stringMatching(/^[A-Z]+$/) as unknown,
        specialConditions: '',
        pastLimit: false,
        unreported: false,
      });
    }
    // 1000 ticks come from IB in two messages; the service gives them all, and none after the close.
    const many = await get('/market-data/ticks', { symbol: 'MSFT', count: 1000 });
    expect(many.status).toBe(200);
    const manyTicks = (many.body as HistoricalTicks).ticks;
    expect(manyTicks).toHaveLength(1000);
    expect(manyTicks.at(-1)?.time).toBe('2026-11-18T20:59:59.000Z');
  });

  it('gives bid/ask ticks from a start over MCP, never past the session, and midpoints', async () => {
    const amzn = instrument('AMZN');
    const quotes = await call('get_historical_ticks', {
      conId: amzn.conId,
      type: 'BID_ASK',
      start: '2026-11-17T20:59:30Z', // 15:59:30 in New York: 30 s before the regular close
      count: 100,
    });
    expect(quotes.isError).toBe(false);
    const ticks = (quotes.structured as HistoricalTicks).ticks as BidAskTick[];
    expect(ticks).toHaveLength(30);
    for (const tick of ticks) {
      const quote = simulator.market.quote(amzn.conId, Date.parse(tick.time));
      expect(tick).toEqual({
        time: tick.time,
        bid: quote.bid,
        ask: quote.ask,
        bidSize: quote.bidSize,
        askSize: quote.askSize,
        bidPastLow: false,
        askPastHigh: false,
      });
    }
    const mids = await call('get_historical_ticks', {
      symbol: 'AMZN',
      type: 'MIDPOINT',
      start: '2026-11-17T20:59:30Z',
      count: 100,
    });
    const midTicks = (mids.structured as HistoricalTicks).ticks as { time: string; price: number }[];
    expect(midTicks.map((tick) => tick.time)).toEqual(ticks.map((tick) => tick.time));
    midTicks.forEach((tick, index) => {
      expect(tick.price).toBeCloseTo(((ticks[index]?.bid ?? 0) + (ticks[index]?.ask ?? 0)) / 2, 6);
    });
  });

  it("counts a week's and three days' trades, one a second, at prices the service's own bars span", async () => {
    const week = await get('/market-data/histogram', { symbol: 'GOOGL', period: '1 week' });
    expect(week.status).toBe(200);
    const histogram = week.body as Histogram;
    expect(histogram).toMatchObject({ symbol: 'GOOGL', period: '1 week', regularHoursOnly: true });
    // Last Wednesday 16:30 to now: the regular sessions of Thursday to Wednesday.
    expect(total(histogram)).toBe(5 * REGULAR_SESSION_SECONDS);
    const prices = histogram.buckets.map((bucket) => bucket.price);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    const bars = await get('/market-data/bars', { symbol: 'GOOGL', duration: '1 W', barSize: '1 hour' });
    const barList = (bars.body as HistoricalBars).bars;
    const width = (prices[1] ?? 0) - (prices[0] ?? 0);
    expect(prices[0]).toBeGreaterThan(Math.min(...barList.map((bar) => bar.low)) - width);
    expect(prices.at(-1)).toBeLessThanOrEqual(Math.max(...barList.map((bar) => bar.high)));
    const days = await call('get_histogram', { symbol: 'GOOGL', period: '3 days' });
    expect(days.isError).toBe(false);
    expect(total(days.structured as Histogram)).toBe(3 * REGULAR_SESSION_SECONDS);
    // With extended hours, 04:00-20:00: five sessions' worth from last Wednesday 16:30.
    const extended = await call('get_histogram', {
      symbol: 'GOOGL',
      period: '1 week',
      regularHoursOnly: false,
    });
    expect(total(extended.structured as Histogram)).toBe(5 * 16 * 3600);
  });

  it('refuses bad input with 400 before IB is asked, and an unknown contract with 404, over REST and MCP', async () => {
    const counter = upstreamRequests(
      simulator,
      [REQ_HEAD_TIMESTAMP, REQ_HISTOGRAM_DATA, REQ_HISTORICAL_TICKS],
      serviceClientId,
    );
    try {
      const both = await get('/market-data/ticks', {
        symbol: 'AAPL',
        start: '2026-11-18T15:00:00Z',
        end: '2026-11-18T16:00:00Z',
      });
      expect(both.status).toBe(400);
      expect((both.body as ErrorBody).message).toMatch(/\[end\]: give start or end, not both/);
      const tooMany = await call('get_historical_ticks', { symbol: 'AAPL', count: 1001 });
      expect(tooMany.isError).toBe(true);
      expect(tooMany.text).toMatch(/count/);
      const period = await get('/market-data/histogram', { symbol: 'AAPL', period: '1 fortnight' });
      expect(period.status).toBe(400);
      const what = await get('/market-data/head-timestamp', { symbol: 'AAPL', whatToShow: 'ADJUSTED_LAST' });
      expect(what.status).toBe(400);
      expect(counter.count()).toBe(0);
      const unknown = await get('/market-data/ticks', { symbol: 'NOPE' });
      expect(unknown.status).toBe(404);
      expect((unknown.body as ErrorBody).message).toMatch(/NOPE/);
      const unknownMcp = await call('get_histogram', { symbol: 'NOPE' });
      expect(unknownMcp.isError).toBe(true);
      expect((unknownMcp.structured as ErrorBody).statusCode).toBe(404);
    } finally {
      counter.stop();
    }
  });

  it('maps what IB refuses: no TRADES ticks for FX (404), no subscription (403)', async () => {
    const fx = await get('/market-data/ticks', { symbol: 'EUR.USD', type: 'TRADES' });
    expect(fx.status).toBe(404);
    expect((fx.body as ErrorBody).message).toMatch(/^IB has no historical data for EUR\.USD/);
    simulator.market.setEntitlement('META', 'none');
    try {
      const ticks = await get('/market-data/ticks', { symbol: 'META' });
      expect(ticks.status).toBe(403);
      expect((ticks.body as ErrorBody).message).toMatch(/^No market data subscription for META/);
      const histogram = await call('get_histogram', { symbol: 'META' });
      expect((histogram.structured as ErrorBody).statusCode).toBe(403);
    } finally {
      simulator.market.setEntitlement('META', 'realtime');
    }
  });

  it('declares the three as read-only MCP tools, and changes nothing at the broker', async () => {
    const { tools } = await mcp.listTools();
    for (const name of ['get_head_timestamp', 'get_historical_ticks', 'get_histogram']) {
      const tool = tools.find((candidate) => candidate.name === name);
      expect(tool?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    expect(JSON.stringify(simulator.broker.snapshot())).toBe(brokerBefore);
    // The service kept inside IB's historical pacing for all of the above.
    expect(simulator.stats().pacingViolations).toBe(0);
  });
});
