import {
  BarSizeSetting,
  IBApiTickType,
  SecType,
  WhatToShow,
  type Bar,
  type Contract,
  type IBApiNextError,
} from '@stoqey/ib';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** Wednesday 2026-11-18 11:00 New York: US stocks trade (the session opened at 04:00, regular hours at 09:30). */
const WEDNESDAY_MORNING = Date.UTC(2026, 10, 18, 16, 0);

const stock = (symbol: string): Contract => ({
  symbol,
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
});
const EUR_USD: Contract = { symbol: 'EUR', secType: SecType.CASH, exchange: 'IDEALPRO', currency: 'USD' };
const SPX: Contract = { symbol: 'SPX', secType: SecType.IND, exchange: 'CBOE', currency: 'USD' };

const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Every bar must hold its open and close between its low and high. */
function expectConsistentOhlc(bars: readonly Bar[]): void {
  for (const bar of bars) {
    const { open = NaN, high = NaN, low = NaN, close = NaN } = bar;
    expect(low).toBeLessThanOrEqual(Math.min(open, close));
    expect(high).toBeGreaterThanOrEqual(Math.max(open, close));
  }
}

/** Seconds between consecutive bars (formatDate 2 gives epoch seconds). */
function spacings(bars: readonly Bar[]): number[] {
  const times = bars.map((bar) => Number(bar.time));
  return times.slice(1).map((time, index) => time - (times[index] ?? 0));
}

/** "yyyyMMdd HH:mm:ss" of an epoch-seconds time on New York's wall clock. */
function newYorkWallClock(epochSeconds: number): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: 'America/New_York',
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(epochSeconds * 1000);
  const part = (type: string): string => parts.find((candidate) => candidate.type === type)?.value ?? '';
  return `${part('year')}${part('month')}${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`;
}

async function rejection(promise: Promise<unknown>): Promise<IBApiNextError> {
  try {
    await promise;
  } catch (error) {
    return error as IBApiNextError;
  }
  throw new Error('The request was expected to fail');
}

