import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import type {
  OptionCalculation,
  OptionChainQuotes,
  OptionQuote,
} from '../../../src/market-data/option-quotes.schemas';
import type { Instrument } from '../../../src/simulator/market/instrument';
import { priceOption } from '../../../src/simulator/market/option-calculations';
import { computeOption } from '../../../src/simulator/market/option-computation';
import { openInterest } from '../../../src/simulator/market/option-ticks';
import { OPTION_CHAINS } from '../../../src/simulator/market/universe';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { AAPL_CON_ID, MARKET_OPEN } from '../orders/orders-harness';
import {
  readEvents,
  sentErrorCodes,
  startMarketDataService,
  upstreamRequests,
  waitFor,
  type ServerSentEvent,
} from './market-data-support';

/** TWS API message ids counted here. */
const REQ_MKT_DATA = 1;
const REQ_CALC_IMPLIED_VOLAT = 54;
const REQ_CALC_OPTION_PRICE = 55;

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
}

describe('option analytics: REST and MCP against the simulator', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;
  let serviceClientId: number;
  let call: Instrument;
  let put: Instrument;
  let expiry: string;

  beforeAll(async () => {
    ({ service, simulator, mcp, serviceClientId } = await startMarketDataService(MARKET_OPEN));
    const spot = simulator.market.quote(AAPL_CON_ID).last;
    const options = simulator.market
      .instruments()
      .filter((instrument) => instrument.secType === 'OPT' && instrument.underlyingConId === AAPL_CON_ID);
    expiry = options.map((option) => option.lastTradeDate ?? '').sort()[0] ?? '';
    const atTheMoney = (right: 'C' | 'P'): Instrument => {
      const candidates = options.filter(
        (option) => option.lastTradeDate === expiry && option.right === right,
      );
      candidates.sort((a, b) => Math.abs((a.strike ?? 0) - spot) - Math.abs((b.strike ?? 0) - spot));
      const [first] = candidates;
      if (!first) throw new Error('no AAPL option');
      return first;
    };
    call = atTheMoney('C');
    put = atTheMoney('P');
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const get = async <T>(path: string, query: Record<string, string | number | boolean> = {}) => {
    const search = new URLSearchParams(
      Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
    );
    const response = await fetch(`${service.urls.base}${path}?${search.toString()}`);
    return { status: response.status, body: (await response.json()) as T };
  };
  const tool = async (name: string, args: Record<string, unknown>) => {
    const result = await mcp.callTool({ name, arguments: args });
    const [content] = result.content as { type: string; text: string }[];
    return {
      isError: result.isError === true,
      structured: result.structuredContent,
      text: content?.text ?? '',
    };
  };
  const termsOf = (option: Instrument) => ({
    symbol: option.symbol,
    expiry: option.lastTradeDate ?? '',
    strike: option.strike ?? 0,
    right: option.right ?? 'C',
  });
  const spec = () => {
    const found = OPTION_CHAINS.find((chain) => chain.underlyingConId === AAPL_CON_ID);
    if (!found) throw new Error('no AAPL chain');
    return found;
  };

  it('quotes an option with greeks per source, volume and open interest that agree with the model', async () => {
    const { status, body } = await get<OptionQuote>('/market-data/options/quote', termsOf(call));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      symbol: 'AAPL',
      conId: call.conId,
      right: 'C',
      strike: call.strike,
      expiry,
      dataType: 'real-time',
      source: 'short-lived stream',
    });
    const { bid, ask, underlyingPrice, computations } = body;
    if (bid === null || ask === null || underlyingPrice === null) throw new Error('incomplete quote');
    const expected = computeOption(call, (bid + ask) / 2, underlyingPrice, simulator.clock.now());
    expect(computations.model?.impliedVolatility).toBeCloseTo(expected?.impliedVolatility ?? NaN, 2);
    expect(computations.model?.delta).toBeCloseTo(expected?.delta ?? NaN, 2);
    expect(body.model).toBeCloseTo(expected?.optionPrice ?? NaN, 1);
    expect(computations.bid?.optionPrice).toBeCloseTo(bid, 2);
    expect(computations.ask?.optionPrice).toBeCloseTo(ask, 2);
    expect(computations.bid?.impliedVolatility ?? NaN).toBeLessThan(
      computations.ask?.impliedVolatility ?? NaN,
    );
    expect(computations.last).not.toBeNull();
    expect(body.openInterest).toBe(openInterest(simulator.market, spec(), call, simulator.clock.now()));
    expect(body.optionVolume).toBeGreaterThan(0);
    // The short-lived stream is gone again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(simulator.stats().activeMarketDataSubscriptions).toBeLessThanOrEqual(1);
  });

  it('gives the same over MCP for an option named by conId', async () => {
    const result = await tool('get_option_quote', { conId: put.conId });
    expect(result.isError).toBe(false);
    const quote = result.structured as OptionQuote;
    expect(quote).toMatchObject({ conId: put.conId, right: 'P', dataType: 'real-time' });
    expect(quote.computations.model?.delta).toBeLessThan(0);
    expect(quote.openInterest).toBe(openInterest(simulator.market, spec(), put, simulator.clock.now()));
  });

  it("calculates an option's price and implied volatility with IB's calculators (REST and MCP)", async () => {
    const priced = await get<OptionCalculation>('/market-data/options/calculate-price', {
      ...termsOf(put),
      volatility: 0.3,
      underlyingPrice: 200,
    });
    expect(priced.status).toBe(200);
    const model = priceOption(put, 0.3, 200, simulator.clock.now());
    expect(priced.body).toMatchObject({ conId: put.conId, impliedVolatility: 0.3, underlyingPrice: 200 });
    expect(priced.body.optionPrice).toBeCloseTo(model?.optionPrice ?? NaN, 2);
    expect(priced.body.delta).toBeCloseTo(model?.delta ?? NaN, 3);

    const implied = await tool('calculate_implied_volatility', {
      conId: call.conId,
      optionPrice: 7.25,
      underlyingPrice: 201,
    });
    expect(implied.isError).toBe(false);
    const expected = computeOption(call, 7.25, 201, simulator.clock.now());
    const values = implied.structured as OptionCalculation;
    expect(values.impliedVolatility).toBeCloseTo(expected?.impliedVolatility ?? NaN, 3);
    expect(values.gamma).toBeCloseTo(expected?.gamma ?? NaN, 3);
  });

  it("quotes a filtered chain inside IB's message rate, with no pacing violation", async () => {
    const violationsBefore = simulator.stats().pacingViolations;
    const errors = sentErrorCodes(simulator);
    const requests = upstreamRequests(simulator, [REQ_MKT_DATA], serviceClientId, 'OPT');
    const started = Date.now();
    try {
      const { status, body } = await get<OptionChainQuotes>('/market-data/options/chain-quotes', {
        symbol: 'AAPL',
        expiries: 2,
        strikes: 6,
      });
      expect(status).toBe(200);
      expect(body.expirations).toHaveLength(2);
      expect(body.expirations[0]).toBe(expiry);
      expect(body.quotes).toHaveLength(2 * 6 * 2);
      expect(body.underlyingPrice).toBeGreaterThan(0);
      for (const quote of body.quotes) {
        expect(quote.computations.model?.impliedVolatility).toBeGreaterThan(0);
        expect(quote.openInterest).not.toBeNull();
      }
      const strikes = new Set(body.quotes.map((quote) => quote.strike));
      expect(strikes.size).toBe(6);
      expect(requests.count()).toBe(24);
    } finally {
      requests.stop();
      errors.stop();
    }
    // 24 requests + 24 cancels + contract lookups at <= 40 messages/s: IB never complains.
    expect(errors.codes.filter((code) => code === 100 || code === 101)).toEqual([]);
    expect(simulator.stats().pacingViolations).toBe(violationsBefore);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("answers from a live stream's values when the option streams, without a new IB request", async () => {
    const abort = new AbortController();
    const response = await fetch(`${service.urls.base}/market-data/stream?conIds=${call.conId}`, {
      signal: abort.signal,
    });
    const events: ServerSentEvent[] = [];
    const reading = readEvents(response, events);
    try {
      await waitFor(() => events.some((event) => event.event === 'quote'), 'a streamed quote');
      const requests = upstreamRequests(simulator, [REQ_MKT_DATA], serviceClientId, 'OPT');
      const { status, body } = await get<OptionQuote>('/market-data/options/quote', { conId: call.conId });
      requests.stop();
      expect(status).toBe(200);
      expect(body.source).toBe('stream');
      expect(body.computations.model?.impliedVolatility).toBeGreaterThan(0);
      expect(requests.count()).toBe(0);
    } finally {
      abort.abort();
      await reading;
    }
  });

  it('refuses bad input with the right errors and sends IB nothing for a too-large chain', async () => {
    const unknown = await get<ErrorBody>('/market-data/options/quote', { ...termsOf(call), strike: 1234.5 });
    expect(unknown.status).toBe(404);

    const expired = await get<ErrorBody>('/market-data/options/calculate-implied-volatility', {
      symbol: 'AAPL',
      expiry: '20240119',
      strike: 200,
      right: 'C',
      optionPrice: 5,
      underlyingPrice: 200,
    });
    expect(expired.status).toBe(404);
    expect(expired.body.message).toMatch(/expired on 2024-01-19/);

    const stock = await tool('calculate_option_price', {
      conId: AAPL_CON_ID,
      volatility: 0.2,
      underlyingPrice: 200,
    });
    expect(stock.isError).toBe(true);
    expect(stock.text).toMatch(/not an option/);

    const requests = upstreamRequests(
      simulator,
      [REQ_MKT_DATA, REQ_CALC_IMPLIED_VOLAT, REQ_CALC_OPTION_PRICE],
      serviceClientId,
      'OPT',
    );
    try {
      const tooLarge = await get<ErrorBody>('/market-data/options/chain-quotes', {
        symbol: 'AAPL',
        expiries: 6,
        strikeMin: 1,
        strikeMax: 10_000,
      });
      expect(tooLarge.status).toBe(400);
      expect(tooLarge.body.message).toMatch(/at most 60/);
      const mixed = await get<ErrorBody>('/market-data/options/chain-quotes', {
        symbol: 'AAPL',
        strikes: 4,
        strikeMin: 100,
      });
      expect(mixed.status).toBe(400);
      expect(requests.count()).toBe(0);
    } finally {
      requests.stop();
    }
  });
});
