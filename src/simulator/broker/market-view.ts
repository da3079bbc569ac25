import type { Instrument } from '../market/instrument';
import type { Market } from '../market/market';

/** What the broker uses of the market: instruments, contract matching, quotes and trading hours. */
export type MarketView = Pick<
  Market,
  'instrument' | 'instruments' | 'resolve' | 'quote' | 'isTrading' | 'isRegularHours'
>;

/** The instrument of a conId, or undefined when the market does not list it (restoring saved state). */
export type InstrumentLookup = (conId: number) => Instrument | undefined;
