import { SimulatorClock } from '../../../../src/simulator/control/simulator-clock';
import { Market } from '../../../../src/simulator/market/market';
import { PricePath, VolumeCurve } from '../../../../src/simulator/market/price-path';

const YEAR_OF_TRADING_MS = 252 * 6.5 * 3_600_000;
const MINUTE = 60_000;

function samples(path: PricePath, count: number, stepMs: number): number[] {
  return Array.from({ length: count }, (_, i) => path.at(1e11 + i * stepMs));
}

function standardDeviation(values: number[]): number {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length);
}

describe('PricePath', () => {
  it('is a pure function of seed, name and time', () => {
    const first = samples(new PricePath(7, 'AAPL', 230, 0.3, YEAR_OF_TRADING_MS), 50, 1_234);
    const again = samples(new PricePath(7, 'AAPL', 230, 0.3, YEAR_OF_TRADING_MS), 50, 1_234);
    expect(again).toEqual(first);
  });

  it('differs between seeds and between instruments', () => {
    const base = samples(new PricePath(7, 'AAPL', 230, 0.3, YEAR_OF_TRADING_MS), 20, MINUTE);
    const otherSeed = samples(new PricePath(8, 'AAPL', 230, 0.3, YEAR_OF_TRADING_MS), 20, MINUTE);
    const otherName = samples(new PricePath(7, 'MSFT', 230, 0.3, YEAR_OF_TRADING_MS), 20, MINUTE);
    expect(otherSeed).not.toEqual(base);
    expect(otherName).not.toEqual(base);
  });

  it('moves like a random walk: log-return spread grows with the square root of the horizon', () => {
    const path = new PricePath(42, 'WALK', 100, 0.3, YEAR_OF_TRADING_MS);
    const logReturns = (horizonMs: number): number[] =>
      Array.from({ length: 2_000 }, (_, i) => {
        const start = 1e11 + i * 7 * horizonMs;
        return Math.log(path.at(start + horizonMs) / path.at(start));
      });
    const short = standardDeviation(logReturns(MINUTE));
    const long = standardDeviation(logReturns(16 * MINUTE));
    expect(long / short).toBeGreaterThan(2.5);
    expect(long / short).toBeLessThan(6);
    // A year's spread is in the neighbourhood of the annual volatility.
    const daily = standardDeviation(logReturns(6.5 * 60 * MINUTE));
    expect(daily * Math.sqrt(252)).toBeGreaterThan(0.15);
    expect(daily * Math.sqrt(252)).toBeLessThan(0.6);
  });
});

describe('VolumeCurve', () => {
  it('never decreases and averages its rate', () => {
    const curve = new VolumeCurve(3, 'VOL', 2.5);
    const values = Array.from({ length: 10_000 }, (_, i) => curve.cumulative(i * 997));
    const decreases = values.filter((value, i) => i > 0 && value < (values[i - 1] ?? 0));
    expect(decreases).toEqual([]);
    expect((values[values.length - 1] ?? 0) / (9_999 * 997)).toBeCloseTo(2.5, 1);
  });
});

describe('Market price path', () => {
  const at = (iso: string): number => Date.parse(iso);

  function marketAt(iso: string, seed = 42): Market {
    const clock = new SimulatorClock();
    clock.set(at(iso));
    return new Market({ seed, clock });
  }

  it('gives the same quotes for the same seed and different ones for another seed', () => {
    const when = at('2026-11-24T16:00:00Z');
    const first = marketAt('2026-11-24T16:00:00Z').quote(265598, when);
    const again = marketAt('2026-11-24T16:00:00Z').quote(265598, when);
    const other = marketAt('2026-11-24T16:00:00Z', 43).quote(265598, when);
    expect(again).toEqual(first);
    expect(other.last).not.toEqual(first.last);
  });

  it('stands still while the market is closed and moves while it is open', () => {
    const market = marketAt('2026-11-28T15:00:00Z'); // a Saturday
    const saturday = market.quote(265598, at('2026-11-28T15:00:00Z'));
    const sunday = market.quote(265598, at('2026-11-29T20:00:00Z'));
    expect(saturday.marketOpen).toBe(false);
    expect({ ...sunday, time: 0 }).toEqual({ ...saturday, time: 0 });
    // Friday's close is the last price of the weekend.
    const fridayEnd = market.quote(265598, at('2026-11-28T00:59:59Z'));
    expect(fridayEnd.marketOpen).toBe(true);
    expect(saturday.last).toBe(market.quote(265598, at('2026-11-28T00:59:59.999Z')).last);
    expect(market.bars(265598, at('2026-11-28T05:00:00Z'), at('2026-11-30T09:00:00Z'), MINUTE)).toEqual([]);

    const tuesday = [0, 1, 2, 3, 4].map((minutes) =>
      market.quote(265598, at('2026-11-24T16:00:00Z') + minutes * MINUTE),
    );
    expect(new Set(tuesday.map((quote) => quote.last)).size).toBeGreaterThan(1);
  });

  it('keeps option prices still outside their hours even though the underlying trades pre-market', () => {
    const market = marketAt('2026-11-24T16:00:00Z');
    const option = market
      .instruments()
      .find((instrument) => instrument.secType === 'OPT' && instrument.symbol === 'AAPL');
    if (!option) throw new Error('no AAPL option');
    const early = market.quote(option.conId, at('2026-11-24T10:00:00Z')); // 05:00 ET
    const later = market.quote(option.conId, at('2026-11-24T13:00:00Z')); // 08:00 ET
    expect(market.isTrading(265598, at('2026-11-24T10:00:00Z'))).toBe(true);
    expect(early.marketOpen).toBe(false);
    expect(later.last).toBe(early.last);
  });
});
