import type { ClientSession } from '../protocol/client-session';
import type { FieldReader, WireContract } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import type { Instrument, PriceBar } from './instrument';
import { roundToTick, type Market } from './market';
import {
  historicalDataMessage,
  historicalDataUpdateMessage,
  MarketCode,
  MarketText,
  type WireBar,
} from './market-data-messages';
import {
  durationSeconds,
  formatZoned,
  HistoricalPacing,
  parseBarSize,
  parseDuration,
  parseEndDateTime,
  parseWhatToShow,
  smallestBarSeconds,
  WHAT_TO_SHOW,
  type BarSize,
  type Duration,
  type WhatToShow,
} from './historical-request';
import { resolveRequestContract } from './request-contract';
import { fromWall, toWall, wallDate } from './trading-hours';

const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** Beyond this many bars a request is refused as too long, whatever the bar size. */
const MAX_BARS = 100_000;

export interface HistoricalDataOptions {
  /** How often keepUpToDate requests get the current bar; default 1000 ms. */
  barUpdateIntervalMs?: number;
}

/** A validated REQ_HISTORICAL_DATA. */
interface BarRequest {
  reqId: number;
  instrument: Instrument;
  endMs: number;
  duration: Duration;
  barSize: BarSize;
  whatToShow: WhatToShow;
  regularHoursOnly: boolean;
  formatDate: 1 | 2;
  keepUpToDate: boolean;
}

interface RawRequest {
  reqId: number;
  contract: WireContract;
  endDateTime: string;
  barSizeSetting: string;
  durationStr: string;
  useRth: boolean;
  whatToShow: string;
  formatDate: string;
  keepUpToDate: boolean;
}

class RequestRefused extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
    /** A pacing violation, counted by the control surface. */
    readonly pacing = false,
  ) {
    super(text);
  }
}

/**
 * reqHistoricalData: bars from the same price path as the live quotes, IB's validation and error texts,
 * IB's pacing rules, and keepUpToDate updates of the current bar until the request is cancelled.
 */
export class HistoricalDataService {
  private readonly pacing = new HistoricalPacing();
  private readonly live = new Map<ClientSession, Map<number, BarRequest>>();
  private readonly barUpdateIntervalMs: number;
  private violations = 0;
  private timer: NodeJS.Timeout | undefined;
  /** After IB's 1101 ("data lost") clients must resubscribe: keepUpToDate requests end too. */
  private readonly onSubscriptionsLost = (): void => this.live.clear();

