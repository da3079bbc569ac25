import {
  DurationUnit,
  SecType,
  WhatToShow,
  type Contract,
  type HistoricalTickLast,
  type IBApiNextError,
} from '@stoqey/ib';
import { lastValueFrom } from 'rxjs';
import { SimulatorClock } from '../../../src/simulator/control/simulator-clock';
import { headTimestampMs } from '../../../src/simulator/market/head-timestamp';
import { Market } from '../../../src/simulator/market/market';
import type { Instrument } from '../../../src/simulator/market/instrument';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** Wednesday 2026-11-18 11:00 New York: US stocks trade, in regular hours since 09:30. */
const WEDNESDAY_MORNING = Date.UTC(2026, 10, 18, 16, 0);
/** Wednesday 2026-11-18 16:30 New York: the regular session closed at 16:00, extended hours run to 20:00. */
const WEDNESDAY_AFTER_CLOSE = Date.UTC(2026, 10, 18, 21, 30);
/** Seconds of one regular US session, 09:30-16:00. */
const REGULAR_SESSION_SECONDS = 6.5 * 3600;

const stock = (symbol: string): Contract => ({
  symbol,
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
});
const EUR_USD: Contract = { symbol: 'EUR', secType: SecType.CASH, exchange: 'IDEALPRO', currency: 'USD' };
const SPX: Contract = { symbol: 'SPX', secType: SecType.IND, exchange: 'CBOE', currency: 'USD' };

/** TWS API ids of the messages counted here. */
const HISTORICAL_TICKS_LAST = 98;
const CANCEL_HEAD_TIMESTAMP = 90;

async function rejection(promise: Promise<unknown>): Promise<IBApiNextError> {
  try {
    await promise;
  } catch (error) {
    return error as IBApiNextError;
  }
  throw new Error('The request was expected to fail');
}

