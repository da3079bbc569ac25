import type { WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import { decimalSize } from '../protocol/messages';
import type { Instrument } from './instrument';
import type { Market } from './market';
import { unitHash } from './price-path';
import { decimalsOf, roundTo } from './tick-rounding';
import { sessionBefore, sessionFrom } from './trading-sessions';

const SECOND = 1_000;

/** IB's Time & Sales kinds (reqHistoricalTicks' whatToShow) and the data names its errors use. */
export const TICK_KINDS = { TRADES: 'Last', BID_ASK: 'BidAsk', MIDPOINT: 'MidPoint' } as const;
export type TickKind = keyof typeof TICK_KINDS;

export function parseTickKind(text: string): TickKind | undefined {
  const upper = text.trim().toUpperCase();
  return upper in TICK_KINDS ? (upper as TickKind) : undefined;
}

/** IB's documented limit of reqHistoricalTicks' numberOfTicks. */
export const MAX_HISTORICAL_TICKS = 1000;
/** The simulator's HMDS answers in frames of this many ticks; each but the last says done=0. */
export const TICKS_PER_MESSAGE = 500;

/** Where the trades of a SMART-routed stock print (one venue per trade, hashed). */
const STOCK_VENUES = ['NASDAQ', 'NYSE', 'ARCA', 'BATS', 'IEX', 'EDGX', 'FINRA'] as const;

/** A validated REQ_HISTORICAL_TICKS: exactly one of start and end (epoch ms). */
export interface TickRequest {
  instrument: Instrument;
  kind: TickKind;
  startMs: number | undefined;
  endMs: number | undefined;
  count: number;
  regularHoursOnly: boolean;
  ignoreSize: boolean;
}

export interface TradeTick {
  /** Epoch seconds. */
  time: number;
  price: number;
  size: number;
  exchange: string;
  specialConditions: string;
  pastLimit: boolean;
  unreported: boolean;
}

export interface BidAskTick {
  time: number;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  bidPastLow: boolean;
  askPastHigh: boolean;
}

export interface MidpointTick {
  time: number;
  price: number;
}

export type TicksAnswer =
  | { kind: 'TRADES'; ticks: TradeTick[] }
  | { kind: 'BID_ASK'; ticks: BidAskTick[] }
  | { kind: 'MIDPOINT'; ticks: MidpointTick[] };

/**
 * The simulator's Time & Sales tape, cut from the same price path as the live quotes: while the contract
 * trades, every whole second holds one trade (the quote's last price and size at that second) and one
 * top-of-book quote (its bid, ask and sizes there). Like IB, one request never spans two sessions, and no
 * tick lies in the future or before the contract's head timestamp.
 */
export class TimeAndSales {
  constructor(private readonly market: Market) {}

  /** The whole seconds (epoch ms) a request covers, oldest first. */
  seconds(request: TickRequest, nowMs: number, headMs: number): number[] {
    const lastTrade = Math.floor(nowMs / SECOND) * SECOND;
    const { instrument, regularHoursOnly, count } = request;
    let from: number;
    let to: number; // exclusive
    if (request.startMs !== undefined) {
      const start = Math.max(request.startMs, headMs);
      const session = sessionFrom(this.market, instrument, start, regularHoursOnly);
      if (!session) return [];
      from = ceilSecond(Math.max(session.start, start));
      to = Math.min(session.end, lastTrade + SECOND, from + count * SECOND);
    } else {
      const end = Math.min(request.endMs ?? nowMs, lastTrade + SECOND);
      const session = sessionBefore(this.market, instrument, end, regularHoursOnly);
      if (!session) return [];
      to = Math.min(session.end, ceilSecond(end));
      from = Math.max(ceilSecond(Math.max(session.start, headMs)), to - count * SECOND);
    }
    const seconds: number[] = [];
    for (let at = from; at < to; at += SECOND) seconds.push(at);
    return seconds;
  }

  ticks(request: TickRequest, seconds: readonly number[]): TicksAnswer {
    const { instrument } = request;
    const conId = instrument.conId;
    switch (request.kind) {
      case 'TRADES':
        return {
          kind: 'TRADES',
          ticks: seconds.map((at) => {
            const quote = this.market.quote(conId, at);
            return {
              time: at / SECOND,
              price: quote.last,
              size: quote.lastSize,
              exchange: this.venue(instrument, at),
              specialConditions: '',
              pastLimit: false,
              unreported: false,
            };
          }),
        };
      case 'BID_ASK': {
        const ticks: BidAskTick[] = [];
        for (const at of seconds) {
          const { bid, ask, bidSize, askSize } = this.market.quote(conId, at);
          const previous = ticks.at(-1);
          // ignoreSize leaves out the updates that change only sizes.
          if (request.ignoreSize && previous?.bid === bid && previous.ask === ask) continue;
          ticks.push({
            time: at / SECOND,
            bid,
            ask,
            bidSize,
            askSize,
            bidPastLow: false,
            askPastHigh: false,
          });
        }
        return { kind: 'BID_ASK', ticks };
      }
      case 'MIDPOINT': {
        const decimals = decimalsOf(instrument.minTick) + 1;
        return {
          kind: 'MIDPOINT',
          ticks: seconds.map((at) => {
            const { bid, ask } = this.market.quote(conId, at);
            return { time: at / SECOND, price: roundTo((bid + ask) / 2, decimals) };
          }),
        };
      }
    }
  }

  /** The venue a trade printed on: SMART stocks spread over the US venues, everything else its exchange. */
  private venue(instrument: Instrument, atMs: number): string {
    if (instrument.secType !== 'STK' || instrument.exchange !== 'SMART') return instrument.exchange;
    const pick = unitHash(this.market.options.seed, instrument.conId, atMs / SECOND, 0x56454e55);
    return STOCK_VENUES[Math.floor(pick * STOCK_VENUES.length)] ?? instrument.primaryExchange;
  }
}

function ceilSecond(epochMs: number): number {
  return Math.ceil(epochMs / SECOND) * SECOND;
}

// ---- Wire ----

/** The answer in frames of {@link TICKS_PER_MESSAGE}; the last one (or the only, empty one) says done. */
export function historicalTicksMessages(reqId: number, answer: TicksAnswer): WireValue[][] {
  const frames: WireValue[][] = [];
  const total = answer.ticks.length;
  for (let offset = 0; offset === 0 || offset < total; offset += TICKS_PER_MESSAGE) {
    const done = offset + TICKS_PER_MESSAGE >= total;
    const fields = frameFields(answer, offset, offset + TICKS_PER_MESSAGE);
    const id = {
      TRADES: Reply.HISTORICAL_TICKS_LAST,
      BID_ASK: Reply.HISTORICAL_TICKS_BID_ASK,
      MIDPOINT: Reply.HISTORICAL_TICKS,
    }[answer.kind];
    frames.push([id, reqId, fields.count, ...fields.values, done]);
  }
  return frames;
}

/**
 * The ticks of one frame: HISTORICAL_TICKS_LAST, _BID_ASK and HISTORICAL_TICKS (no version field at any
 * version); sizes are decimals from v163, whole below it.
 */
function frameFields(answer: TicksAnswer, from: number, to: number): { count: number; values: WireValue[] } {
  const values: WireValue[] = [];
  switch (answer.kind) {
    case 'TRADES': {
      const ticks = answer.ticks.slice(from, to);
      for (const tick of ticks) {
        const mask = (tick.pastLimit ? 1 : 0) | (tick.unreported ? 2 : 0);
        values.push(
          tick.time,
          mask,
          tick.price,
          decimalSize(tick.size),
          tick.exchange,
          tick.specialConditions,
        );
      }
      return { count: ticks.length, values };
    }
    case 'BID_ASK': {
      const ticks = answer.ticks.slice(from, to);
      for (const tick of ticks) {
        const mask = (tick.bidPastLow ? 1 : 0) | (tick.askPastHigh ? 2 : 0);
        values.push(
          tick.time,
          mask,
          tick.bid,
          tick.ask,
          decimalSize(tick.bidSize),
          decimalSize(tick.askSize),
        );
      }
      return { count: ticks.length, values };
    }
    case 'MIDPOINT': {
      const ticks = answer.ticks.slice(from, to);
      // IB's midpoint ticks carry an unused field ("for consistency") and a size of 0.
      for (const tick of ticks) values.push(tick.time, 0, tick.price, 0);
      return { count: ticks.length, values };
    }
  }
}
