import type { Instrument } from './instrument';
import { PricePath, VolumeCurve } from './price-path';
import type { StockSpec } from './universe-stocks';
import {
  fromWall,
  Schedules,
  TradingCalendar,
  toWall,
  wallDate,
  type TradingSchedule,
} from './trading-hours';

// Local bindings: hot loops must not look up the global `Math` (slow inside jest's vm contexts).
const { abs, exp, floor, log, max, round, sqrt } = Math;

const DAY = 86_400_000;
const YEAR = 365 * DAY;
const WEEKS_PER_YEAR = 52;
/** Risk-free rate used for option prices and the futures basis. */
export const INTEREST_RATE = 0.04;
const ES_DIVIDEND_YIELD = 0.013;

/** How an instrument's mid price is derived. */
export type PriceSource =
  | { kind: 'path'; path: PricePath }
  | { kind: 'future'; path: PricePath; expiryMs: number }
  | { kind: 'option'; underlyingConId: number; impliedVol: number; expiryMs: number };

/** An instrument with what the market needs to quote it. */
export interface Listing {
  instrument: Instrument;
  calendar: TradingCalendar;
  price: PriceSource;
  /** Cumulative volume; undefined for instruments without trades (indices). */
  volume: VolumeCurve | undefined;
  /** Quoted spread as a fraction of the mid (at least one tick is always quoted). */
  spreadFraction: number;
  /** Quote and trade sizes are multiples of `lot`, up to `maxLots` lots. */
  lot: number;
  maxLots: number;
}

const calendars = new Map<TradingSchedule, TradingCalendar>();
export function calendarOf(schedule: TradingSchedule): TradingCalendar {
  let calendar = calendars.get(schedule);
  if (!calendar) {
    calendar = new TradingCalendar(schedule);
    calendars.set(schedule, calendar);
  }
  return calendar;
}

export function tradingMsPerYear(calendar: TradingCalendar): number {
  return calendar.tradingMsPerWeek * WEEKS_PER_YEAR;
}

/** Volume per liquid-equivalent ms so that a full session trades `dailyVolume`. */
export function volumeRate(calendar: TradingCalendar, dailyVolume: number): number {
  const sessionsPerWeek = calendar.schedule.sessions.length;
  return dailyVolume / (calendar.activityMsPerWeek / sessionsPerWeek);
}

const STOCK_ORDER_TYPES = [
  'ACTIVETIM',
  'ADJUST',
  'ALERT',
  'ALGO',
  'ALLOC',
  'AVGCOST',
  'BASKET',
  'COND',
  'DAY',
  'GAT',
  'GTC',
  'GTD',
  'IOC',
  'LIT',
  'LMT',
  'MIT',
  'MKT',
  'MOC',
  'MTL',
  'OCA',
  'REL',
  'STP',
  'STPLMT',
  'TRAIL',
  'TRAILLIMIT',
  'WHATIF',
];
export const FX_ORDER_TYPES = [
  'ACTIVETIM',
  'ALERT',
  'ALLOC',
  'DAY',
  'GAT',
  'GTC',
  'GTD',
  'IOC',
  'LIT',
  'LMT',
  'MIT',
  'MKT',
  'OCA',
  'STP',
  'STPLMT',
  'TRAIL',
  'TRAILLIMIT',
  'WHATIF',
];
export const DERIVATIVE_ORDER_TYPES = [
  'ACTIVETIM',
  'ALERT',
  'ALLOC',
  'DAY',
  'GAT',
  'GTC',
  'GTD',
  'IOC',
  'LIT',
  'LMT',
  'MIT',
  'MKT',
  'OCA',
  'STP',
  'STPLMT',
  'TRAIL',
  'WHATIF',
];