  constructor(
    private readonly context: SimulatorContext,
    private readonly market: Market,
    options: HistoricalDataOptions = {},
  ) {
    this.barUpdateIntervalMs = options.barUpdateIntervalMs ?? 1000;
  }

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_HISTORICAL_DATA, (session, request) => this.request(session, readRequest(request)));
    server.on(Request.CANCEL_HISTORICAL_DATA, (session, request) => {
      request.skip(1); // version
      this.live.get(session)?.delete(request.int());
    });
    this.context.faults.on('subscriptions-lost', this.onSubscriptionsLost);
    this.timer = setInterval(() => this.sendUpdates(), this.barUpdateIntervalMs);
    this.timer.unref();
  }

  pacingViolations(): number {
    return this.violations;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.context.faults.off('subscriptions-lost', this.onSubscriptionsLost);
    this.live.clear();
  }

  private request(session: ClientSession, raw: RawRequest): void {
    let request: BarRequest;
    let start: number;
    let bars: PriceBar[];
    try {
      if (this.live.get(session)?.has(raw.reqId)) {
        throw new RequestRefused(MarketCode.ERROR_PROCESSING_REQUEST, MarketText.duplicateHistoricalTickerId);
      }
      request = this.validate(raw);
      this.pace(raw, request);
      start = this.windowStart(request);
      bars = this.bars(request, start);
      if (bars.length === 0 && !request.keepUpToDate) {
        throw new RequestRefused(
          MarketCode.HISTORICAL_DATA_SERVICE,
          MarketText.queryReturnedNoData(describe(request)),
        );
      }
    } catch (error) {
      if (!(error instanceof RequestRefused)) throw error;
      if (error.pacing) this.violations++;
      session.sendError(raw.reqId, error.code, error.text);
      return;
    }
    const zone = request.instrument.timeZoneId;
    session.send(
      historicalDataMessage(
        request.reqId,
        formatZoned(start, zone),
        formatZoned(request.endMs, zone),
        this.toWire(request, bars),
      ),
    );
    if (request.keepUpToDate) this.keepUpToDate(session, request);
  }

  private validate(raw: RawRequest): BarRequest {
    const resolved = resolveRequestContract(this.market, raw.contract);
    if ('error' in resolved) throw new RequestRefused(resolved.error.code, resolved.error.text);
    const instrument = resolved.instrument;
    const invalid = (text: string): RequestRefused =>
      new RequestRefused(MarketCode.ERROR_VALIDATING_REQUEST, text);
    const hmds = (text: string): RequestRefused =>
      new RequestRefused(MarketCode.HISTORICAL_DATA_SERVICE, text);
    const barSize = parseBarSize(raw.barSizeSetting);
    if (!barSize) throw invalid(MarketText.invalidBarSize);
    const duration = parseDuration(raw.durationStr);
    if (!duration) throw invalid(MarketText.invalidDuration(raw.durationStr));
    if (duration.unit === 'S' && duration.count > 86_400) {
      throw invalid(MarketText.durationMustBeInLargerUnit('86400 seconds', 'days'));
    }
    if (duration.unit === 'D' && duration.count > 365) {
      throw invalid(MarketText.durationMustBeInLargerUnit('365 days', 'years'));
    }
    const whatToShow = parseWhatToShow(raw.whatToShow);
    if (!whatToShow) throw invalid(MarketText.invalidWhatToShow(raw.whatToShow));
    if (raw.formatDate !== '1' && raw.formatDate !== '2') {
      throw invalid(MarketText.invalidFormatDate(raw.formatDate));
    }
    const endMs = raw.keepUpToDate
      ? this.context.clock.now()
      : parseEndDateTime(raw.endDateTime, this.context.clock.now());
    if (endMs === undefined) throw new RequestRefused(MarketCode.INVALID_END_DATE, MarketText.invalidEndDate);
    const seconds = durationSeconds(duration);
    const barSeconds = barSize.ms / 1000;
    if (barSeconds < smallestBarSeconds(seconds)) throw hmds(MarketText.invalidStep(barSeconds));
    if (seconds / barSeconds > MAX_BARS) throw hmds(MarketText.timeLengthExceedsMax);
    if (instrument.entitlement === 'none') {
      throw hmds(
        MarketText.noPermissions(instrument.primaryExchange || instrument.exchange, instrument.secType),
      );
    }
    const request: BarRequest = {
      reqId: raw.reqId,
      instrument,
      endMs,
      duration,
      barSize,
      whatToShow,
      regularHoursOnly: raw.useRth,
      formatDate: raw.formatDate === '1' ? 1 : 2,
      keepUpToDate: raw.keepUpToDate,
    };
    // IDEALPRO prints no trades, so FX has no TRADES bars.
    if (instrument.secType === 'CASH' && whatToShow === 'TRADES') {
      throw hmds(MarketText.noHistoricalData(describe(request)));
    }
    return request;
  }

  private pace(raw: RawRequest, request: BarRequest): void {
    const conId = request.instrument.conId;
    const admitted = this.pacing.admit(
      {
        identity: [
          conId,
          raw.contract.exchange,
          raw.endDateTime,
          raw.durationStr,
          raw.barSizeSetting,
          raw.whatToShow,
          raw.useRth,
          raw.formatDate,
          raw.keepUpToDate,
        ].join('|'),
        scope: [conId, raw.contract.exchange, request.whatToShow].join('|'),
        weight: WHAT_TO_SHOW[request.whatToShow],
      },
      Date.now(),
    );
    if (!admitted)
      throw new RequestRefused(MarketCode.HISTORICAL_DATA_SERVICE, MarketText.pacingViolation, true);
  }

  // ---- Bars ----

  /** Where the requested window starts: N sessions back for "N D", calendar time otherwise. */
  private windowStart(request: BarRequest): number {
    const { duration, endMs, instrument } = request;
    const end = new Date(endMs);
    switch (duration.unit) {
      case 'S':
        return endMs - duration.count * 1000;
      case 'D': {
        const sessions = this.sessionsBefore(instrument, endMs, duration.count, request.regularHoursOnly);
        return sessions[0]?.start ?? endMs - duration.count * DAY;
      }
      case 'W':
        return endMs - duration.count * WEEK;
      case 'M':
        return Date.UTC(
          end.getUTCFullYear(),
          end.getUTCMonth() - duration.count,
          end.getUTCDate(),
          end.getUTCHours(),
          end.getUTCMinutes(),
          end.getUTCSeconds(),
        );
      case 'Y':
        return Date.UTC(
          end.getUTCFullYear() - duration.count,
          end.getUTCMonth(),
          end.getUTCDate(),
          end.getUTCHours(),
          end.getUTCMinutes(),
          end.getUTCSeconds(),
        );
    }
  }

  private bars(request: BarRequest, startMs: number): PriceBar[] {
    const { instrument, barSize, endMs } = request;
    const conId = instrument.conId;
    const options = { regularHoursOnly: request.regularHoursOnly };
    const zone = instrument.timeZoneId;
    // A window opening in the middle of a session starts on the next whole bar (or, for days, the next day).
    const midSession = request.regularHoursOnly
      ? this.market.isRegularHours(conId, startMs - 1) && this.market.isRegularHours(conId, startMs)
      : this.market.isTrading(conId, startMs - 1) && this.market.isTrading(conId, startMs);
    if (barSize.unit === 'intraday') {
      const wall = toWall(zone, startMs);
      const aligned = midSession ? fromWall(zone, Math.ceil(wall / barSize.ms) * barSize.ms) : startMs;
      return this.market.bars(conId, aligned, endMs, barSize.ms, options);
    }
    const daily = this.market.bars(conId, startMs, endMs, barSize.unit === 'week' ? WEEK : DAY, options);
    const whole = midSession && barSize.unit === 'day' ? daily.slice(1) : daily;
    return barSize.unit === 'month' ? monthlyBars(whole) : whole;
  }

  /** The last `count` sessions (or their regular hours) starting before `endMs`, oldest first. */
  private sessionsBefore(
    instrument: Instrument,
    endMs: number,
    count: number,
    regularHoursOnly: boolean,
  ): { start: number; end: number }[] {
    const zone = instrument.timeZoneId;
    const found = new Map<number, { start: number; end: number }>();
    // tradingHours lists 7 days from a date on; walk back a week at a time (a year of sessions at most).
    for (let cursor = endMs - 6 * DAY, weeks = 0; weeks < 60; cursor -= WEEK, weeks++) {
      const hours = this.market.tradingHours(instrument.conId, cursor);
      for (const part of (regularHoursOnly ? hours.liquidHours : hours.tradingHours).split(';')) {
        const match = /^(\d{8}):(\d{4})-(\d{8}):(\d{4})$/.exec(part);
        if (!match?.[1] || !match[2] || !match[3] || !match[4]) continue;
        const start = fromWall(zone, wallOf(match[1], match[2]));
        const end = fromWall(zone, wallOf(match[3], match[4]));
        if (start < endMs) found.set(start, { start, end });
      }
      if (found.size >= count) break;
    }
    return [...found.values()].sort((a, b) => a.start - b.start).slice(-count);
  }

  /** Bars as IB reports each data type; bid and ask are the trade path shifted by the current half spread. */
  private toWire(request: BarRequest, bars: readonly PriceBar[]): WireBar[] {
    const { instrument, whatToShow } = request;
    const tick = instrument.minTick;
    let half = 0;
    if (whatToShow === 'BID' || whatToShow === 'ASK' || whatToShow === 'BID_ASK') {
      const quote = this.market.quote(instrument.conId, request.endMs);
      half = quote.bid > 0 && quote.ask > 0 ? (quote.ask - quote.bid) / 2 : 0;
    }
    const price = (value: number, shift: number): number => roundToTick(value + shift, tick);
    const noVolume = { volume: -1, wap: -1, count: -1 };
    return bars.map((bar) => {
      const date = this.barDate(request, bar);
      switch (whatToShow) {
        case 'TRADES':
          // An index prints values, not trades: it has no volume.
          return instrument.secType === 'IND'
            ? { date, open: bar.open, high: bar.high, low: bar.low, close: bar.close, ...noVolume }
            : {
                date,
                open: bar.open,
                high: bar.high,
                low: bar.low,
                close: bar.close,
                volume: bar.volume,
                wap: bar.wap,
                count: bar.count,
              };
        case 'MIDPOINT':
          return { date, open: bar.open, high: bar.high, low: bar.low, close: bar.close, ...noVolume };
        case 'BID':
        case 'ASK': {
          const shift = whatToShow === 'BID' ? -half : half;
          const [open, high, low, close] = [bar.open, bar.high, bar.low, bar.close].map((value) =>
            price(value, shift),
          );
          return { date, open: open ?? 0, high: high ?? 0, low: low ?? 0, close: close ?? 0, ...noVolume };
        }
        case 'BID_ASK':
          // IB's BID_ASK bar: time-average bid, highest ask, lowest bid, time-average ask.
          return {
            date,
            open: price(bar.wap, -half),
            high: price(bar.high, half),
            low: price(bar.low, -half),
            close: price(bar.wap, half),
            ...noVolume,
          };
      }
    });
  }

  /** Intraday: "yyyyMMdd HH:mm:ss zone" (formatDate 1) or epoch seconds (2); longer bars: "yyyyMMdd" always. */
  private barDate(request: BarRequest, bar: PriceBar): string {
    const zone = request.instrument.timeZoneId;
    if (request.barSize.unit !== 'intraday') return bar.tradeDate ?? wallDate(toWall(zone, bar.start));
    return request.formatDate === 2 ? String(Math.floor(bar.start / 1000)) : formatZoned(bar.start, zone);
  }

  // ---- keepUpToDate ----

  private keepUpToDate(session: ClientSession, request: BarRequest): void {
    let requests = this.live.get(session);
    if (!requests) {
      const created = new Map<number, BarRequest>();
      requests = created;
      this.live.set(session, created);
      session.onClose(() => this.live.delete(session));
    }
    requests.set(request.reqId, request);
  }

  /** The bar in progress, for every live request whose market trades and whose data flows. */
  private sendUpdates(): void {
    if (!this.context.faults.marketDataFlowing) return;
    const now = this.context.clock.now();
    for (const [session, requests] of this.live) {
      for (const request of requests.values()) {
        const conId = request.instrument.conId;
        const open = request.regularHoursOnly
          ? this.market.isRegularHours(conId, now)
          : this.market.isTrading(conId, now);
        if (!open) continue;
        const current = { ...request, endMs: now };
        const bar = this.bars(current, this.currentBarStart(current)).at(-1);
        const wire = bar && this.toWire(current, [bar])[0];
        if (wire) session.send(historicalDataUpdateMessage(request.reqId, wire));
      }
    }
  }

  /** A window start from which the last bar computed is the one in progress at the request's end. */
  private currentBarStart(request: BarRequest): number {
    const { endMs, barSize, instrument } = request;
    switch (barSize.unit) {
      case 'intraday':
        return endMs - barSize.ms;
      case 'day':
        return this.sessionsBefore(instrument, endMs, 1, request.regularHoursOnly)[0]?.start ?? endMs - DAY;
      case 'week':
        return endMs - WEEK - DAY;
      case 'month':
        return endMs - 32 * DAY;
    }
  }
}

