import type { WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import type { Duration, DurationUnit } from './historical-request';
import type { Instrument } from './instrument';
import type { Market } from './market';
import { decimalsOf, roundTo } from './tick-rounding';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

/** The units a histogram period may name ("3 days", "1 weeks", ...), singular or plural, as IB spells them. */
const PERIOD_UNITS: Record<string, DurationUnit> = {
  sec: 'S',
  secs: 'S',
  second: 'S',
  seconds: 'S',
  day: 'D',
  days: 'D',
  week: 'W',
  weeks: 'W',
  month: 'M',
  months: 'M',
  year: 'Y',
  years: 'Y',
};

/** "<integer> <unit>": "3 days", "1 week", "1 weeks" (IBApiNext's spelling), "2 months", "1 year". */
export function parseHistogramPeriod(text: string): Duration | undefined {
  const match = /^(\d+)\s+([a-z]+)$/i.exec(text.trim());
  const unit = match?.[2] && PERIOD_UNITS[match[2].toLowerCase()];
  const count = Number(match?.[1]);
  if (!unit || !Number.isSafeInteger(count) || count <= 0) return undefined;
  return { count, unit };
}

/** The histogram is cut from one-minute bars: every session boundary of the universe lies on a whole minute. */
const CELL_MS = MINUTE;
/** The longest window the simulator's HMDS answers (a calendar month); longer ones: "Time length exceed max." */
export const MAX_HISTOGRAM_WINDOW_MS = 31 * 86_400_000;
/** At most this many price levels: wider ranges get wider buckets (1, 2 or 5 times a power of ten ticks). */
export const MAX_HISTOGRAM_BUCKETS = 100;

export interface HistogramBucket {
  /** The bucket's lowest price. */
  price: number;
  /** Trades at prices in [price, price + bucket width). */
  count: number;
}

/**
 * reqHistogramData: how many trades printed at each price level in [startMs, endMs). The simulator's tape
 * trades once a second while the contract trades (see TimeAndSales), so the counts add up to the trading
 * seconds of the window. Like IB's HMDS, which builds histograms from its stored bars rather than from
 * every tick, the price of each one-minute bar (its first trade) stands for all of its trades.
 */
export function histogram(
  market: Market,
  instrument: Instrument,
  startMs: number,
  endMs: number,
  regularHoursOnly: boolean,
): HistogramBucket[] {
  const from = Math.ceil(startMs / SECOND) * SECOND;
  const bars = market.bars(instrument.conId, from, endMs, CELL_MS, { regularHoursOnly });
  const trades: { price: number; count: number }[] = [];
  for (const bar of bars) {
    // Bars align to whole minutes (every zone is whole minutes from UTC); only the window cuts them.
    const cellEnd = Math.min((Math.floor(bar.start / CELL_MS) + 1) * CELL_MS, endMs);
    const count = Math.ceil(cellEnd / SECOND) - Math.ceil(bar.start / SECOND);
    if (count > 0) trades.push({ price: bar.open, count });
  }
  return buckets(trades, instrument.minTick);
}

/** Prices grouped into at most {@link MAX_HISTOGRAM_BUCKETS} levels of a round number of ticks, ascending. */
function buckets(trades: readonly { price: number; count: number }[], tick: number): HistogramBucket[] {
  if (trades.length === 0) return [];
  const units = trades.map(({ price }) => Math.round(price / tick));
  const lowest = units.reduce((low, unit) => Math.min(low, unit), Infinity);
  const highest = units.reduce((high, unit) => Math.max(high, unit), -Infinity);
  let step = 1;
  for (let power = 1; ; power *= 10) {
    const fitting = [1, 2, 5]
      .map((factor) => factor * power)
      .find((width) => Math.floor(highest / width) - Math.floor(lowest / width) < MAX_HISTOGRAM_BUCKETS);
    if (fitting !== undefined) {
      step = fitting;
      break;
    }
  }
  const decimals = decimalsOf(tick);
  const counts = new Map<number, number>();
  trades.forEach(({ count }, index) => {
    const bucket = Math.floor((units[index] ?? 0) / step) * step;
    counts.set(bucket, (counts.get(bucket) ?? 0) + count);
  });
  return [...counts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bucket, count]) => ({ price: roundTo(bucket * tick, decimals), count }));
}

/** HISTOGRAM_DATA: no version field; each entry a price and a (decimal) size, here the trade count. */
export function histogramDataMessage(reqId: number, entries: readonly HistogramBucket[]): WireValue[] {
  const fields: WireValue[] = [Reply.HISTOGRAM_DATA, reqId, entries.length];
  for (const entry of entries) fields.push(entry.price, entry.count);
  return fields;
}