describe('head timestamp, historical ticks and histograms', () => {
  let simulator: IbGatewaySimulator;
  let client: TestClient;

  const instrument = (symbol: string, secType = 'STK'): Instrument => {
    const found = simulator.market
      .instruments()
      .find((candidate) => candidate.symbol === symbol && candidate.secType === secType);
    if (!found) throw new Error(`The simulator lists no ${secType} ${symbol}`);
    return found;
  };
  const trades = async (contract: Contract, start: string, end: string, count: number, rth = true) =>
    lastValueFrom(client.ib.getHistoricalTicksLast(contract, start, end, count, rth ? 1 : 0), {
      defaultValue: [] as HistoricalTickLast[],
    });

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    const port = await simulator.start();
    simulator.setClock(WEDNESDAY_MORNING);
    client = await connectClient(port);
  });

  afterAll(async () => {
    expect(decodeErrors(client.errors)).toEqual([]);
    disconnectAllClients();
    await simulator.stop();
  });

  describe('reqHeadTimestamp', () => {
    it("answers the simulator's own earliest data, at a regular session's open, in both date formats", async () => {
      const aapl = instrument('AAPL');
      const expected = headTimestampMs(simulator.market, aapl, 'TRADES', true, simulator.clock.now());
      if (expected === undefined) throw new Error('AAPL has no head timestamp');
      const cancels: number[] = [];
      const stop = simulator.tap((direction, _session, fields) => {
        if (direction === 'in' && Number(fields[0]) === CANCEL_HEAD_TIMESTAMP)
          cancels.push(Number(fields[1]));
      });
      try {
        const epoch = await client.ib.getHeadTimestamp(stock('AAPL'), WhatToShow.TRADES, true, 2);
        expect(Number(epoch) * 1000).toBe(expected);
        const utc = await client.ib.getHeadTimestamp(stock('AAPL'), WhatToShow.TRADES, true, 1);
        const iso = new Date(expected).toISOString();
        expect(utc).toBe(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 19)}`);
        // IBApiNext cancels each head timestamp request once answered; the simulator takes the cancel quietly.
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(cancels.length).toBe(2);
      } finally {
        stop();
      }
      expect(expected).toBeLessThan(Date.UTC(2007, 0, 1));
      expect(simulator.market.isRegularHours(aapl.conId, expected)).toBe(true);
      expect(simulator.market.isRegularHours(aapl.conId, expected - 1)).toBe(false);
    });

    it('starts quotes no earlier than 2004 and extended hours at the session start, the same for every gateway of a seed', async () => {
      const regular = Number(await client.ib.getHeadTimestamp(stock('MSFT'), WhatToShow.TRADES, true, 2));
      const extended = Number(await client.ib.getHeadTimestamp(stock('MSFT'), WhatToShow.TRADES, false, 2));
      const midpoint = Number(await client.ib.getHeadTimestamp(stock('MSFT'), WhatToShow.MIDPOINT, true, 2));
      // US stocks trade from 04:00; regular hours open at 09:30 the same day.
      expect(regular - extended).toBe(5.5 * 3600);
      expect(midpoint * 1000).toBeGreaterThanOrEqual(Math.max(Date.UTC(2004, 0, 2), regular * 1000));
      const fx = Number(await client.ib.getHeadTimestamp(EUR_USD, WhatToShow.MIDPOINT, false, 2));
      expect(fx).toBeGreaterThan(0);
      // Another market of the same seed (another gateway) has the same history.
      const msft = instrument('MSFT');
      const twin = new Market({ seed: 42, clock: new SimulatorClock() });
      expect(headTimestampMs(twin, msft, 'TRADES', false, simulator.clock.now())).toBe(extended * 1000);
    });

    it('refuses what IB refuses: FX trades (162), an unknown contract (200), a bad formatDate (321)', async () => {
      const fx = await rejection(client.ib.getHeadTimestamp(EUR_USD, WhatToShow.TRADES, true, 2));
      expect(fx.code).toBe(162);
      expect(fx.error.message).toMatch(/No historical market data for EUR\/CASH@FXSUBPIP Last/);
      const unknown = await rejection(client.ib.getHeadTimestamp(stock('NOPE'), WhatToShow.TRADES, true, 2));
      expect(unknown.code).toBe(200);
      const format = await rejection(client.ib.getHeadTimestamp(stock('AAPL'), WhatToShow.BID, true, 3));
      expect(format.code).toBe(321);
    });
  });

  describe('reqHistoricalTicks', () => {
    it("gives the trades before an end, one a second, at the simulator's own last price and size", async () => {
      const aapl = instrument('AAPL');
      const ticks = await trades(stock('AAPL'), '', '20261118-15:30:00', 100);
      expect(ticks).toHaveLength(100);
      const end = Date.UTC(2026, 10, 18, 15, 30) / 1000;
      expect(ticks.map((tick) => tick.time)).toEqual(Array.from({ length: 100 }, (_, i) => end - 100 + i));
      for (const tick of ticks) {
        const quote = simulator.market.quote(aapl.conId, (tick.time ?? 0) * 1000);
        expect({ price: tick.price, size: tick.size }).toEqual({ price: quote.last, size: quote.lastSize });
        expect(tick.exchange).toMatch(/^[A-Z]+$/);
        expect(tick.tickAttribLast).toEqual({ pastLimit: false, unreported: false });
      }
    });

    it('never spans two sessions: from a start, the regular session ends at 16:00, extended hours go on', async () => {
      const start = '20261117 15:59:30 US/Eastern';
      const regular = await trades(stock('MSFT'), start, '', 100);
      expect(regular).toHaveLength(30);
      const close = Date.UTC(2026, 10, 17, 21, 0) / 1000;
      expect(regular.at(-1)?.time).toBe(close - 1);
      const extended = await trades(stock('MSFT'), start, '', 100, false);
      expect(extended).toHaveLength(100);
      expect(extended.at(-1)?.time).toBe(close + 69);
      // Before a weekend the last ticks are Friday's.
      const weekend = await trades(stock('MSFT'), '', '20261114 12:00:00 US/Eastern', 10);
      expect(weekend.at(-1)?.time).toBe(Date.UTC(2026, 10, 13, 21, 0) / 1000 - 1);
    });

    it('sends 1000 ticks in frames, the last one saying done, and no tick in the future', async () => {
      let frames = 0;
      const stop = simulator.tap((direction, _session, fields) => {
        if (direction === 'out' && Number(fields[0]) === HISTORICAL_TICKS_LAST) frames++;
      });
      try {
        const ticks = await trades(stock('NVDA'), '', '20261119-00:00:00', 1000);
        expect(ticks).toHaveLength(1000);
        expect(frames).toBe(2);
        const now = simulator.clock.now() / 1000;
        expect(ticks.at(-1)?.time).toBeLessThanOrEqual(now);
        expect(ticks.at(-1)?.time).toBeGreaterThan(now - 5);
      } finally {
        stop();
      }
    });

    it("gives bid/ask and midpoint ticks from the simulator's book; ignoreSize leaves out size-only changes", async () => {
      const amzn = instrument('AMZN');
      const end = '20261118-15:00:00';
      const quotes = await lastValueFrom(
        client.ib.getHistoricalTicksBidAsk(stock('AMZN'), '', end, 50, 1, false),
      );
      expect(quotes).toHaveLength(50);
      for (const tick of quotes) {
        const quote = simulator.market.quote(amzn.conId, (tick.time ?? 0) * 1000);
        expect(tick).toMatchObject({
          priceBid: quote.bid,
          priceAsk: quote.ask,
          sizeBid: quote.bidSize,
          sizeAsk: quote.askSize,
        });
        expect(tick.priceBid).toBeLessThan(tick.priceAsk ?? 0);
      }
      const priceChanges = await lastValueFrom(
        client.ib.getHistoricalTicksBidAsk(stock('AMZN'), '', end, 50, 1, true),
      );
      expect(priceChanges.length).toBeLessThanOrEqual(50);
      priceChanges.slice(1).forEach((tick, index) => {
        const previous = priceChanges[index];
        expect([tick.priceBid, tick.priceAsk]).not.toEqual([previous?.priceBid, previous?.priceAsk]);
      });
      const mids = await lastValueFrom(client.ib.getHistoricalTicksMid(stock('AMZN'), '', end, 50, 1));
      expect(mids.map((tick) => tick.time)).toEqual(quotes.map((tick) => tick.time));
      mids.forEach((tick, index) => {
        const quote = quotes[index];
        expect(tick.price).toBeCloseTo(((quote?.priceBid ?? 0) + (quote?.priceAsk ?? 0)) / 2, 6);
      });
    });

    it("refuses what IB refuses, each with IB's code", async () => {
      const cases: [string, Promise<unknown>, number, RegExp][] = [
        [
          'start and end',
          trades(stock('AAPL'), '20261118-14:00:00', '20261118-15:00:00', 10),
          321,
          /Exactly one/,
        ],
        ['neither', trades(stock('AAPL'), '', '', 10), 321, /Exactly one/],
        ['too many', trades(stock('AAPL'), '', '20261118-15:00:00', 1001), 321, /between 1 and 1000/],
        ['bad date', trades(stock('AAPL'), '', '2026-11-18', 10), 10314, /^End Date\/Time/],
        ['unknown', trades(stock('NOPE'), '', '20261118-15:00:00', 10), 200, /No security definition/],
        ['FX trades', trades(EUR_USD, '', '20261118-15:00:00', 10), 10187, /No data of type Last/],
        [
          'index quotes',
          lastValueFrom(client.ib.getHistoricalTicksMid(SPX, '', '20261118-15:00:00', 10, 1)),
          10187,
          /No data of type MidPoint/,
        ],
      ];
      for (const [what, promise, code, text] of cases) {
        const error = await rejection(promise);
        expect({ what, code: error.code }).toEqual({ what, code });
        expect(error.error.message).toMatch(text);
      }
      simulator.market.setEntitlement('META', 'none');
      try {
        const denied = await rejection(trades(stock('META'), '', '20261118-15:00:00', 10));
        expect(denied.code).toBe(10187);
        expect(denied.error.message).toBe(
          'Failed to request historical ticks:No market data permissions for NASDAQ STK',
        );
      } finally {
        simulator.market.setEntitlement('META', 'realtime');
      }
    });
  });

  describe('reqHistogramData', () => {
    beforeAll(() => simulator.setClock(WEDNESDAY_AFTER_CLOSE));
    afterAll(() => simulator.setClock(WEDNESDAY_MORNING));

    it("counts one trade a second over the period's regular hours, at prices the bars of the period span", async () => {
      const googl = instrument('GOOGL');
      const week = await client.ib.getHistogramData(stock('GOOGL'), true, 1, DurationUnit.WEEK);
      // Thursday to Wednesday: five regular sessions.
      expect(week.reduce((sum, entry) => sum + (entry.size ?? 0), 0)).toBe(5 * REGULAR_SESSION_SECONDS);
      const days = await client.ib.getHistogramData(stock('GOOGL'), true, 3, DurationUnit.DAY);
      expect(days.reduce((sum, entry) => sum + (entry.size ?? 0), 0)).toBe(3 * REGULAR_SESSION_SECONDS);
      const prices = week.map((entry) => entry.price ?? NaN);
      expect(prices).toEqual([...prices].sort((a, b) => a - b));
      expect(week.length).toBeLessThanOrEqual(100);
      const now = simulator.clock.now();
      const bars = simulator.market.bars(googl.conId, now - 7 * 86_400_000, now, 3_600_000, {
        regularHoursOnly: true,
      });
      const low = Math.min(...bars.map((bar) => bar.low));
      const high = Math.max(...bars.map((bar) => bar.high));
      const width = (prices[1] ?? 0) - (prices[0] ?? 0);
      expect(prices[0]).toBeGreaterThan(low - width);
      expect(prices.at(-1)).toBeLessThanOrEqual(high);
      // With extended hours: 04:00-20:00, from last Wednesday 16:30 to today's 16:30, five sessions' worth.
      const extended = await client.ib.getHistogramData(stock('GOOGL'), false, 1, DurationUnit.WEEK);
      expect(extended.reduce((sum, entry) => sum + (entry.size ?? 0), 0)).toBe(5 * 16 * 3600);
    });

    it('refuses FX (no trades: 162), a period past a month (162), a second identical request within 15 s (162)', async () => {
      const fx = await rejection(client.ib.getHistogramData(EUR_USD, true, 1, DurationUnit.WEEK));
      expect(fx.code).toBe(162);
      const long = await rejection(client.ib.getHistogramData(stock('AAPL'), true, 2, DurationUnit.MONTH));
      expect(long.code).toBe(162);
      expect(long.error.message).toMatch(/Time length exceed max/);
      const before = simulator.stats().pacingViolations;
      await client.ib.getHistogramData(stock('TSLA'), true, 2, DurationUnit.DAY);
      const again = await rejection(client.ib.getHistogramData(stock('TSLA'), true, 2, DurationUnit.DAY));
      expect(again.code).toBe(162);
      expect(again.error.message).toMatch(/pacing violation/);
      expect(simulator.stats().pacingViolations).toBe(before + 1);
    });
  });
});
