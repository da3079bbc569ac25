import type { Instrument, Quote } from './instrument';
import { TickType } from './market-data-messages';
import { genericTicks, optionComputationTicks, type OptionTick, type OptionTickSource } from './option-ticks';

// What a market data stream reports, apart from when and to whom it is sent (market-data-feed).

/** What the ticks are read from. */
type TickSource = OptionTickSource;

/** Quotes already read in one publishing cycle, by conId and delay: streams of one instrument share them. */
export type QuoteCache = Map<string, Quote>;

/** Tick ids of one flavour of data: real-time or delayed. */
interface TickIds {
  bid: number;
  ask: number;
  last: number;
  bidSize: number;
  askSize: number;
  lastSize: number;
  high: number;
  low: number;
  volume: number;
  close: number;
  open: number;
  lastTimestamp: number;
  modelOption: number;
}

const REALTIME_TICKS: TickIds = {
  bid: TickType.BID,
  ask: TickType.ASK,
  last: TickType.LAST,
  bidSize: TickType.BID_SIZE,
  askSize: TickType.ASK_SIZE,
  lastSize: TickType.LAST_SIZE,
  high: TickType.HIGH,
  low: TickType.LOW,
  volume: TickType.VOLUME,
  close: TickType.CLOSE,
  open: TickType.OPEN,
  lastTimestamp: TickType.LAST_TIMESTAMP,
  modelOption: TickType.MODEL_OPTION,
};

const DELAYED_TICKS: TickIds = {
  bid: TickType.DELAYED_BID,
  ask: TickType.DELAYED_ASK,
  last: TickType.DELAYED_LAST,
  bidSize: TickType.DELAYED_BID_SIZE,
  askSize: TickType.DELAYED_ASK_SIZE,
  lastSize: TickType.DELAYED_LAST_SIZE,
  high: TickType.DELAYED_HIGH,
  low: TickType.DELAYED_LOW,
  volume: TickType.DELAYED_VOLUME,
  close: TickType.DELAYED_CLOSE,
  open: TickType.DELAYED_OPEN,
  lastTimestamp: TickType.DELAYED_LAST_TIMESTAMP,
  modelOption: TickType.DELAYED_MODEL_OPTION,
};

/** One value a stream reports; a price may carry the size of its side. */
export type Tick =
  | { kind: 'price'; type: number; price: number; sizeType?: number; size?: number }
  | { kind: 'size'; type: number; size: number }
  | { kind: 'string'; type: number; value: string }
  | OptionTick;

/** Every value a stream reports at `atMs` (15 minutes back for delayed data), from the price path. */
export function streamTicks(
  market: TickSource,
  instrument: Instrument,
  delayed: boolean,
  atMs: number,
  quotes: QuoteCache,
  generic: ReadonlySet<number> = new Set(),
): Tick[] {
  const ids = delayed ? DELAYED_TICKS : REALTIME_TICKS;
  const quote = quoteOf(market, instrument.conId, atMs, delayed, quotes);
  const hasBook = quote.bid >= 0 && quote.ask > 0;
  // FX has no trades on IDEALPRO and an index has no book: IB sends neither.
  const hasTrades = instrument.secType !== 'CASH';
  const hasVolume = hasTrades && instrument.secType !== 'IND';
  const ticks: Tick[] = [];
  if (hasBook) {
    ticks.push({
      kind: 'price',
      type: ids.bid,
      price: quote.bid,
      sizeType: ids.bidSize,
      size: quote.bidSize,
    });
    ticks.push({
      kind: 'price',
      type: ids.ask,
      price: quote.ask,
      sizeType: ids.askSize,
      size: quote.askSize,
    });
  }
  if (hasTrades && quote.last > 0) {
    const lastSize = hasVolume ? { sizeType: ids.lastSize, size: quote.lastSize } : {};
    ticks.push({ kind: 'price', type: ids.last, price: quote.last, ...lastSize });
  }
  for (const [type, price] of [
    [ids.high, quote.high],
    [ids.low, quote.low],
  ] as const) {
    if (price > 0) ticks.push({ kind: 'price', type, price });
  }
  if (hasVolume) ticks.push({ kind: 'size', type: ids.volume, size: quote.volume });
  if (quote.close > 0) ticks.push({ kind: 'price', type: ids.close, price: quote.close });
  if (quote.open > 0) ticks.push({ kind: 'price', type: ids.open, price: quote.open });
  if (hasTrades && quote.lastTime !== undefined) {
    ticks.push({
      kind: 'string',
      type: ids.lastTimestamp,
      value: String(Math.floor(quote.lastTime / 1000)),
    });
  }
  const spot = underlyingSpot(market, instrument, atMs, delayed, quotes);
  if (spot !== undefined) ticks.push(...optionComputationTicks(instrument, quote, spot, atMs, delayed));
  ticks.push(...genericTicks(market, instrument, generic, atMs));
  return ticks;
}

/** An option's underlying at its mid (the last price without a book) at the same instant. */
function underlyingSpot(
  market: TickSource,
  instrument: Instrument,
  atMs: number,
  delayed: boolean,
  quotes: QuoteCache,
): number | undefined {
  if (instrument.secType !== 'OPT' || instrument.underlyingConId === undefined) return undefined;
  if (!market.instrument(instrument.underlyingConId)) return undefined;
  const underlying = quoteOf(market, instrument.underlyingConId, atMs, delayed, quotes);
  return underlying.bid > 0 && underlying.ask > 0 ? (underlying.bid + underlying.ask) / 2 : underlying.last;
}

/** The quote of an instrument at `atMs`, read once per cycle (an option's underlying serves many options). */
function quoteOf(
  market: TickSource,
  conId: number,
  atMs: number,
  delayed: boolean,
  quotes: QuoteCache,
): Quote {
  const key = `${conId}:${delayed}`;
  let quote = quotes.get(key);
  if (!quote) {
    quote = market.quote(conId, atMs);
    quotes.set(key, quote);
  }
  return quote;
}
