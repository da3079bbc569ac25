import type { BondTerms, Instrument } from './instrument';
import { PricePath, VolumeCurve } from './price-path';
import { fromWall, Schedules, wallDate } from './trading-hours';
import {
  calendarOf,
  DERIVATIVE_ORDER_TYPES,
  FUTURE_MONTH_CODES,
  FX_ORDER_TYPES,
  thirdFriday,
  tradingMsPerYear,
  US_STOCKS,
  usStock,
  volumeRate,
  type Listing,
} from './universe';
import { BROAD_US_STOCKS } from './universe-stocks';

/*
 * The catalog: instruments a client can look up, quote and trade beyond the core universe (the one the
 * scanner ranks, the news covers and the option chains hang on). A broad list of US stocks and ETFs, the
 * DAX and Euro Stoxx 50 with their EUREX futures, crypto on PAXOS and two Treasuries. conIds are the
 * simulator's own.
 */

const DAY = 86_400_000;

interface EuropeanIndexSpec {
  conId: number;
  symbol: string;
  longName: string;
  price: number;
  volatility: number;
  /** The futures' trading class, multiplier (EUR a point) and first conId (plus year×100+month). */
  futures: { tradingClass: string; multiplier: number; conIdBase: number; dailyVolume: number };
}

const EUROPEAN_INDICES: EuropeanIndexSpec[] = [
  {
    conId: 690_000_001,
    symbol: 'DAX',
    longName: 'DAX 40 Index',
    price: 19_500,
    volatility: 0.17,
    futures: { tradingClass: 'FDAX', multiplier: 25, conIdBase: 691_000_000, dailyVolume: 60_000 },
  },
  {
    conId: 690_000_002,
    symbol: 'ESTX50',
    longName: 'Euro Stoxx 50 Index',
    price: 5_000,
    volatility: 0.17,
    futures: { tradingClass: 'FESX', multiplier: 10, conIdBase: 692_000_000, dailyVolume: 700_000 },
  },
];

function europeanIndex(seed: number, spec: EuropeanIndexSpec): Listing {
  const calendar = calendarOf(Schedules.eurexIndex);
  return {
    instrument: {
      conId: spec.conId,
      symbol: spec.symbol,
      secType: 'IND',
      exchange: 'EUREX',
      primaryExchange: 'EUREX',
      currency: 'EUR',
      localSymbol: spec.symbol,
      tradingClass: spec.symbol,
      multiplier: 1,
      minTick: 0.01,
      longName: spec.longName,
      industry: 'Indices',
      category: 'Broad Range Equity Index',
      marketName: spec.symbol,
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: ['EUREX'],
      orderTypes: [],
      marketRuleIds: '1681',
    },
    calendar,
    price: {
      kind: 'path',
      path: new PricePath(seed, spec.symbol, spec.price, spec.volatility, tradingMsPerYear(calendar)),
    },
    volume: undefined,
    spreadFraction: 0,
    lot: 0,
    maxLots: 0,
  };
}

/**
 * The next two quarterly EUREX futures on an index not yet expired on `today` (wall midnight): third
 * Friday of March, June, September, December, last trading at 13:00 Frankfurt. Priced like ES: a walk
 * from the index's level (on the futures' longer trading clock) times the cost of carry to expiry.
 */
