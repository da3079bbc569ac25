import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  IBApiTickType,
  MarketDataType,
  SecType,
  WhatToShow,
  BarSizeSetting,
  type Contract,
} from '@stoqey/ib';
import type { RunningService } from '../../../src/main';
import { MarketDataStreams } from '../../../src/market-data/market-data-streams';
import type { HistoricalBars, Quote } from '../../../src/market-data/market-data.schemas';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, disconnectAllClients, type TestClient } from '../../support/ib-client';
import {
  readEvents,
  startMarketDataService,
  upstreamRequests,
  waitFor,
  type ServerSentEvent,
} from './market-data-support';

/** Wednesday 2026-11-18 11:00 in New York: US stocks trade. */
const WEDNESDAY_MORNING = Date.UTC(2026, 10, 18, 16, 0);
/** Saturday 2026-11-21 11:00 in New York: nothing trades. */
const SATURDAY = Date.UTC(2026, 10, 21, 16, 0);

/** TWS API message ids of the requests counted here. */
const REQ_MKT_DATA = 1;
const REQ_HISTORICAL_DATA = 20;

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
}

const stock = (symbol: string): Contract => ({
  symbol,
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
});

describe('market data: REST and MCP against the simulator', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;
  let raw: TestClient;
  /** The service's own session at the simulator (the raw client's requests are not the service's). */
  let serviceClientId: number;

  beforeAll(async () => {
    ({ service, simulator, mcp, serviceClientId } = await startMarketDataService(WEDNESDAY_MORNING));
    raw = await connectClient(simulator.port);
    // The watchdog's probe subscription opens soon after connecting; counts of IB subscriptions below are
    // only stable once it streams.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const health = (await (await fetch(`${service.urls.base}/health/status`)).json()) as { state: string };
      if (health.state === 'data-flowing') break;
      if (Date.now() > deadline) throw new Error(`the service never reached data-flowing (${health.state})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    disconnectAllClients();
    await mcp.close();
    await service.close();
  });

  const get = async (path: string, query: Record<string, string | number | boolean> = {}) => {
    const search = new URLSearchParams(
      Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
    );
    const response = await fetch(`${service.urls.base}${path}?${search.toString()}`);
    return { status: response.status, headers: response.headers, body: await response.json() };
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
  const conIdOf = (symbol: string): number => {
    const instrument = simulator.market
      .instruments()
      .find((candidate) => candidate.symbol === symbol && candidate.secType === 'STK');
    if (!instrument) throw new Error(`The simulator lists no stock ${symbol}`);
    return instrument.conId;
  };

  describe('quotes', () => {
    it('gives a consistent real-time quote over REST that agrees with a raw IB client on the same simulator', async () => {
      const { status, body } = await get('/market-data/quote', { symbol: 'AAPL' });
      expect(status).toBe(200);
      const quote = body as Quote;
      const direct = await raw.ib.getMarketDataSnapshot(stock('AAPL'), '', false);
      expect(quote).toMatchObject({
        symbol: 'AAPL',
        conId: conIdOf('AAPL'),
        dataType: 'real-time',
        source: 'snapshot',
      });
      const { bid, ask, last } = quote;
      if (bid === null || ask === null || last === null) throw new Error('The quote lacks bid, ask or last');
      expect(bid).toBeGreaterThan(0);
      expect(bid).toBeLessThanOrEqual(ask);
      const directBid = direct.get(IBApiTickType.BID)?.value ?? NaN;
      const directAsk = direct.get(IBApiTickType.ASK)?.value ?? NaN;
      // Both come from the simulator's price path a moment apart: the same market, not the same tick.
      expect(Math.abs(bid - directBid) / directBid).toBeLessThan(0.01);
      expect(Math.abs(ask - directAsk) / directAsk).toBeLessThan(0.01);
      // The service reports what IB sent: the same fields are present as for the raw client.
      const present = (tick: IBApiTickType) => direct.get(tick)?.value !== undefined;
      expect({
        bidSize: quote.bidSize !== null,
        askSize: quote.askSize !== null,
        lastSize: quote.lastSize !== null,
        volume: quote.volume !== null,
        open: quote.open !== null,
        high: quote.high !== null,
        low: quote.low !== null,
        close: quote.close !== null,
      }).toEqual({
        bidSize: present(IBApiTickType.BID_SIZE),
        askSize: present(IBApiTickType.ASK_SIZE),
        lastSize: present(IBApiTickType.LAST_SIZE),
        volume: present(IBApiTickType.VOLUME),
        open: present(IBApiTickType.OPEN),
        high: present(IBApiTickType.HIGH),
        low: present(IBApiTickType.LOW),
        close: present(IBApiTickType.CLOSE),
      });
      expect(Date.parse(quote.lastTradeTime ?? '')).toBeGreaterThan(WEDNESDAY_MORNING - 120_000);
    });

    it('gives the same quote shape over MCP, by conId', async () => {
      const result = await call('get_quote', { conId: conIdOf('MSFT') });
      expect(result.isError).toBe(false);
      const quote = result.structured as Quote;
      expect(quote).toMatchObject({ symbol: 'MSFT', conId: conIdOf('MSFT'), dataType: 'real-time' });
      expect(quote.bid ?? NaN).toBeLessThanOrEqual(quote.ask ?? NaN);
    });

    it('labels delayed data as IB reports it, and real-time data asked for as delayed as real-time', async () => {
      simulator.market.setEntitlement('AMZN', 'delayed');
      try {
        const delayed = await get('/market-data/quote', { symbol: 'AMZN', marketDataType: 'delayed' });
        expect(delayed.status).toBe(200);
        expect(delayed.body).toMatchObject({ symbol: 'AMZN', dataType: 'delayed' });
        const { bid, ask } = delayed.body as Quote;
        expect(bid ?? NaN).toBeLessThanOrEqual(ask ?? NaN);
        // A raw client asking the same gets delayed tick types: IB's delayed data, not the service's label.
        raw.ib.setMarketDataType(MarketDataType.DELAYED);
        const direct = await raw.ib.getMarketDataSnapshot(stock('AMZN'), '', false);
        raw.ib.setMarketDataType(MarketDataType.REALTIME);
        expect(direct.get(IBApiTickType.DELAYED_BID)?.value).toBeGreaterThan(0);
        expect(direct.get(IBApiTickType.BID)).toBeUndefined();
        // IB sends real-time data to a delayed request when the account is subscribed.
        const entitled = await call('get_quote', { symbol: 'AAPL', marketDataType: 'delayed' });
        expect(entitled.structured).toMatchObject({ symbol: 'AAPL', dataType: 'real-time' });
      } finally {
        simulator.market.setEntitlement('AMZN', 'realtime');
      }
    });

    it('labels frozen data after the close as frozen', async () => {
      simulator.setClock(SATURDAY);
      try {
        const frozen = await get('/market-data/quote', { symbol: 'AAPL', marketDataType: 'frozen' });
        expect(frozen.status).toBe(200);
        expect(frozen.body).toMatchObject({ symbol: 'AAPL', dataType: 'frozen' });
        const result = await call('get_quote', { symbol: 'MSFT', marketDataType: 'delayed-frozen' });
        expect(result.structured).toMatchObject({ symbol: 'MSFT', dataType: 'frozen' });
      } finally {
        simulator.setClock(WEDNESDAY_MORNING);
      }
    });

    it('names the missing subscription, and says when delayed data would do, over REST and MCP', async () => {
      simulator.market.setEntitlement('META', 'none');
      simulator.market.setEntitlement('AMZN', 'delayed');
      try {
        const none = await get('/market-data/quote', { symbol: 'META' });
        expect(none.status).toBe(403);
        const noneBody = none.body as ErrorBody;
        expect(noneBody.code).toBe('FORBIDDEN');
        expect(noneBody.message).toMatch(/^No market data subscription for META/);
        expect(noneBody.message).not.toMatch(/marketDataType=delayed/);
        const viaMcp = await call('get_quote', { symbol: 'META' });
        expect(viaMcp).toMatchObject({ isError: true, text: noneBody.message });

        const delayedOnly = await get('/market-data/quote', { symbol: 'AMZN' });
        expect(delayedOnly.status).toBe(403);
        expect((delayedOnly.body as ErrorBody).message).toMatch(
          /^No market data subscription for AMZN; delayed data is available: ask again with marketDataType=delayed/,
        );
      } finally {
        simulator.market.setEntitlement('META', 'realtime');
        simulator.market.setEntitlement('AMZN', 'realtime');
      }
    });

    it('answers an unknown symbol with 404 naming it, and the same message over MCP', async () => {
      const rest = await get('/market-data/quote', { symbol: 'NOSUCH' });
      expect(rest.status).toBe(404);
      const body = rest.body as ErrorBody;
      expect(body.message).toContain('NOSUCH');
      const viaMcp = await call('get_quote', { symbol: 'NOSUCH' });
      expect(viaMcp).toMatchObject({ isError: true, text: body.message });
    });

    it('refuses bad input with 400 naming the field, the same over MCP, without asking IB', async () => {
      const counter = upstreamRequests(
        simulator,
        [REQ_MKT_DATA, REQ_HISTORICAL_DATA],
        serviceClientId,
        'AAPL',
      );
      try {
        const badType = await get('/market-data/quote', { symbol: 'AAPL', marketDataType: 'live' });
        expect(badType.status).toBe(400);
        const badTypeMessage = (badType.body as ErrorBody).message;
        expect(badTypeMessage).toContain('[marketDataType]');
        expect(await call('get_quote', { symbol: 'AAPL', marketDataType: 'live' })).toMatchObject({
          isError: true,
          text: badTypeMessage,
        });

        const noContract = await get('/market-data/quote', {});
        expect(noContract.status).toBe(400);
        expect((noContract.body as ErrorBody).message).toContain(
          '[symbol]: either symbol or conId is required',
        );

        const badBarSize = await get('/market-data/bars', { symbol: 'AAPL', barSize: '7 mins' });
        expect(badBarSize.status).toBe(400);
        const badBarSizeMessage = (badBarSize.body as ErrorBody).message;
        expect(badBarSizeMessage).toContain('[barSize]');
        expect(await call('get_historical_bars', { symbol: 'AAPL', barSize: '7 mins' })).toMatchObject({
          isError: true,
          text: badBarSizeMessage,
        });

        const badDuration = await get('/market-data/bars', { symbol: 'AAPL', duration: '3 days' });
        expect(badDuration.status).toBe(400);
        expect((badDuration.body as ErrorBody).message).toContain('[duration]');
        expect(counter.count()).toBe(0);
      } finally {
        counter.stop();
      }
    });
  });

  describe('historical bars', () => {
    it('gives the bars the simulator serves, over REST, and the same answer again over MCP from the 15 s window', async () => {
      const end = '2026-11-18T15:00:00Z';
      const counter = upstreamRequests(simulator, [REQ_HISTORICAL_DATA], serviceClientId, 'AAPL');
      try {
        const rest = await get('/market-data/bars', {
          symbol: 'AAPL',
          duration: '2 D',
          barSize: '1 hour',
          whatToShow: 'TRADES',
          regularHoursOnly: true,
          end,
        });
        expect(rest.status).toBe(200);
        const answer = rest.body as HistoricalBars;
        expect(answer).toMatchObject({
          symbol: 'AAPL',
          barSize: '1 hour',
          whatToShow: 'TRADES',
          regularHoursOnly: true,
        });
        expect(answer.bars.length).toBeGreaterThan(6);
        // A raw client asks for the same window (end written in IB's other format, so IB sees no duplicate).
        const direct = await raw.ib.getHistoricalData(
          stock('AAPL'),
          '20261118 15:00:00 UTC',
          '2 D',
          BarSizeSetting.HOURS_ONE,
          WhatToShow.TRADES,
          1,
          2,
        );
        expect(answer.bars.map((bar) => ({ ...bar, time: Date.parse(bar.time) / 1000 }))).toEqual(
          direct.map((bar) => ({
            time: Number(bar.time),
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume ?? null,
            wap: bar.WAP ?? null,
            count: bar.count ?? null,
          })),
        );
        for (const bar of answer.bars) {
          expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open, bar.close));
          expect(bar.high).toBeGreaterThanOrEqual(Math.max(bar.open, bar.close));
          expect(Date.parse(bar.time)).toBeLessThan(Date.parse(end));
        }
        const viaMcp = await call('get_historical_bars', {
          symbol: 'AAPL',
          duration: '2 D',
          barSize: '1 hour',
          whatToShow: 'TRADES',
          end,
        });
        expect(viaMcp.structured).toEqual(answer);
        // IB refuses an identical request within 15 s: the service answered it without asking again.
        expect(counter.count()).toBe(1);
      } finally {
        counter.stop();
      }
    });

    it('gives daily bars dated by trading day, and midpoint bars without volume', async () => {
      const daily = await get('/market-data/bars', { symbol: 'MSFT', duration: '1 W', barSize: '1 day' });
      expect(daily.status).toBe(200);
      const days = (daily.body as HistoricalBars).bars;
      expect(days.length).toBeGreaterThanOrEqual(4);
      for (const bar of days) expect(bar.time).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const midpoint = await call('get_historical_bars', {
        symbol: 'EUR.USD',
        duration: '1 D',
        barSize: '1 hour',
        whatToShow: 'MIDPOINT',
        regularHoursOnly: false,
      });
      expect(midpoint.isError).toBe(false);
      const bars = (midpoint.structured as HistoricalBars).bars;
      expect(bars.length).toBeGreaterThan(0);
      for (const bar of bars) expect(bar.volume).toBeNull();
    });

    it('explains what IB refuses: no TRADES for FX (404), no subscription (403)', async () => {
      const fxTrades = await get('/market-data/bars', { symbol: 'EUR.USD', whatToShow: 'TRADES' });
      expect(fxTrades.status).toBe(404);
      expect((fxTrades.body as ErrorBody).message).toMatch(/^IB has no historical data for EUR\.USD/);
      simulator.market.setEntitlement('META', 'none');
      try {
        const unsubscribed = await get('/market-data/bars', { symbol: 'META' });
        expect(unsubscribed.status).toBe(403);
        expect((unsubscribed.body as ErrorBody).message).toMatch(/^No market data subscription for META/);
      } finally {
        simulator.market.setEntitlement('META', 'realtime');
      }
    });
  });

  describe('the server-sent quote stream', () => {
    it('streams quotes, answers get_quote from the live stream, and cancels IB subscriptions when the client leaves', async () => {
      const streams = service.get(MarketDataStreams);
      const before = simulator.stats().activeMarketDataSubscriptions;
      const abort = new AbortController();
      const response = await fetch(`${service.urls.base}/market-data/stream?symbols=AAPL,MSFT`, {
        signal: abort.signal,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const events: ServerSentEvent[] = [];
      const reading = readEvents(response, events);
      try {
        await waitFor(
          () =>
            ['AAPL', 'MSFT'].every(
              (symbol) =>
                events.filter(
                  (event) => event.event === 'quote' && (JSON.parse(event.data) as Quote).symbol === symbol,
                ).length >= 2,
            ),
          'two quote events for each symbol',
          10_000,
        );
        for (const event of events.filter((candidate) => candidate.event === 'quote')) {
          const quote = JSON.parse(event.data) as Quote;
          expect(quote).toMatchObject({ source: 'stream', dataType: 'real-time' });
          expect(quote.bid ?? NaN).toBeLessThanOrEqual(quote.ask ?? NaN);
        }
        expect(simulator.stats().activeMarketDataSubscriptions).toBe(before + 2);
        expect(
          streams
            .streams()
            .map((stream) => stream.symbol)
            .sort(),
        ).toEqual(['AAPL', 'MSFT']);
        for (const stream of streams.streams()) expect(stream.lastTickAt).toBeInstanceOf(Date);

        // While AAPL streams, its quote comes from the stream: no request reaches IB.
        const counter = upstreamRequests(simulator, [REQ_MKT_DATA], serviceClientId, 'AAPL');
        const fromStream = await get('/market-data/quote', { symbol: 'AAPL' });
        counter.stop();
        expect(fromStream.body).toMatchObject({ symbol: 'AAPL', source: 'stream' });
        expect(counter.count()).toBe(0);

        // The watchdog's remedy: every stream is cancelled and requested again, and keeps flowing.
        expect(streams.resubscribeAll()).toBe(streams.streams().length);
        const count = events.length;
        await waitFor(() => events.length > count + 2, 'quotes after resubscribing', 10_000);
        expect(simulator.stats().activeMarketDataSubscriptions).toBe(before + 2);
      } finally {
        abort.abort();
        await reading;
      }
      await waitFor(
        () => !streams.streams().some((stream) => ['AAPL', 'MSFT'].includes(stream.symbol)),
        'the streams to end',
        5_000,
      );
      await waitFor(
        () => simulator.stats().activeMarketDataSubscriptions === before,
        'the IB subscriptions to be cancelled',
        5_000,
      );
    });

    it('refuses an unknown symbol (404), a missing subscription (403) and no symbol (400) before streaming', async () => {
      const unknown = await fetch(`${service.urls.base}/market-data/stream?symbols=AAPL,NOSUCH`);
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as ErrorBody).message).toContain('NOSUCH');
      simulator.market.setEntitlement('META', 'none');
      try {
        const unsubscribed = await fetch(`${service.urls.base}/market-data/stream?symbols=META`);
        expect(unsubscribed.status).toBe(403);
        expect(((await unsubscribed.json()) as ErrorBody).message).toMatch(
          /^No market data subscription for META/,
        );
      } finally {
        simulator.market.setEntitlement('META', 'realtime');
      }
      const none = await fetch(`${service.urls.base}/market-data/stream`);
      expect(none.status).toBe(400);
      expect(((await none.json()) as ErrorBody).message).toContain('[symbols]');
      const streams = service.get(MarketDataStreams);
      expect(streams.streams().filter((stream) => ['AAPL', 'META'].includes(stream.symbol))).toEqual([]);
    });

    it('is documented in OpenAPI as a REST-only event stream', async () => {
      const document = (await (await fetch(`${service.urls.base}/docs-json`)).json()) as {
        paths: Record<
          string,
          Record<string, { operationId?: string; 'x-rest-only'?: boolean; responses?: unknown }>
        >;
      };
      const operation = document.paths['/market-data/stream']?.get;
      expect(operation).toMatchObject({ operationId: 'stream_quotes', 'x-rest-only': true });
      expect(JSON.stringify(operation?.responses)).toContain('text/event-stream');
      const { tools } = await mcp.listTools();
      expect(tools.map((tool) => tool.name)).not.toContain('stream_quotes');
    });
  });
});