/** US stocks and ETFs on SMART (conIds are IB's real ones). */
export const US_STOCKS: StockSpec[] = [
  {
    symbol: 'AAPL',
    conId: 265598,
    primaryExchange: 'NASDAQ',
    longName: 'APPLE INC',
    industry: 'Technology',
    category: 'Computers',
    stockType: 'COMMON',
    price: 230,
    volatility: 0.28,
    dailyVolume: 55e6,
    isin: 'US0378331005',
  },
  {
    symbol: 'MSFT',
    conId: 272093,
    primaryExchange: 'NASDAQ',
    longName: 'MICROSOFT CORP',
    industry: 'Technology',
    category: 'Software',
    stockType: 'COMMON',
    price: 420,
    volatility: 0.25,
    dailyVolume: 22e6,
    isin: 'US5949181045',
  },
  {
    symbol: 'NVDA',
    conId: 4815747,
    primaryExchange: 'NASDAQ',
    longName: 'NVIDIA CORP',
    industry: 'Technology',
    category: 'Semiconductors',
    stockType: 'COMMON',
    price: 140,
    volatility: 0.5,
    dailyVolume: 250e6,
    isin: 'US67066G1040',
  },
  {
    symbol: 'AMZN',
    conId: 3691937,
    primaryExchange: 'NASDAQ',
    longName: 'AMAZON.COM INC',
    industry: 'Communications',
    category: 'Internet',
    stockType: 'COMMON',
    price: 200,
    volatility: 0.32,
    dailyVolume: 45e6,
    isin: 'US0231351067',
  },
  {
    symbol: 'GOOGL',
    conId: 208813719,
    primaryExchange: 'NASDAQ',
    longName: 'ALPHABET INC-CL A',
    industry: 'Communications',
    category: 'Internet',
    stockType: 'COMMON',
    price: 175,
    volatility: 0.3,
    dailyVolume: 30e6,
    isin: 'US02079K3059',
  },
  {
    symbol: 'TSLA',
    conId: 76792991,
    primaryExchange: 'NASDAQ',
    longName: 'TESLA INC',
    industry: 'Consumer, Cyclical',
    category: 'Auto Manufacturers',
    stockType: 'COMMON',
    price: 250,
    volatility: 0.6,
    dailyVolume: 100e6,
    isin: 'US88160R1014',
  },
  {
    symbol: 'META',
    conId: 107113386,
    primaryExchange: 'NASDAQ',
    longName: 'META PLATFORMS INC-CLASS A',
    industry: 'Communications',
    category: 'Internet',
    stockType: 'COMMON',
    price: 580,
    volatility: 0.35,
    dailyVolume: 15e6,
    isin: 'US30303M1027',
  },
  {
    symbol: 'IBM',
    conId: 8314,
    primaryExchange: 'NYSE',
    longName: 'INTL BUSINESS MACHINES CORP',
    industry: 'Technology',
    category: 'Computers',
    stockType: 'COMMON',
    price: 220,
    volatility: 0.22,
    dailyVolume: 4e6,
    isin: 'US4592001014',
  },
  {
    symbol: 'JPM',
    conId: 1520593,
    primaryExchange: 'NYSE',
    longName: 'JPMORGAN CHASE & CO',
    industry: 'Financial',
    category: 'Banks',
    stockType: 'COMMON',
    price: 230,
    volatility: 0.22,
    dailyVolume: 9e6,
    isin: 'US46625H1005',
  },
  {
    symbol: 'SPY',
    conId: 756733,
    primaryExchange: 'ARCA',
    longName: 'SPDR S&P 500 ETF TRUST',
    industry: 'Funds',
    category: 'Equity Fund',
    stockType: 'ETF',
    price: 600,
    volatility: 0.16,
    dailyVolume: 60e6,
    isin: 'US78462F1030',
  },
  {
    symbol: 'QQQ',
    conId: 320227571,
    primaryExchange: 'NASDAQ',
    longName: 'INVESCO QQQ TRUST SERIES 1',
    industry: 'Funds',
    category: 'Equity Fund',
    stockType: 'ETF',
    price: 510,
    volatility: 0.2,
    dailyVolume: 35e6,
    isin: 'US46090E1038',
  },
  {
    symbol: 'IWM',
    conId: 9579970,
    primaryExchange: 'ARCA',
    longName: 'ISHARES RUSSELL 2000 ETF',
    industry: 'Funds',
    category: 'Equity Fund',
    stockType: 'ETF',
    price: 225,
    volatility: 0.22,
    dailyVolume: 30e6,
    isin: 'US4642876555',
  },
];

const US_STOCK_EXCHANGES = [
  'SMART',
  'AMEX',
  'NYSE',
  'CBOE',
  'PHLX',
  'ISE',
  'CHX',
  'ARCA',
  'NASDAQ',
  'DRCTEDGE',
  'BEX',
  'BATS',
  'EDGEA',
  'BYX',
  'IEX',
  'EDGX',
  'MEMX',
  'PEARL',
  'LTSE',
  'IBKRATS',
];

