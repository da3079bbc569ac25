import type { Market } from '../market/market';

/** What the broker uses of the market: instruments, contract matching, quotes and trading hours. */
export type MarketView = Pick<
  Market,
  'instrument' | 'instruments' | 'resolve' | 'quote' | 'isTrading' | 'isRegularHours'
>;
