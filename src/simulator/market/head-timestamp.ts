import type { WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import type { WhatToShow } from './historical-request';
import type { Instrument } from './instrument';
import type { Market } from './market';
import { unitHash } from './price-path';
import { fromWall } from './trading-hours';
import { sessionBefore, sessionFrom } from './trading-sessions';

const DAY = 86_400_000;
/** Quotes (bid, ask, midpoint) are kept for a shorter time than trades: none before this date (wall clock). */
const QUOTE_HISTORY_START = Date.UTC(2004, 0, 2);
/** How long before its last trading day a derivative lists. */
const LISTED_BEFORE_EXPIRY_DAYS = { FUT: 730, OPT: 365 } as const;
/** The years a listing of each kind falls in (hashed per contract): [first, last]. */
const LISTING_YEARS = {
  STK: [1980, 2006],
  IND: [1983, 1995],
  CASH: [1995, 2005],
  CRYPTO: [2018, 2021],
  BOND: [2020, 2024],
} as const;

/**
 * The earliest data IB's HMDS holds for a contract and data type (reqHeadTimestamp): the first session (its
 * regular hours with useRTH) on or after the contract's listing day, which is deterministic per seed and
 * conId; quotes start no earlier than 2004. Undefined when the contract has no such data at all (FX prints
 * no trades; an index has no quotes). Never later than the last session at `nowMs`.
 */
export function headTimestampMs(
  market: Market,
  instrument: Instrument,
  whatToShow: WhatToShow,
  regularHoursOnly: boolean,
  nowMs: number,
): number | undefined {
  const trades = whatToShow === 'TRADES';
  if (trades && instrument.secType === 'CASH') return undefined;
  if (!trades && instrument.secType === 'IND') return undefined;
  const wallDay = trades
    ? listingDay(market, instrument)
    : Math.max(listingDay(market, instrument), QUOTE_HISTORY_START);
  // Midnight of that date where the contract trades: the first session ending after it is that day's.
  const day = Math.min(fromWall(instrument.timeZoneId, wallDay), nowMs);
  const first = sessionFrom(market, instrument, day, regularHoursOnly);
  if (first && first.start <= nowMs) return first.start;
  return sessionBefore(market, instrument, nowMs, regularHoursOnly)?.start;
}

/**
 * The listing date (as a wall-clock midnight) of a contract: hashed for the fixed universe, some time before
 * expiry for derivatives.
 */
function listingDay(market: Market, instrument: Instrument): number {
  const { secType } = instrument;
  if (secType === 'FUT' || secType === 'OPT') {
    const expiry = instrument.lastTradeDate ?? '';
    const expiryDay = Date.UTC(
      Number(expiry.slice(0, 4)),
      Number(expiry.slice(4, 6)) - 1,
      Number(expiry.slice(6, 8)),
    );
    return expiryDay - LISTED_BEFORE_EXPIRY_DAYS[secType] * DAY;
  }
  const [first, last] = LISTING_YEARS[secType === 'BAG' ? 'STK' : secType];
  const seed = market.options.seed;
  const year = first + Math.floor(unitHash(seed, instrument.conId, 0x48454144) * (last - first + 1));
  const dayOfYear = Math.floor(unitHash(seed, instrument.conId, 0x44415953) * 360);
  return Date.UTC(year, 0, 1) + dayOfYear * DAY;
}

/** IB's formatDate for head timestamps: 1 gives UTC "yyyyMMdd-HH:mm:ss", 2 epoch seconds. */
export function formatHeadTimestamp(epochMs: number, formatDate: 1 | 2): string {
  if (formatDate === 2) return String(Math.floor(epochMs / 1000));
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 19)}`;
}

/** HEAD_TIMESTAMP: no version field. */
export function headTimestampMessage(reqId: number, headTimestamp: string): WireValue[] {
  return [Reply.HEAD_TIMESTAMP, reqId, headTimestamp];
}
