import type { Instrument } from './instrument';

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

/** The chain of options listed today on an underlying, gathered from the listed instruments. */
export function summarizeOptionChain(
  instruments: readonly Instrument[],
  underlyingConId: number,
): OptionChainSummary | undefined {
  const options = instruments.filter(
    (instrument) => instrument.secType === 'OPT' && instrument.underlyingConId === underlyingConId,
  );
  const first = options[0];
  if (!first) return undefined;
  const expirations = [...new Set(options.map((instrument) => instrument.lastTradeDate ?? ''))].sort();
  const strikes = [...new Set(options.map((instrument) => instrument.strike ?? 0))].sort((a, b) => a - b);
  return {
    underlyingConId,
    tradingClass: first.tradingClass,
    multiplier: first.multiplier,
    exchanges: ['SMART', 'CBOE'],
    expirations,
    strikes,
  };
}