function eurexFutures(seed: number, spec: EuropeanIndexSpec, today: number): Listing[] {
  const calendar = calendarOf(Schedules.eurexFutures);
  const path = new PricePath(seed, spec.symbol, spec.price, spec.volatility, tradingMsPerYear(calendar));
  const { tradingClass, multiplier, conIdBase, dailyVolume } = spec.futures;
  const listings: Listing[] = [];
  const date = new Date(today);
  let year = date.getUTCFullYear();
  let month = Math.floor(date.getUTCMonth() / 3) * 3 + 2;
  while (listings.length < 2) {
    const expiry = thirdFriday(year, month);
    if (expiry >= today) {
      const contractMonth = `${year}${String(month + 1).padStart(2, '0')}`;
      listings.push({
        instrument: {
          conId: conIdBase + year * 100 + month + 1,
          symbol: spec.symbol,
          secType: 'FUT',
          exchange: 'EUREX',
          primaryExchange: 'EUREX',
          currency: 'EUR',
          localSymbol: `${tradingClass} ${FUTURE_MONTH_CODES[month] ?? ''}${year % 10}`,
          tradingClass,
          multiplier,
          minTick: 1,
          longName: spec.longName,
          industry: '',
          category: '',
          marketName: tradingClass,
          lastTradeDate: wallDate(expiry),
          contractMonth,
          underlyingConId: spec.conId,
          underlyingSymbol: spec.symbol,
          timeZoneId: calendar.timeZoneId,
          entitlement: 'realtime',
          validExchanges: ['EUREX'],
          orderTypes: DERIVATIVE_ORDER_TYPES,
          marketRuleIds: '1682',
        },
        calendar,
        price: { kind: 'future', path, expiryMs: fromWall('MET', expiry + 13 * 3_600_000) },
        volume: new VolumeCurve(
          seed,
          `${tradingClass}${contractMonth}`,
          volumeRate(calendar, listings.length === 0 ? dailyVolume : dailyVolume / 50),
        ),
        spreadFraction: 0,
        lot: 1,
        maxLots: 20,
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

interface CryptoSpec {
  conId: number;
  symbol: string;
  longName: string;
  price: number;
  volatility: number;
  minTick: number;
  dailyVolume: number;
}

const CRYPTOS: CryptoSpec[] = [
  {
    conId: 690_000_101,
    symbol: 'BTC',
    longName: 'Bitcoin',
    price: 95_000,
    volatility: 0.55,
    minTick: 0.25,
    dailyVolume: 400,
  },
  {
    conId: 690_000_102,
    symbol: 'ETH',
    longName: 'Ethereum',
    price: 3_400,
    volatility: 0.7,
    minTick: 0.05,
    dailyVolume: 6_000,
  },
];

/** A coin against USD on PAXOS (secType CRYPTO); quantities are in coins, fractions allowed by IB. */
function crypto(seed: number, spec: CryptoSpec): Listing {
  const calendar = calendarOf(Schedules.crypto);
  const instrument: Instrument = {
    conId: spec.conId,
    symbol: spec.symbol,
    secType: 'CRYPTO',
    exchange: 'PAXOS',
    primaryExchange: 'PAXOS',
    currency: 'USD',
    localSymbol: `${spec.symbol}.USD`,
    tradingClass: spec.symbol,
    multiplier: 1,
    minTick: spec.minTick,
    longName: spec.longName,
    industry: '',
    category: '',
    marketName: spec.symbol,
    timeZoneId: calendar.timeZoneId,
    entitlement: 'realtime',
    validExchanges: ['PAXOS'],
    orderTypes: FX_ORDER_TYPES,
    marketRuleIds: '2203',
  };
  return {
    instrument,
    calendar,
    price: {
      kind: 'path',
      path: new PricePath(
        seed,
        `${spec.symbol}.PAXOS`,
        spec.price,
        spec.volatility,
        tradingMsPerYear(calendar),
      ),
    },
    volume: new VolumeCurve(seed, `${spec.symbol}.PAXOS`, volumeRate(calendar, spec.dailyVolume)),
    spreadFraction: 0.0002,
    lot: 1,
    maxLots: 5,
  };
}

interface BondSpec {
  conId: number;
  terms: BondTerms;
  /** IB's description, as in descAppend: "T 4 3/8 11/30/30". */
  description: string;
  price: number;
}

/** US Treasuries by CUSIP-shaped symbols of the simulator's own (not real CUSIPs). */
const BONDS: BondSpec[] = [
  {
    conId: 690_000_201,
    description: 'T 4 3/8 11/30/30',
    price: 100.8,
    terms: {
      cusip: '91282CZS1',
      coupon: 4.375,
      maturity: '20301130',
      issueDate: '20231130',
      ratings: 'AA+',
      bondType: 'US T-NOTE',
      couponType: 'FIXED',
    },
  },
  {
    conId: 690_000_202,
    description: 'T 4 1/4 08/15/54',
    price: 95.2,
    terms: {
      cusip: '912810ZS2',
      coupon: 4.25,
      maturity: '20540815',
      issueDate: '20240815',
      ratings: 'AA+',
      bondType: 'US T-BOND',
      couponType: 'FIXED',
    },
  },
];

/** A Treasury on SMART, priced in percent of par; one bond is 1,000 of face (multiplier 10). */
function bond(seed: number, spec: BondSpec): Listing {
  const calendar = calendarOf(Schedules.usRegularOnly);
  const { cusip } = spec.terms;
  return {
    instrument: {
      conId: spec.conId,
      symbol: cusip,
      secType: 'BOND',
      exchange: 'SMART',
      primaryExchange: '',
      currency: 'USD',
      localSymbol: cusip,
      tradingClass: 'GOVT',
      multiplier: 10,
      minTick: 0.001,
      longName: spec.description,
      industry: 'Government',
      category: 'Sovereign',
      marketName: 'GOVT',
      timeZoneId: calendar.timeZoneId,
      entitlement: 'realtime',
      validExchanges: ['SMART'],
      orderTypes: DERIVATIVE_ORDER_TYPES,
      marketRuleIds: '1698',
      bond: spec.terms,
    },
    calendar,
    price: { kind: 'path', path: new PricePath(seed, cusip, spec.price, 0.06, tradingMsPerYear(calendar)) },
    volume: new VolumeCurve(seed, cusip, volumeRate(calendar, 5_000)),
    spreadFraction: 0.0004,
    lot: 10,
    maxLots: 50,
  };
}

/** The catalog's instruments that do not expire. */
export function catalogListings(seed: number): Listing[] {
  const core = new Set(US_STOCKS.map((spec) => spec.symbol));
  return [
    ...BROAD_US_STOCKS.filter((spec) => !core.has(spec.symbol)).map((spec) => usStock(seed, spec)),
    ...EUROPEAN_INDICES.map((spec) => europeanIndex(seed, spec)),
    ...CRYPTOS.map((spec) => crypto(seed, spec)),
    ...BONDS.map((spec) => bond(seed, spec)),
  ];
}

/** The catalog's futures listed on `today` (wall midnight ET; EUREX expiries fall on Frankfurt dates). */
export function catalogFutures(seed: number, today: number): Listing[] {
  const day = Math.floor(today / DAY) * DAY;
  return EUROPEAN_INDICES.flatMap((spec) => eurexFutures(seed, spec, day));
}
