/** Security types the simulated universe holds. */
export type SecType = 'STK' | 'CASH' | 'FUT' | 'IND' | 'OPT' | 'CRYPTO' | 'BOND' | 'BAG';

/**
 * What a data feed has the user entitled to for this instrument: real-time; delayed only (real-time
 * requests get 354, delayed ones 10167 and delayed ticks); or nothing (354 always).
 */
export type Entitlement = 'realtime' | 'delayed' | 'none';

/** One tradable (or, for IND, quotable) instrument of the simulated universe. */
export interface Instrument {
  conId: number;
  symbol: string;
  secType: SecType;
  /** Routing exchange as IB reports it (SMART for stocks, IDEALPRO for FX, CME, CBOE...). */
  exchange: string;
  primaryExchange: string;
  currency: string;
  localSymbol: string;
  tradingClass: string;
  /** Contract multiplier (1 for stocks and FX, 50 for ES, 100 for equity options). */
  multiplier: number;
  minTick: number;
  longName: string;
  industry: string;
  category: string;
  /** YYYYMMDD for futures and options. */
  lastTradeDate?: string;
  strike?: number;
  right?: 'C' | 'P';
  underlyingConId?: number;
  underlyingSymbol?: string;
  /** IANA zone of the trading hours, e.g. "US/Eastern" as IB names it. */
  timeZoneId: string;
  entitlement: Entitlement;
  /** Exchanges listed in contract details' validExchanges. */
  validExchanges: string[];
  orderTypes: string[];
  /** Contract details' marketName ("NMS" for US stocks, the trading class for derivatives). */
  marketName?: string;
  subcategory?: string;
  /** Contract details' stockType: COMMON, ETF... (STK only). */
  stockType?: string;
  /** YYYYMM of a future's or option's contract month. */
  contractMonth?: string;
  /** IB's market rule ids, one per valid exchange ("26,26"). */
  marketRuleIds?: string;
  /** ISIN, sent as the secIdList entry. */
  isin?: string;
  /** A bond's terms (BOND only): what BOND_CONTRACT_DATA carries besides the contract. */
  bond?: BondTerms;
}

export interface BondTerms {
  cusip: string;
  /** Annual coupon, percent of par. */
  coupon: number;
  /** YYYYMMDD. */
  maturity: string;
  issueDate: string;
  ratings: string;
  bondType: string;
  couponType: string;
}

/**
 * A quote at one instant, derived from the seeded price path. An index (IND) has no book and no trades:
 * its bid and ask are -1 (IB's "no value"), its sizes and volume 0.
 */
export interface Quote {
  bid: number;
  ask: number;
  last: number;
  bidSize: number;
  askSize: number;
  lastSize: number;
  /** Cumulative volume of the current session. */
  volume: number;
  open: number;
  high: number;
  low: number;
  /** Previous session's close. */
  close: number;
  /** Epoch ms the quote is for. */
  time: number;
  /** False outside trading hours: prices are the last ones of the previous session. */
  marketOpen: boolean;
  /** Epoch ms of the last trade (whole second; during a closed market, the last second of the session). */
  lastTime?: number;
}

/** One OHLCV bar of the price path. */
export interface PriceBar {
  /** Epoch ms of the bar's start. */
  start: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  wap: number;
  count: number;
  /** YYYYMMDD trade date, on daily and weekly bars (an FX or futures session starts the evening before). */
  tradeDate?: string;
}
