import type { SimulatorClock } from '../control/simulator-clock';
import type { WireContract } from '../protocol/field-reader';
import { matchesContract } from './contract-matching';
import { gridOptions } from './option-grid';
import type { Entitlement, Instrument, PriceBar, Quote } from './instrument';
import { summarizeOptionChain, type OptionChainSummary } from './option-chain-summary';
import { unitHash } from './price-path';
import { ceilToTick, decimalsOf, floorToTick, roundTo, roundToTick } from './tick-rounding';
import { fromWall, toWall, wallDate, type Session } from './trading-hours';
import {
  blackScholes,
  easternDay,
  esFutures,
  futurePrice,
  OPTION_CHAINS,
  optionChain,
  staticListings,
  YEAR_MS,
  type Listing,
} from './universe';
import { catalogFutures, catalogListings } from './universe-catalog';

// Local bindings: hot loops must not look up the global `Math` (slow inside jest's vm contexts).
const { ceil, floor, log, max, min, round } = Math;

const SECOND = 1_000;
const MINUTE = 60_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** Session highs and lows, and bar highs and lows, are sampled on this grid (plus the bar's ends). */
const EXTREMES_GRID_MS = MINUTE;
/** Days covered by contract details' tradingHours and liquidHours. */
const HOURS_DAYS = 7;

export interface BarOptions {
  /** Only the liquid (regular) hours of each session, like IB's useRTH=1. */
  regularHoursOnly?: boolean;
}

interface SessionExtremes {
  sessionStart: number;
  /** Grid instants up to (excluding) this one are folded into high/low. */
  scannedUntil: number;
  high: number;
  low: number;
}

/**
 * The simulated market: a fixed universe of instruments whose prices follow seeded random walks on their
 * trading-time clocks, so that quotes, bars and fills agree with each other and repeat for a seed.
 */
export class Market {
  private readonly seed: number;
  private readonly clock: SimulatorClock;
  private readonly fixedListings: Listing[];
  /** Every listing ever created, including options that have since dropped out of the chain. */
  private readonly byConId = new Map<number, Listing>();
  /** What is listed on the clock's current New York date. */
  private current: { day: number; listings: readonly Listing[]; catalog: readonly Listing[] } | undefined;
  /** The catalog's fixed instruments (see universe-catalog): found by lookups, not in {@link instruments}. */
  private readonly catalogFixed: Listing[];
  /** Options created on request from the listed grid (see option-grid), found again by conId. */
  private readonly gridConIds = new Set<number>();
  private readonly entitlementBySymbol = new Map<string, Entitlement>();
  private readonly entitlementByConId = new Map<number, Entitlement>();
  private readonly extremes = new Map<number, SessionExtremes>();

  constructor(readonly options: { seed: number; clock: SimulatorClock }) {
    this.seed = options.seed;
    this.clock = options.clock;
    this.fixedListings = staticListings(this.seed);
    for (const listing of this.fixedListings) this.register(listing);
    this.catalogFixed = catalogListings(this.seed);
    for (const listing of this.catalogFixed) this.register(listing);
  }

  /** What a client can look up (contract details, symbol search): the core universe and the catalog. */
  lookupInstruments(): readonly Instrument[] {
    const core = this.instruments();
    return [...core, ...(this.current?.catalog ?? []).map((listing) => listing.instrument)];
  }

  /**
   * Every instrument of the core universe listed on the clock's current date (option chains and futures
   * roll with it); the catalog's instruments are in {@link lookupInstruments} only.
   */
  instruments(): readonly Instrument[] {
    return this.listed().map((listing) => listing.instrument);
  }

  instrument(conId: number): Instrument | undefined {
    this.listed();
    return this.byConId.get(conId)?.instrument;
  }

  /** Instruments matching a request's contract the way IB matches them (see contract-handlers). */
  resolve(contract: WireContract): Instrument[] {
    const listed = this.lookupInstruments().filter((instrument) => matchesContract(instrument, contract));
    if (listed.length > 0) return listed;
    const day = easternDay(this.clock.now());
    const synthesized = this.byConId.get(contract.conId)?.instrument;
    if (
      synthesized &&
      this.gridConIds.has(contract.conId) &&
      (synthesized.lastTradeDate ?? '') >= wallDate(day) &&
      matchesContract(synthesized, contract)
    )
      return [synthesized];
    // An option on the listed grid but outside today's chain summary is created when first asked for.
    const dayStart = fromWall('US/Eastern', day);
    const center = (conId: number): number | undefined => {
      const underlying = this.byConId.get(conId);
      return underlying ? this.midPrice(underlying, dayStart) : undefined;
    };
    const options = gridOptions(this.seed, contract, day, center).map((listing) => {
      const known = this.byConId.get(listing.instrument.conId) ?? listing;
      if (known === listing) this.register(listing);
      return known.instrument;
    });
    const matching = options.filter((instrument) => matchesContract(instrument, contract));
    for (const instrument of matching) this.gridConIds.add(instrument.conId);
    return matching;
  }

  /** Makes an instrument (by conId) or every instrument of a symbol real-time, delayed-only or unsubscribed. */
  setEntitlement(symbolOrConId: string | number, entitlement: Entitlement): void {
    if (typeof symbolOrConId === 'number') this.entitlementByConId.set(symbolOrConId, entitlement);
    else this.entitlementBySymbol.set(symbolOrConId.toUpperCase(), entitlement);
    for (const listing of this.byConId.values()) this.applyEntitlement(listing.instrument);
  }

  isTrading(conId: number, atMs = this.clock.now()): boolean {
    return this.listing(conId).calendar.isTrading(atMs);
  }

  /** Whether `atMs` falls in the instrument's regular (liquid) hours. */
  isRegularHours(conId: number, atMs = this.clock.now()): boolean {
    return this.listing(conId).calendar.isLiquid(atMs);
  }

  /** Contract details' tradingHours and liquidHours, for the days from the clock's date on. */
  tradingHours(conId: number, atMs = this.clock.now()): { tradingHours: string; liquidHours: string } {
    const calendar = this.listing(conId).calendar;
    return {
      tradingHours: calendar.hoursString(atMs, HOURS_DAYS, false),
      liquidHours: calendar.hoursString(atMs, HOURS_DAYS, true),
    };
  }

  /** The option chain of an underlying (by conId), or undefined when it has none. */
  optionChain(underlyingConId: number): OptionChainSummary | undefined {
    return summarizeOptionChain(this.instruments(), underlyingConId);
  }

  /** Security types of the derivatives listed on an instrument (for symbol samples): OPT, FUT. */
  derivativeSecTypes(underlying: Instrument): string[] {
    const types = new Set<string>();
    for (const instrument of this.lookupInstruments()) {
      if (instrument.underlyingConId === underlying.conId) types.add(instrument.secType);
    }
    return [...types].sort();
  }

  /**
   * The volume an average session has traded by `atMs` (of its session so far): what "hot by volume"
   * compares the actual volume with. 0 for instruments without trades.
   */
  averageVolume(conId: number, atMs = this.clock.now()): number {
    const listing = this.listing(conId);
    if (!listing.volume) return 0;
    const session = listing.calendar.currentOrLastSession(atMs);
    const calendar = listing.calendar;
    return listing.volume.average(
      calendar.activityTime(session.start),
      calendar.activityTime(min(atMs, session.end)),
    );
  }

  quote(conId: number, atMs = this.clock.now()): Quote {
    const listing = this.listing(conId);
    const { calendar } = listing;
    const marketOpen = calendar.isTrading(atMs);
    const lastTime = this.lastTradeTime(listing, atMs);
    const last = this.tradePrice(listing, lastTime);
    const session = calendar.currentOrLastSession(atMs);
    const { high, low } = this.sessionExtremes(listing, session, atMs, last);
    const open = this.tradePrice(listing, session.start);
    const previous = calendar.sessionBefore(session.start);
    const close = this.tradePrice(listing, this.lastTradeTime(listing, previous.end - 1));
    const volume = listing.volume ? this.volumeBetween(listing, session.start, min(atMs, session.end)) : 0;
    // While closed, the book stands still at its last state of the session.
    const bookTime = marketOpen ? atMs : lastTime;
    const second = floor(bookTime / SECOND);
    const sizeOf = (salt: number, maxLots: number): number =>
      listing.lot * (1 + floor(unitHash(this.seed, conId, second, salt) * maxLots));
    const common = { last, volume, open, high, low, close, time: atMs, marketOpen, lastTime };
    if (listing.lot === 0)
      return { ...common, bid: -1, ask: -1, bidSize: 0, askSize: 0, lastSize: 0, volume: 0 };
    const { bid, ask } = this.book(listing, bookTime);
    return {
      ...common,
      bid,
      ask,
      bidSize: sizeOf(1, listing.maxLots),
      askSize: sizeOf(2, listing.maxLots),
      lastSize:
        listing.lot *
        (1 + floor(unitHash(this.seed, conId, lastTime / SECOND, 3) * max(1, listing.maxLots / 4))),
    };
  }

  /**
   * OHLCV bars of `barMs` covering [startMs, endMs), only where the instrument trades (only its regular
   * hours when asked). Intraday bars align to the exchange's wall clock, so hourly bars start at 09:00,
   * 10:00... and the first regular-hours one at 09:30. Bars of a day or a week hold whole sessions
   * (grouped by trade date) and carry `tradeDate`. A bar cut by `endMs` closes at the price of `endMs`.
   */
  bars(conId: number, startMs: number, endMs: number, barMs: number, options: BarOptions = {}): PriceBar[] {
    if (barMs <= 0 || endMs <= startMs) return [];
    const listing = this.listing(conId);
    const intervals = this.tradingIntervals(listing, startMs, endMs, options.regularHoursOnly ?? false);
    const pieces = new Map<number, { start: number; end: number; tradeDate?: string }[]>();
    for (const interval of intervals) {
      if (barMs >= DAY) {
        const key =
          barMs >= WEEK ? floor((interval.tradeDay - 4 * DAY) / WEEK) : floor(interval.tradeDay / DAY);
        const list = pieces.get(key) ?? [];
        list.push({ start: interval.start, end: interval.end, tradeDate: wallDate(interval.tradeDay) });
        pieces.set(key, list);
        continue;
      }
      const zone = listing.calendar.timeZoneId;
      let bucketWall = floor(toWall(zone, interval.start) / barMs) * barMs;
      for (;;) {
        const bucketStart = fromWall(zone, bucketWall);
        const bucketEnd = fromWall(zone, bucketWall + barMs);
        if (bucketStart >= interval.end) break;
        const start = max(bucketStart, interval.start);
        const end = min(bucketEnd, interval.end);
        if (end > start) {
          const list = pieces.get(bucketWall) ?? [];
          list.push({ start, end });
          pieces.set(bucketWall, list);
        }
        bucketWall += barMs;
      }
    }
    return [...pieces.values()].map((parts) => this.bar(listing, parts, barMs));
  }

  // ---- Internals ----

  private listing(conId: number): Listing {
    this.listed();
    const listing = this.byConId.get(conId);
    if (!listing) throw new Error(`Unknown conId ${conId}`);
    return listing;
  }

  /** Fixed instruments plus today's futures and option chains. */
  private listed(): readonly Listing[] {
    const day = easternDay(this.clock.now());
    if (this.current?.day !== day) {
      const dayStart = fromWall('US/Eastern', day);
      const derivatives = esFutures(this.seed, day);
      OPTION_CHAINS.forEach((spec, index) => {
        const underlying = this.byConId.get(spec.underlyingConId);
        if (!underlying) return;
        // Strikes centre on the underlying's price at midnight, so the chain stays put all day.
        const center = this.midPrice(underlying, dayStart);
        derivatives.push(...optionChain(this.seed, index, spec, day, center));
      });
      // Contracts still listed from an earlier day keep their listing (and entitlement).
      const known = (listing: Listing): Listing => this.byConId.get(listing.instrument.conId) ?? listing;
      const listings = derivatives.map(known);
      const futures = catalogFutures(this.seed, day).map(known);
      for (const listing of [...listings, ...futures])
        if (!this.byConId.has(listing.instrument.conId)) this.register(listing);
      this.current = {
        day,
        listings: [...this.fixedListings, ...listings],
        catalog: [...this.catalogFixed, ...futures],
      };
    }
    return this.current.listings;
  }

  private register(listing: Listing): void {
    this.applyEntitlement(listing.instrument);
    this.byConId.set(listing.instrument.conId, listing);
  }

  private applyEntitlement(instrument: Instrument): void {
    instrument.entitlement =
      this.entitlementByConId.get(instrument.conId) ??
      this.entitlementBySymbol.get(instrument.symbol.toUpperCase()) ??
      'realtime';
  }

  /** Mid price at `atMs`; it stands still while the instrument does not trade. */
  private midPrice(listing: Listing, atMs: number): number {
    const { price, calendar } = listing;
    switch (price.kind) {
      case 'path':
        return price.path.at(calendar.tradingTime(atMs));
      case 'future':
        return futurePrice(price.path, calendar, price.expiryMs, atMs);
      case 'option': {
        const effective = min(calendar.lastTradingInstant(atMs), price.expiryMs);
        const underlying = this.byConId.get(price.underlyingConId);
        if (!underlying) throw new Error(`Option ${listing.instrument.conId} has no underlying`);
        const spot = this.midPrice(underlying, effective);
        const strike = listing.instrument.strike ?? spot;
        // A mild smile: out-of-the-money strikes trade at a higher implied volatility.
        const volatility = price.impliedVol * (1 + 2 * log(strike / spot) ** 2);
        const years = (price.expiryMs - effective) / YEAR_MS;
        return blackScholes(listing.instrument.right ?? 'C', spot, strike, years, volatility);
      }
    }
  }

  /** The time of the last trade at or before `atMs`: whole seconds, inside a session. */
  private lastTradeTime(listing: Listing, atMs: number): number {
    let effective = listing.calendar.lastTradingInstant(atMs);
    if (listing.price.kind === 'option') effective = min(effective, listing.price.expiryMs - 1);
    return floor(effective / SECOND) * SECOND;
  }

  /** What a trade at `atMs` prints: the mid rounded to the tick (options never below one tick). */
  private tradePrice(listing: Listing, atMs: number): number {
    const tick = listing.instrument.minTick;
    const price = roundToTick(this.midPrice(listing, atMs), tick);
    return listing.price.kind === 'option' ? max(tick, price) : price;
  }

  /** Bid and ask around the mid: at least one tick apart, a little wider now and then. */
  private book(listing: Listing, atMs: number): { bid: number; ask: number } {
    const tick = listing.instrument.minTick;
    const mid = this.midPrice(listing, atMs);
    const widening = 1 + unitHash(this.seed, listing.instrument.conId, floor(atMs / SECOND), 4);
    const halfSpread = max(tick / 2, (mid * listing.spreadFraction) / 2) * widening;
    const bid = max(0, floorToTick(mid - halfSpread, tick));
    const ask = max(bid + tick, ceilToTick(mid + halfSpread, tick));
    return { bid, ask: roundToTick(ask, tick) };
  }

  private volumeBetween(listing: Listing, fromMs: number, toMs: number): number {
    const curve = listing.volume;
    if (!curve || toMs <= fromMs) return 0;
    const calendar = listing.calendar;
    return curve.cumulative(calendar.activityTime(toMs)) - curve.cumulative(calendar.activityTime(fromMs));
  }

  /** High and low of a session up to `atMs`, sampled on the minute grid; cached as time moves on. */
  private sessionExtremes(
    listing: Listing,
    session: Session,
    atMs: number,
    last: number,
  ): { high: number; low: number } {
    const upTo = min(atMs, session.end);
    const conId = listing.instrument.conId;
    let state = this.extremes.get(conId);
    if (!state || state.sessionStart !== session.start || state.scannedUntil > upTo + EXTREMES_GRID_MS) {
      const open = this.tradePrice(listing, session.start);
      state = { sessionStart: session.start, scannedUntil: session.start, high: open, low: open };
    }
    let grid = state.scannedUntil;
    for (; grid <= upTo; grid += EXTREMES_GRID_MS) {
      if (grid >= session.end) break;
      const price = this.tradePrice(listing, grid);
      state.high = max(state.high, price);
      state.low = min(state.low, price);
    }
    state.scannedUntil = grid;
    this.extremes.set(conId, state);
    return { high: max(state.high, last), low: min(state.low, last) };
  }

  /** Trading (or regular-hours) intervals inside [startMs, endMs), each with its session's trade day. */
  private tradingIntervals(
    listing: Listing,
    startMs: number,
    endMs: number,
    regularHoursOnly: boolean,
  ): { start: number; end: number; tradeDay: number }[] {
    const calendar = listing.calendar;
    const intervals: { start: number; end: number; tradeDay: number }[] = [];
    let session = calendar.sessionAt(startMs) ?? calendar.sessionAfter(startMs);
    while (session.start < endMs) {
      const from = regularHoursOnly ? session.liquidStart : session.start;
      const to = regularHoursOnly ? session.liquidEnd : session.end;
      const start = max(from, startMs);
      const end = min(to, endMs);
      const tradeDay = floor(toWall(calendar.timeZoneId, session.end - 1) / DAY) * DAY;
      if (end > start) intervals.push({ start, end, tradeDay });
      session = calendar.sessionAfter(session.start);
    }
    return intervals;
  }

  private bar(
    listing: Listing,
    parts: { start: number; end: number; tradeDate?: string }[],
    barMs: number,
  ): PriceBar {
    const first = parts[0];
    const lastPart = parts[parts.length - 1];
    if (!first || !lastPart) throw new Error('empty bar');
    const tick = listing.instrument.minTick;
    const open = this.tradePrice(listing, first.start);
    const close = this.tradePrice(listing, this.lastTradeTime(listing, lastPart.end));
    let high = max(open, close);
    let low = min(open, close);
    let sum = open + close;
    let samples = 2;
    // Daily and weekly bars sample a coarser grid: a year of them would otherwise take seconds.
    const step =
      barMs < EXTREMES_GRID_MS ? max(250, barMs / 4) : barMs >= DAY ? 5 * EXTREMES_GRID_MS : EXTREMES_GRID_MS;
    for (const part of parts) {
      for (let at = ceil(part.start / step) * step; at < part.end; at += step) {
        const price = this.tradePrice(listing, at);
        high = max(high, price);
        low = min(low, price);
        sum += price;
        samples++;
      }
    }
    const volume = parts.reduce(
      (total, part) => total + this.volumeBetween(listing, part.start, part.end),
      0,
    );
    const averageTrade = listing.lot * max(1, listing.maxLots / 8);
    return {
      start: first.start,
      open,
      high,
      low,
      close,
      volume,
      wap: roundTo(sum / samples, decimalsOf(tick) + 2),
      count: volume > 0 ? max(1, round(volume / averageTrade)) : 0,
      ...(first.tradeDate === undefined ? {} : { tradeDate: first.tradeDate }),
    };
  }
}