describe('historical bars', () => {
  let simulator: IbGatewaySimulator;
  let port: number;
  let client: TestClient;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    port = await simulator.start();
    simulator.setClock(WEDNESDAY_MORNING);
    client = await connectClient(port);
  });

  afterAll(async () => {
    expect(decodeErrors(client.errors)).toEqual([]);
    disconnectAllClients();
    await simulator.stop();
  });

  it.each([
    // symbol, duration, bar size, bar seconds, expected bar count (the last bar is the one in progress)
    ['AAPL', '3600 S', BarSizeSetting.MINUTES_FIVE, 300, [12, 13]],
    ['MSFT', '1800 S', BarSizeSetting.SECONDS_THIRTY, 30, [60, 61]],
    ['NVDA', '1 D', BarSizeSetting.HOURS_ONE, 3600, [8, 8]],
    ['AMZN', '2 D', BarSizeSetting.MINUTES_THIRTY, 1800, [47, 47]],
  ] as const)(
    '%s over %s in %s bars: the right count and spacing, consistent OHLC, volume',
    async (symbol, duration, barSize, barSeconds, [minCount, maxCount]) => {
      const bars = await client.ib.getHistoricalData(
        stock(symbol),
        '',
        duration,
        barSize,
        WhatToShow.TRADES,
        0,
        2,
      );
      expect(bars.length).toBeGreaterThanOrEqual(minCount);
      expect(bars.length).toBeLessThanOrEqual(maxCount);
      // Within a session every bar follows the previous one by one bar size; the night gap is the exception.
      const steps = spacings(bars);
      expect(steps.filter((step) => step !== barSeconds).length).toBeLessThanOrEqual(
        duration === '2 D' ? 1 : 0,
      );
      expect(Number(bars[0]?.time) % barSeconds).toBe(0);
      expectConsistentOhlc(bars);
      expect(bars.every((bar) => (bar.volume ?? 0) > 0 && (bar.count ?? 0) > 0)).toBe(true);
      expect(Number(bars[bars.length - 1]?.time) * 1000).toBeLessThanOrEqual(simulator.clock.now());
    },
  );

  it('gives one bar per trading day for daily bars, dated yyyyMMdd, over a week and a month', async () => {
    const week = await client.ib.getHistoricalData(
      stock('GOOGL'),
      '',
      '1 W',
      BarSizeSetting.DAYS_ONE,
      WhatToShow.TRADES,
      1,
      1,
    );
    expect(week.map((bar) => bar.time)).toEqual(['20261112', '20261113', '20261116', '20261117', '20261118']);
    expectConsistentOhlc(week);
    const end = '20261118 10:30:00 US/Eastern';
    const month = await client.ib.getHistoricalData(
      stock('META'),
      end,
      '1 M',
      BarSizeSetting.DAYS_ONE,
      WhatToShow.TRADES,
      0,
      2,
    );
    // 2026-10-19 to 2026-11-18 holds 23 weekdays; daily bars stay "yyyyMMdd" even with formatDate 2.
    expect(month).toHaveLength(23);
    expect(month.every((bar) => /^\d{8}$/.test(bar.time ?? ''))).toBe(true);
    expectConsistentOhlc(month);
    // A daily bar holds its whole session (up to the end asked for): the hourly bars add up to it.
    const lastDay = month[month.length - 1];
    const hours = await client.ib.getHistoricalData(
      stock('META'),
      end,
      '1 D',
      BarSizeSetting.HOURS_ONE,
      WhatToShow.TRADES,
      0,
      2,
    );
    const hourlyHigh = Math.max(...hours.map((bar) => bar.high ?? 0));
    const hourlyLow = Math.min(...hours.map((bar) => bar.low ?? Infinity));
    // Highs and lows are sampled, so the two granularities agree to within a few ticks, not exactly.
    expect(Math.abs(hourlyHigh / (lastDay?.high ?? NaN) - 1)).toBeLessThan(0.005);
    expect(Math.abs(hourlyLow / (lastDay?.low ?? NaN) - 1)).toBeLessThan(0.005);
    expect(hours[0]?.open).toBe(lastDay?.open);
    expect(hours[hours.length - 1]?.close).toBe(lastDay?.close);
    expect(hours.reduce((sum, bar) => sum + (bar.volume ?? 0), 0)).toBeCloseTo(lastDay?.volume ?? 0, 0);
  });

  it('ends with the price the live quote shows now', async () => {
    const [snapshot, bars] = await Promise.all([
      client.ib.getMarketDataSnapshot(stock('TSLA'), '', false),
      client.ib.getHistoricalData(
        stock('TSLA'),
        '',
        '600 S',
        BarSizeSetting.MINUTES_ONE,
        WhatToShow.TRADES,
        0,
        2,
      ),
    ]);
    const last = snapshot.get(IBApiTickType.LAST)?.value ?? NaN;
    const close = bars[bars.length - 1]?.close ?? NaN;
    expect(Math.abs(close / last - 1)).toBeLessThan(0.002);
    expect(snapshot.get(IBApiTickType.VOLUME)?.value).toBeGreaterThan(0);
  });

  it('formats bar times as exchange wall clock (formatDate 1) or epoch seconds (formatDate 2), agreeing', async () => {
    const asText = await client.ib.getHistoricalData(
      stock('IBM'),
      '',
      '1800 S',
      BarSizeSetting.MINUTES_FIVE,
      WhatToShow.TRADES,
      0,
      1,
    );
    const asEpoch = await client.ib.getHistoricalData(
      stock('IBM'),
      '',
      '1800 S',
      BarSizeSetting.MINUTES_FIVE,
      WhatToShow.TRADES,
      0,
      2,
    );
    expect(asText.length).toBe(asEpoch.length);
    asEpoch.forEach((bar, index) => {
      expect(asText[index]?.time).toBe(`${newYorkWallClock(Number(bar.time))} US/Eastern`);
      expect(asText[index]?.close).toBe(bar.close);
    });
  });

  it('keeps to regular trading hours with useRTH=1', async () => {
    const end = '20261117 20:00:00 US/Eastern';
    const all = await client.ib.getHistoricalData(
      stock('JPM'),
      end,
      '1 D',
      BarSizeSetting.HOURS_ONE,
      WhatToShow.TRADES,
      0,
      1,
    );
    const regular = await client.ib.getHistoricalData(
      stock('JPM'),
      end,
      '1 D',
      BarSizeSetting.HOURS_ONE,
      WhatToShow.TRADES,
      1,
      1,
    );
    const clock = (bars: Bar[]): string[] => bars.map((bar) => (bar.time ?? '').slice(9, 14));
    expect(clock(all)).toEqual([
      '04:00',
      '05:00',
      '06:00',
      '07:00',
      '08:00',
      '09:00',
      '10:00',
      '11:00',
      '12:00',
      '13:00',
      '14:00',
      '15:00',
      '16:00',
      '17:00',
      '18:00',
      '19:00',
    ]);
    expect(clock(regular)).toEqual(['09:30', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00']);
    expect(all.every((bar) => bar.time?.startsWith('20261117'))).toBe(true);
    // Regular-hours bars are cut from the same path: the 11:00 bar is the same either way.
    expect(regular[2]).toEqual(all[7]);
  });

  it('shifts BID and ASK bars around the trades and reports no volume for quotes', async () => {
    const ask = await client.ib.getHistoricalData(
      stock('SPY'),
      '',
      '1800 S',
      BarSizeSetting.MINUTES_TEN,
      WhatToShow.ASK,
      0,
      2,
    );
    const bid = await client.ib.getHistoricalData(
      stock('SPY'),
      '',
      '1800 S',
      BarSizeSetting.MINUTES_TEN,
      WhatToShow.BID,
      0,
      2,
    );
    const bidAsk = await client.ib.getHistoricalData(
      stock('SPY'),
      '',
      '1800 S',
      BarSizeSetting.MINUTES_TEN,
      WhatToShow.BID_ASK,
      0,
      2,
    );
    const mid = await client.ib.getHistoricalData(
      stock('SPY'),
      '',
      '1800 S',
      BarSizeSetting.MINUTES_TEN,
      WhatToShow.MIDPOINT,
      0,
      2,
    );
    expect(bid.length).toBe(ask.length);
    bid.forEach((bar, index) => {
      expect(bar.close ?? NaN).toBeLessThan(ask[index]?.close ?? NaN);
      expect(bar.close ?? NaN).toBeLessThanOrEqual(mid[index]?.close ?? NaN);
      expect(bar.volume).toBeUndefined();
    });
    expectConsistentOhlc([...bid, ...ask, ...bidAsk, ...mid]);
    expect(
      mid.every((bar) => bar.volume === undefined && bar.WAP === undefined && bar.count === undefined),
    ).toBe(true);
  });

  it('has no TRADES for FX (162) but midpoints, and no volume for an index', async () => {
    const error = await rejection(
      client.ib.getHistoricalData(EUR_USD, '', '1 D', BarSizeSetting.HOURS_ONE, WhatToShow.TRADES, 0, 1),
    );
    expect(error.code).toBe(162);
    expect(error.error.message).toBe(
      'Historical Market Data Service error message:No historical market data for EUR/CASH@FXSUBPIP Last 3600',
    );
    const fx = await client.ib.getHistoricalData(
      EUR_USD,
      '',
      '1 D',
      BarSizeSetting.HOURS_ONE,
      WhatToShow.MIDPOINT,
      0,
      1,
    );
    expect(fx.length).toBeGreaterThan(10);
    expectConsistentOhlc(fx);
    const index = await client.ib.getHistoricalData(
      SPX,
      '',
      '1 D',
      BarSizeSetting.MINUTES_THIRTY,
      WhatToShow.TRADES,
      1,
      1,
    );
    expect(index.length).toBeGreaterThan(0);
    expect(index.every((bar) => bar.volume === undefined && (bar.close ?? 0) > 0)).toBe(true);
  });

  it('validates requests the way IB does', async () => {
    const expectError = async (promise: Promise<Bar[]>, code: number, text: string): Promise<void> => {
      const error = await rejection(promise);
      expect([error.code, error.error.message]).toEqual([code, expect.stringContaining(text)]);
    };
    const aapl = stock('AAPL');
    await expectError(
      client.ib.getHistoricalData(aapl, '', '1 D', '7 mins' as BarSizeSetting, WhatToShow.TRADES, 0, 1),
      321,
      'Historical data bar size setting is invalid',
    );
    await expectError(
      client.ib.getHistoricalData(aapl, '', '1 D', BarSizeSetting.SECONDS_THIRTY, WhatToShow.TRADES, 0, 1),
      162,
      'invalid step',
    );
    await expectError(
      client.ib.getHistoricalData(aapl, '', '400 D', BarSizeSetting.DAYS_ONE, WhatToShow.TRADES, 0, 1),
      321,
      'must be made in years',
    );
    await expectError(
      client.ib.getHistoricalData(
        aapl,
        '2026-11-17 10:00',
        '1 D',
        BarSizeSetting.HOURS_ONE,
        WhatToShow.TRADES,
        0,
        1,
      ),
      10314,
      'End Date/Time',
    );
    await expectError(
      client.ib.getHistoricalData(
        stock('NOSUCHSYMBOL'),
        '',
        '1 D',
        BarSizeSetting.HOURS_ONE,
        WhatToShow.TRADES,
        0,
        1,
      ),
      200,
      'No security definition',
    );
    const weekend = await rejection(
      client.ib.getHistoricalData(
        aapl,
        '20261122-12:00:00',
        '3600 S',
        BarSizeSetting.MINUTES_ONE,
        WhatToShow.TRADES,
        0,
        1,
      ),
    );
    expect([weekend.code, weekend.error.message]).toEqual([
      162,
      expect.stringContaining('HMDS query returned no data'),
    ]);
  });

  it('accepts UTC ("yyyyMMdd-HH:mm:ss") and zoned end times that name the same instant', async () => {
    const utc = await client.ib.getHistoricalData(
      stock('QQQ'),
      '20261117-15:00:00',
      '1800 S',
      BarSizeSetting.MINUTES_FIVE,
      WhatToShow.TRADES,
      0,
      2,
    );
    const zoned = await client.ib.getHistoricalData(
      stock('QQQ'),
      '20261117 10:00:00 US/Eastern',
      '1800 S',
      BarSizeSetting.MINUTES_FIVE,
      WhatToShow.TRADES,
      0,
      2,
    );
    expect(zoned).toEqual(utc);
    expect(utc).toHaveLength(6);
    expect(Number(utc[utc.length - 1]?.time)).toBe(Date.UTC(2026, 10, 17, 14, 55) / 1000);
  });

  it('refuses an identical request within 15 seconds as a pacing violation and counts it', async () => {
    const before = simulator.stats().pacingViolations;
    const request = async (): Promise<Bar[]> =>
      client.ib.getHistoricalData(
        stock('IWM'),
        '',
        '600 S',
        BarSizeSetting.SECONDS_FIVE,
        WhatToShow.TRADES,
        0,
        2,
      );
    await expect(request()).resolves.toHaveLength(120);
    const error = await rejection(request());
    expect(error.code).toBe(162);
    expect(error.error.message).toBe(
      'Historical Market Data Service error message:Historical data request pacing violation',
    );
    expect(simulator.stats().pacingViolations).toBe(before + 1);
  });

  it('refuses a sixth request for the same contract and data type within two seconds', async () => {
    const before = simulator.stats().pacingViolations;
    const requests = [60, 120, 180, 240, 300, 360].map(async (seconds) =>
      client.ib.getHistoricalData(
        stock('IBM'),
        '',
        `${seconds} S`,
        BarSizeSetting.SECONDS_FIVE,
        WhatToShow.MIDPOINT,
        0,
        2,
      ),
    );
    const results = await Promise.allSettled(requests);
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
    ]);
    expect(simulator.stats().pacingViolations).toBe(before + 1);
  });

  it('keeps the current bar up to date until the subscription ends', async () => {
    const updatesSent: number[] = [];
    const removeTap = simulator.tap((direction, _session, fields) => {
      if (direction === 'out' && fields[0] === 90) updatesSent.push(Date.now());
    });
    const bars: Bar[] = [];
    const subscription = client.ib
      .getHistoricalDataUpdates(stock('AAPL'), BarSizeSetting.SECONDS_FIVE, WhatToShow.TRADES, 2)
      .subscribe((bar) => bars.push({ ...bar }));
    await waitFor(() => bars.length >= 3, 'three updates');
    subscription.unsubscribe();
    expectConsistentOhlc(bars);
    const now = simulator.clock.now() / 1000;
    for (const bar of bars) {
      expect(Number(bar.time) % 5).toBe(0);
      expect(now - Number(bar.time)).toBeLessThan(10);
      expect(bar.volume).toBeGreaterThan(0);
    }
    await sleep(300);
    const sentAtCancel = updatesSent.length;
    await sleep(1500);
    removeTap();
    expect(updatesSent.length).toBe(sentAtCancel);
  });
});