export function usStock(seed: number, spec: StockSpec): Listing {
  const calendar = calendarOf(Schedules.usEquity);
  const exchanges = US_STOCK_EXCHANGES.includes(spec.primaryExchange)
    ? US_STOCK_EXCHANGES
    : [...US_STOCK_EXCHANGES, spec.primaryExchange];
  return {
    instrument: {
      conId: spec.conId,
      symbol: spec.symbol,
      secType: 'STK',
      exchange: 'SMART',
      primaryExchange: spec.primaryExchange,
      currency: 'USD',
      localSymbol: spec.symbol,
      tradingClass: spec.stockType === 'ETF' ? spec.symbol : 'NMS',
      multiplier: 1,
      minTick: 0.01,
      longName: spec.longName,
      industry: spec.industry,
      category: spec.category,
      subcategory: spec.category,
      stockType: spec.stockType,
      marketName: 'NMS',
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: exchanges,
      orderTypes: STOCK_ORDER_TYPES,
      marketRuleIds: exchanges.map(() => '26').join(','),
      isin: spec.isin,
    },
    calendar,
    price: {
      kind: 'path',
      path: new PricePath(seed, spec.symbol, spec.price, spec.volatility, tradingMsPerYear(calendar)),
    },
    volume: new VolumeCurve(seed, spec.symbol, volumeRate(calendar, spec.dailyVolume)),
    spreadFraction: spec.stockType === 'ETF' ? 0.00003 : 0.0001,
    lot: 100,
    maxLots: 40,
  };
}

/** IBM's listing on the Mexican exchange, so a bare {symbol: 'IBM', secType: 'STK'} is ambiguous. */
function ibmMexico(seed: number): Listing {
  const calendar = calendarOf(Schedules.mexico);
  return {
    instrument: {
      conId: 38709539,
      symbol: 'IBM',
      secType: 'STK',
      exchange: 'MEXI',
      primaryExchange: 'MEXI',
      currency: 'MXN',
      localSymbol: 'IBM',
      tradingClass: 'IBM',
      multiplier: 1,
      minTick: 0.01,
      longName: 'INTL BUSINESS MACHINES CORP',
      industry: 'Technology',
      category: 'Computers',
      subcategory: 'Computer Services',
      stockType: 'COMMON',
      marketName: 'IBM',
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: ['MEXI'],
      orderTypes: STOCK_ORDER_TYPES,
      marketRuleIds: '1021',
      isin: 'US4592001014',
    },
    calendar,
    price: { kind: 'path', path: new PricePath(seed, 'IBM.MEXI', 4_400, 0.23, tradingMsPerYear(calendar)) },
    volume: new VolumeCurve(seed, 'IBM.MEXI', volumeRate(calendar, 3_000)),
    spreadFraction: 0.001,
    lot: 1,
    maxLots: 50,
  };
}

interface FxSpec {
  base: string;
  quote: string;
  conId: number;
  longName: string;
  price: number;
  volatility: number;
  minTick: number;
}

const FX_PAIRS: FxSpec[] = [
  {
    base: 'EUR',
    quote: 'USD',
    conId: 12087792,
    longName: 'European Monetary Union Euro',
    price: 1.08,
    volatility: 0.07,
    minTick: 0.00005,
  },
  {
    base: 'GBP',
    quote: 'USD',
    conId: 12087797,
    longName: 'British pound',
    price: 1.27,
    volatility: 0.08,
    minTick: 0.00005,
  },
  {
    base: 'USD',
    quote: 'JPY',
    conId: 15016059,
    longName: 'US dollar',
    price: 150,
    volatility: 0.1,
    minTick: 0.005,
  },
];

function fxPair(seed: number, spec: FxSpec): Listing {
  const calendar = calendarOf(Schedules.fx);
  const localSymbol = `${spec.base}.${spec.quote}`;
  return {
    instrument: {
      conId: spec.conId,
      symbol: spec.base,
      secType: 'CASH',
      exchange: 'IDEALPRO',
      primaryExchange: '',
      currency: spec.quote,
      localSymbol,
      tradingClass: localSymbol,
      multiplier: 1,
      minTick: spec.minTick,
      longName: spec.longName,
      industry: '',
      category: '',
      marketName: localSymbol,
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: ['IDEALPRO'],
      orderTypes: FX_ORDER_TYPES,
      marketRuleIds: '239',
    },
    calendar,
    price: {
      kind: 'path',
      path: new PricePath(seed, localSymbol, spec.price, spec.volatility, tradingMsPerYear(calendar)),
    },
    volume: new VolumeCurve(seed, localSymbol, volumeRate(calendar, 20_000)),
    spreadFraction: 0.00004,
    lot: 1_000_000,
    maxLots: 20,
  };
}

