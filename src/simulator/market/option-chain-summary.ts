import type { Instrument } from './instrument';
import { listedGrid, optionChainSpec } from './option-grid';

/** Expirations and strikes of one underlying's option chain, as reqSecDefOptParams reports them. */
export interface OptionChainSummary {
  underlyingConId: number;
  tradingClass: string;
  multiplier: number;
  /** Exchanges the chain is listed on, each reported separately. */
  exchanges: string[];
  expirations: string[];
  strikes: number[];
}

/** Wall midnight of a YYYYMMDD date. */
function wallMidnight(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8)));
}

/**
 * The chain of options on an underlying, as reqSecDefOptParams reports it: the expiries and strikes of
 * the grid the universe synthesizes options on (see option-grid's listedGrid: the next weeklies, monthlies
 * for about a year, strikes from half to one and a half times the price), which holds the options listed
 * today (gathered from the listed instruments, whose first expiry and middle strike place the grid).
 */
export function summarizeOptionChain(
  instruments: readonly Instrument[],
  underlyingConId: number,
): OptionChainSummary | undefined {
  const options = instruments.filter(
    (instrument) => instrument.secType === 'OPT' && instrument.underlyingConId === underlyingConId,
  );
  const first = options[0];
  if (!first) return undefined;
  const listedExpirations = [...new Set(options.map((instrument) => instrument.lastTradeDate ?? ''))].sort();
  const listedStrikes = [...new Set(options.map((instrument) => instrument.strike ?? 0))].sort(
    (a, b) => a - b,
  );
  const expirations = new Set(listedExpirations);
  const strikes = new Set(listedStrikes);
  const spec = optionChainSpec(first.symbol);
  const firstExpiry = listedExpirations[0];
  const highest = listedStrikes[listedStrikes.length - 1];
  if (spec && spec.underlyingConId === underlyingConId && firstExpiry && highest !== undefined) {
    // Today's chain is the at-the-money strike and `strikesEachSide` strikes either side of it.
    const atTheMoney = highest - spec.strikesEachSide * spec.strikeStep;
    const grid = listedGrid(spec, wallMidnight(firstExpiry), atTheMoney);
    for (const expiration of grid.expirations) expirations.add(expiration);
    for (const strike of grid.strikes) strikes.add(strike);
  }
  return {
    underlyingConId,
    tradingClass: first.tradingClass,
    multiplier: first.multiplier,
    exchanges: ['SMART', 'CBOE'],
    expirations: [...expirations].sort(),
    strikes: [...strikes].sort((a, b) => a - b),
  };
}
