import type { Histogram, HistoricalTick, HistoricalTicks } from './market-data.schemas';

/**
 * IB's Time & Sales ticks, head timestamps and histogram entries in the API's terms. The shapes below are
 * the ones IB's decoder fills (HistoricalTickLast, HistoricalTickBidAsk, HistoricalTick, HistogramEntry),
 * written out so that only the repository speaks @stoqey/ib.
 */

/** What historical ticks to ask for, in the API's words: exactly one of start and end (ISO 8601). */
export interface HistoricalTicksRequest {
  type: HistoricalTicks['type'];
  start: string | undefined;
  end: string | undefined;
  count: number;
  regularHoursOnly: boolean;
}

interface IbTradeTick {
  time?: number;
  tickAttribLast?: { pastLimit?: boolean; unreported?: boolean };
  price?: number;
  size?: number;
  exchange?: string;
  specialConditions?: string;
}

interface IbBidAskTick {
  time?: number;
  tickAttribBidAsk?: { bidPastLow?: boolean; askPastHigh?: boolean };
  priceBid?: number;
  priceAsk?: number;
  sizeBid?: number;
  sizeAsk?: number;
}

interface IbMidpointTick {
  time: number;
  price: number;
}

interface IbHistogramEntry {
  price?: number;
  size?: number;
}

/** A head timestamp as epoch seconds (formatDate 2), or IB's UTC "yyyyMMdd-HH:mm:ss" (formatDate 1). */
export function headTimestampMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d{9,}$/.test(trimmed)) return Number(trimmed) * 1000;
  const utc = /^(\d{4})(\d{2})(\d{2})[- ](\d{2}):(\d{2}):(\d{2})$/.exec(trimmed);
  if (!utc) return undefined;
  const [, year, month, day, hours, minutes, seconds] = utc.map(Number);
  return Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1, hours ?? 0, minutes ?? 0, seconds ?? 0);
}

/** IB's tick time (epoch seconds) as ISO 8601. */
function tickTime(time: number | undefined): string | undefined {
  return time === undefined || !Number.isFinite(time) ? undefined : new Date(time * 1000).toISOString();
}

/** A trade (TRADES); ticks IB sent without a time or price are left out. */
export function toTradeTick(tick: IbTradeTick): HistoricalTick[] {
  const time = tickTime(tick.time);
  if (time === undefined || tick.price === undefined) return [];
  return [
    {
      time,
      price: tick.price,
      size: tick.size ?? null,
      exchange: tick.exchange ?? '',
      specialConditions: (tick.specialConditions ?? '').trim(),
      pastLimit: tick.tickAttribLast?.pastLimit ?? false,
      unreported: tick.tickAttribLast?.unreported ?? false,
    },
  ];
}

/** A top-of-book quote (BID_ASK). */
export function toBidAskTick(tick: IbBidAskTick): HistoricalTick[] {
  const time = tickTime(tick.time);
  if (time === undefined || tick.priceBid === undefined || tick.priceAsk === undefined) return [];
  return [
    {
      time,
      bid: tick.priceBid,
      ask: tick.priceAsk,
      bidSize: tick.sizeBid ?? null,
      askSize: tick.sizeAsk ?? null,
      bidPastLow: tick.tickAttribBidAsk?.bidPastLow ?? false,
      askPastHigh: tick.tickAttribBidAsk?.askPastHigh ?? false,
    },
  ];
}

/** A midpoint (MIDPOINT); IB's size field is always 0 there and is left out. */
export function toMidpointTick(tick: IbMidpointTick): HistoricalTick[] {
  const time = tickTime(tick.time);
  return time === undefined || !Number.isFinite(tick.price) ? [] : [{ time, price: tick.price }];
}

/** A histogram entry: IB's "size" is the number of trades at the price. */
export function toBucket(entry: IbHistogramEntry): Histogram['buckets'] {
  return entry.price === undefined ? [] : [{ price: entry.price, count: entry.size ?? 0 }];
}