export const SPX_CON_ID = 416904;

function spxIndex(seed: number): Listing {
  const calendar = calendarOf(Schedules.usRegularOnly);
  return {
    instrument: {
      conId: SPX_CON_ID,
      symbol: 'SPX',
      secType: 'IND',
      exchange: 'CBOE',
      primaryExchange: 'CBOE',
      currency: 'USD',
      localSymbol: 'SPX',
      tradingClass: 'SPX',
      multiplier: 1,
      minTick: 0.01,
      longName: 'S&P 500 Stock Index',
      industry: 'Indices',
      category: 'Broad Range Equity Index',
      marketName: 'SPX',
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: ['CBOE'],
      orderTypes: [],
      marketRuleIds: '110',
    },
    calendar,
    price: { kind: 'path', path: new PricePath(seed, 'SPX', 6_000, 0.16, tradingMsPerYear(calendar)) },
    volume: undefined,
    spreadFraction: 0,
    lot: 0,
    maxLots: 0,
  };
}

export const ES_INDEX_CON_ID = 11004968;
const ES_PATH_NAME = 'ES';
const ES_PRICE = 6_050;
const ES_VOLATILITY = 0.16;

/** The E-mini S&P 500 "index" IB lists as the underlying of the ES futures (quoted from the futures' path). */
function esIndex(seed: number): Listing {
  const calendar = calendarOf(Schedules.cmeEquityFutures);
  return {
    instrument: {
      conId: ES_INDEX_CON_ID,
      symbol: 'ES',
      secType: 'IND',
      exchange: 'CME',
      primaryExchange: 'CME',
      currency: 'USD',
      localSymbol: 'ES',
      tradingClass: 'ES',
      multiplier: 1,
      minTick: 0.01,
      longName: 'E-mini S&P 500',
      industry: 'Indices',
      category: 'Broad Range Equity Index',
      marketName: 'ES',
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: ['CME'],
      orderTypes: [],
      marketRuleIds: '67',
    },
    calendar,
    price: {
      kind: 'path',
      path: new PricePath(seed, ES_PATH_NAME, ES_PRICE, ES_VOLATILITY, tradingMsPerYear(calendar)),
    },
    volume: undefined,
    spreadFraction: 0,
    lot: 0,
    maxLots: 0,
  };
}

/** All non-expiring instruments. */
export function staticListings(seed: number): Listing[] {
  return [
    ...US_STOCKS.map((spec) => usStock(seed, spec)),
    ibmMexico(seed),
    ...FX_PAIRS.map((spec) => fxPair(seed, spec)),
    spxIndex(seed),
    esIndex(seed),
  ];
}

// ---- Expiring instruments: derived from the clock's date ----

/** Wall-clock midnight (ms, as UTC) of the US/Eastern date of `epochMs`. */
export function easternDay(epochMs: number): number {
  return floor(toWall('US/Eastern', epochMs) / DAY) * DAY;
}

/** Third Friday of a month (wall midnight). */
export function thirdFriday(year: number, month: number): number {
  const first = Date.UTC(year, month, 1);
  const weekday = new Date(first).getUTCDay();
  const firstFriday = first + ((5 - weekday + 7) % 7) * DAY;
  return firstFriday + 14 * DAY;
}

export const FUTURE_MONTH_CODES = 'FGHJKMNQUVXZ';

