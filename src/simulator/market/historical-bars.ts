import { formatZoned, type BarSize, type Duration, type WhatToShow } from './historical-request';
import type { Instrument, PriceBar } from './instrument';
import type { Market } from './market';
import type { WireBar } from './market-data-messages';
import { roundToTick } from './tick-rounding';
import { fromWall, toWall, wallDate } from './trading-hours';

const DAY = 86_400_000;
const WEEK = 7 * DAY;

/** A validated REQ_HISTORICAL_DATA. */
export interface BarRequest {
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

/**
 * The bars of a request, cut from the same price path as the live quotes: where its window starts, the
 * bars in it (whole bars and sessions, as IB cuts them) and their wire form for each data type.
 */
export class HistoricalBarBuilder {
  constructor(private readonly market: Market) {}

  /** Where the requested window starts: N sessions back for "N D", calendar time otherwise. */
  windowStart(request: BarRequest): number {
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

  bars(request: BarRequest, startMs: number): PriceBar[] {
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
  toWire(request: BarRequest, bars: readonly PriceBar[]): WireBar[] {
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

  /** A window start from which the last bar computed is the one in progress at the request's end. */
  currentBarStart(request: BarRequest): number {
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

function wallOf(date: string, hhmm: string): number {
  return Date.UTC(
    Number(date.slice(0, 4)),
    Number(date.slice(4, 6)) - 1,
    Number(date.slice(6, 8)),
    Number(hhmm.slice(0, 2)),
    Number(hhmm.slice(2, 4)),
  );
}