/** REQ_HISTORICAL_DATA at v193 (no version field): 23 fields for a plain contract. */
function readRequest(request: FieldReader): RawRequest {
  const reqId = request.int();
  const contract = request.contract();
  request.skip(1); // includeExpired
  const endDateTime = request.string();
  const barSizeSetting = request.string();
  const durationStr = request.string();
  const useRth = request.bool();
  const whatToShow = request.string();
  const formatDate = request.string();
  if (contract.secType.toUpperCase() === 'BAG') request.skip(4 * request.int());
  const keepUpToDate = request.bool();
  return {
    reqId,
    contract,
    endDateTime,
    barSizeSetting,
    durationStr,
    useRth,
    whatToShow,
    formatDate,
    keepUpToDate,
  };
}

/** Calendar months of daily bars. */
function monthlyBars(daily: readonly PriceBar[]): PriceBar[] {
  const months = new Map<string, PriceBar[]>();
  for (const bar of daily) {
    const key = (bar.tradeDate ?? '').slice(0, 6);
    const list = months.get(key) ?? [];
    list.push(bar);
    months.set(key, list);
  }
  return [...months.values()].map((bars) => {
    const first = bars[0];
    const last = bars[bars.length - 1];
    if (!first || !last) throw new Error('empty month');
    const volume = bars.reduce((sum, bar) => sum + bar.volume, 0);
    const weighted = bars.reduce((sum, bar) => sum + bar.wap * bar.volume, 0);
    return {
      start: first.start,
      open: first.open,
      high: Math.max(...bars.map((bar) => bar.high)),
      low: Math.min(...bars.map((bar) => bar.low)),
      close: last.close,
      volume,
      wap: volume > 0 ? Number((weighted / volume).toFixed(6)) : first.wap,
      count: bars.reduce((sum, bar) => sum + bar.count, 0),
      ...(first.tradeDate === undefined ? {} : { tradeDate: first.tradeDate }),
    };
  });
}

/** How IB's HMDS names a request in its errors: "EUR/CASH@FXSUBPIP Last 1d", "AAPL@SMART Trades 60". */
function describe(request: BarRequest): string {
  const { instrument, barSize, whatToShow } = request;
  const seconds = barSize.ms / 1000;
  const step = barSize.unit === 'intraday' ? String(seconds) : `1${barSize.unit[0] ?? 'd'}`;
  if (instrument.secType === 'CASH') {
    const kind = whatToShow === 'TRADES' ? 'Last' : whatToShow.charAt(0) + whatToShow.slice(1).toLowerCase();
    return `${instrument.symbol}/CASH@FXSUBPIP ${kind} ${step}`;
  }
  const kind = whatToShow === 'TRADES' ? 'Trades' : whatToShow.charAt(0) + whatToShow.slice(1).toLowerCase();
  return `${instrument.localSymbol}@${instrument.exchange} ${kind} ${step}`;
}

function wallOf(date: string, hhmm: string): number {
  return Date.UTC(
    Number(date.slice(0, 4)),
    Number(date.slice(4, 6)) - 1,
    Number(date.slice(6, 8)),
    Number(hhmm.slice(0, 2)),
    Number(hhmm.slice(2, 4)),
  );
}