/** The next two quarterly E-mini S&P 500 futures not yet expired on `today` (wall midnight ET). */
export function esFutures(seed: number, today: number): Listing[] {
  const calendar = calendarOf(Schedules.cmeEquityFutures);
  const path = new PricePath(seed, ES_PATH_NAME, ES_PRICE, ES_VOLATILITY, tradingMsPerYear(calendar));
  const listings: Listing[] = [];
  const date = new Date(today);
  let year = date.getUTCFullYear();
  let month = floor(date.getUTCMonth() / 3) * 3 + 2; // Mar, Jun, Sep, Dec
  while (listings.length < 2) {
    const expiry = thirdFriday(year, month);
    if (expiry >= today) {
      const contractMonth = `${year}${String(month + 1).padStart(2, '0')}`;
      // ES stops trading at 09:30 ET on expiry day; the closing time hardly matters for the basis.
      const expiryMs = fromWall('US/Eastern', expiry + 9.5 * 3_600_000);
      listings.push({
        instrument: {
          conId: 800_000_000 + year * 100 + month + 1,
          symbol: 'ES',
          secType: 'FUT',
          exchange: 'CME',
          primaryExchange: 'CME',
          currency: 'USD',
          localSymbol: `ES${FUTURE_MONTH_CODES[month] ?? ''}${year % 10}`,
          tradingClass: 'ES',
          multiplier: 50,
          minTick: 0.25,
          longName: 'E-mini S&P 500',
          industry: '',
          category: '',
          marketName: 'ES',
          lastTradeDate: wallDate(expiry),
          contractMonth,
          underlyingConId: ES_INDEX_CON_ID,
          underlyingSymbol: 'ES',
          timeZoneId: calendar.timeZoneId,
          entitlement: 'realtime',
          validExchanges: ['CME', 'QBALGO'],
          orderTypes: DERIVATIVE_ORDER_TYPES,
          marketRuleIds: '67,67',
        },
        calendar,
        price: { kind: 'future', path, expiryMs },
        volume: new VolumeCurve(
          seed,
          `ES${contractMonth}`,
          volumeRate(calendar, listings.length === 0 ? 1_500_000 : 20_000),
        ),
        spreadFraction: 0,
        lot: 1,
        maxLots: 60,
      });
    }
    month += 3;
    if (month > 11) {
      month -= 12;
      year++;
    }
  }
  return listings;
}

/** Futures price on the path: spot-like path times the cost of carry to expiry. */
export function futurePrice(
  path: PricePath,
  calendar: TradingCalendar,
  expiryMs: number,
  atMs: number,
): number {
  const effective = calendar.lastTradingInstant(atMs);
  const years = max(0, expiryMs - effective) / YEAR;
  return path.at(calendar.tradingTime(effective)) * exp((INTEREST_RATE - ES_DIVIDEND_YIELD) * years);
}

/** Option chains: which underlyings have them and how they are laid out. */
export interface OptionChainSpec {
  underlyingConId: number;
  symbol: string;
  strikeStep: number;
  /** Strikes on each side of the at-the-money one. */
  strikesEachSide: number;
  impliedVol: number;
  dailyVolume: number;
}

export const OPTION_CHAINS: OptionChainSpec[] = [
  {
    underlyingConId: 265598,
    symbol: 'AAPL',
    strikeStep: 5,
    strikesEachSide: 8,
    impliedVol: 0.27,
    dailyVolume: 20_000,
  },
  {
    underlyingConId: 756733,
    symbol: 'SPY',
    strikeStep: 5,
    strikesEachSide: 10,
    impliedVol: 0.15,
    dailyVolume: 50_000,
  },
];

const OPTION_EXCHANGES = [
  'SMART',
  'AMEX',
  'CBOE',
  'PHLX',
  'PSE',
  'ISE',
  'BOX',
  'BATS',
  'NASDAQOM',
  'CBOE2',
  'NASDAQBX',
  'MIAX',
  'GEMINI',
  'EDGX',
  'MERCURY',
  'PEARL',
  'EMERALD',
  'MEMX',
  'IBUSOPT',
];

/** Expirations listed on `today` (wall midnight ET): the next four Fridays, then two more monthly ones. */
export function optionExpirations(today: number): number[] {
  const weekday = new Date(today).getUTCDay();
  const firstFriday = today + ((5 - weekday + 7) % 7) * DAY;
  const expirations = [0, 1, 2, 3].map((week) => firstFriday + week * 7 * DAY);
  const last = expirations[expirations.length - 1] ?? today;
  const date = new Date(last);
  let year = date.getUTCFullYear();
  let month = date.getUTCMonth();
  while (expirations.length < 6) {
    const expiry = thirdFriday(year, month);
    if (expiry > last && !expirations.includes(expiry)) expirations.push(expiry);
    month++;
    if (month > 11) {
      month = 0;
      year++;
    }
  }
  return expirations;
}

/** A collision-free conId from the option's terms (days since 2020 fit 12 bits, strike×2 fits 13). */
function optionConId(chainIndex: number, right: 'C' | 'P', expiry: number, strike: number): number {
  const days = round((expiry - Date.UTC(2020, 0, 1)) / DAY) & 0xfff;
  const rightBit = right === 'C' ? 0 : 1;
  return 1_000_000_000 + ((chainIndex * 2 + rightBit) * 4096 + days) * 8192 + round(strike * 2);
}

/** OCC symbol: root padded to 6, YYMMDD, right, strike × 1000 in 8 digits ("AAPL  261127C00230000"). */
function occSymbol(symbol: string, expiryDate: string, right: 'C' | 'P', strike: number): string {
  return `${symbol.padEnd(6, ' ')}${expiryDate.slice(2)}${right}${String(round(strike * 1000)).padStart(8, '0')}`;
}