describe('historical data pacing over ten minutes', () => {
  let simulator: IbGatewaySimulator;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    await simulator.start();
    simulator.setClock(WEDNESDAY_MORNING);
  });

  afterAll(async () => {
    disconnectAllClients();
    await simulator.stop();
  });

  it('refuses the 61st request within ten minutes', async () => {
    const { ib, errors } = await connectClient(simulator.port);
    const symbols = [
      'AAPL',
      'MSFT',
      'NVDA',
      'AMZN',
      'GOOGL',
      'TSLA',
      'META',
      'IBM',
      'JPM',
      'SPY',
      'QQQ',
      'IWM',
    ];
    const kinds = [WhatToShow.TRADES, WhatToShow.MIDPOINT, WhatToShow.BID, WhatToShow.ASK, WhatToShow.TRADES];
    // 12 symbols x 5 requests: never six for one contract and data type within two seconds.
    const requests = kinds.flatMap((whatToShow, round) =>
      symbols.map((symbol) => ({ symbol, whatToShow, duration: `${60 + round} S` })),
    );
    for (const { symbol, whatToShow, duration } of requests) {
      await ib.getHistoricalData(stock(symbol), '', duration, BarSizeSetting.SECONDS_FIVE, whatToShow, 0, 2);
    }
    const error = await rejection(
      ib.getHistoricalData(stock('AAPL'), '', '90 S', BarSizeSetting.SECONDS_FIVE, WhatToShow.MIDPOINT, 0, 2),
    );
    expect(error.code).toBe(162);
    expect(simulator.stats().pacingViolations).toBe(1);
    expect(decodeErrors(errors)).toEqual([]);
  });
});