/**
 * The option chain of one underlying on `today`: every listed expiration times every strike around
 * `centerPrice`, calls and puts. Options trade 09:30-16:00 ET and expire at 16:00 ET.
 */
export function optionChain(
  seed: number,
  chainIndex: number,
  spec: OptionChainSpec,
  today: number,
  centerPrice: number,
): Listing[] {
  const atTheMoney = round(centerPrice / spec.strikeStep) * spec.strikeStep;
  const strikes: number[] = [];
  for (let i = -spec.strikesEachSide; i <= spec.strikesEachSide; i++) {
    const strike = atTheMoney + i * spec.strikeStep;
    if (strike > 0) strikes.push(strike);
  }
  const listings: Listing[] = [];
  for (const expiry of optionExpirations(today)) {
    for (const strike of strikes) {
      for (const right of ['C', 'P'] as const) {
        listings.push(optionListing(seed, chainIndex, spec, { expiry, strike, right }, centerPrice));
      }
    }
  }
  return listings;
}

/** One option of a chain: expiry (wall midnight ET), strike and right; volume fades away from `centerPrice`. */
export function optionListing(
  seed: number,
  chainIndex: number,
  spec: OptionChainSpec,
  terms: { expiry: number; strike: number; right: 'C' | 'P' },
  centerPrice: number,
): Listing {
  const { expiry, strike, right } = terms;
  const calendar = calendarOf(Schedules.usRegularOnly);
  const expiryDate = wallDate(expiry);
  const expiryMs = fromWall('US/Eastern', expiry + 16 * 3_600_000);
  const conId = optionConId(chainIndex, right, expiry, strike);
  const moneyness = abs(log(strike / centerPrice));
  return {
    instrument: {
      conId,
      symbol: spec.symbol,
      secType: 'OPT',
      exchange: 'SMART',
      primaryExchange: '',
      currency: 'USD',
      localSymbol: occSymbol(spec.symbol, expiryDate, right, strike),
      tradingClass: spec.symbol,
      multiplier: 100,
      minTick: 0.01,
      longName: spec.symbol === 'SPY' ? 'SPDR S&P 500 ETF TRUST' : 'APPLE INC',
      industry: '',
      category: '',
      marketName: spec.symbol,
      lastTradeDate: expiryDate,
      contractMonth: expiryDate.slice(0, 6),
      strike,
      right,
      underlyingConId: spec.underlyingConId,
      underlyingSymbol: spec.symbol,
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: OPTION_EXCHANGES,
      orderTypes: DERIVATIVE_ORDER_TYPES,
      marketRuleIds: OPTION_EXCHANGES.map(() => '32').join(','),
    },
    calendar,
    price: {
      kind: 'option',
      underlyingConId: spec.underlyingConId,
      impliedVol: spec.impliedVol,
      expiryMs,
    },
    volume: new VolumeCurve(
      seed,
      `OPT${conId}`,
      volumeRate(calendar, spec.dailyVolume * exp(-12 * moneyness)),
    ),
    spreadFraction: 0.02,
    lot: 1,
    maxLots: 80,
  };
}

/** Standard normal cumulative distribution (Abramowitz-Stegun 26.2.17, error < 7.5e-8). */
function normalCdf(x: number): number {
  const t = 1 / (1 + 0.2316419 * abs(x));
  const density = exp((-x * x) / 2) / sqrt(2 * Math.PI);
  const tail =
    density *
    t *
    (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return x >= 0 ? 1 - tail : tail;
}

/** Black-Scholes price of a European option (no dividends); intrinsic value at or after expiry. */
export function blackScholes(
  right: 'C' | 'P',
  spot: number,
  strike: number,
  years: number,
  volatility: number,
  rate = INTEREST_RATE,
): number {
  if (years <= 0 || volatility <= 0) return max(0, right === 'C' ? spot - strike : strike - spot);
  const deviation = volatility * sqrt(years);
  const d1 = (log(spot / strike) + (rate + (volatility * volatility) / 2) * years) / deviation;
  const d2 = d1 - deviation;
  const discount = exp(-rate * years);
  return right === 'C'
    ? spot * normalCdf(d1) - strike * discount * normalCdf(d2)
    : strike * discount * normalCdf(-d2) - spot * normalCdf(-d1);
}

export { YEAR as YEAR_MS };
