import { zoneOffset } from './trading-hours';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Intraday bars are cut on the exchange's wall clock; day, week and month bars hold whole sessions. */
export type BarUnit = 'intraday' | 'day' | 'week' | 'month';

export interface BarSize {
  /** The setting as the client sent it ("5 mins"). */
  label: string;
  /** Nominal length (a month counts 30 days). */
  ms: number;
  unit: BarUnit;
}

/** IB's legal bar sizes; "1W" and "1M" are the spellings IB's own error text lists. */
const BAR_SIZES: Record<string, { ms: number; unit: BarUnit }> = {
  '1 secs': { ms: SECOND, unit: 'intraday' },
  '5 secs': { ms: 5 * SECOND, unit: 'intraday' },
  '10 secs': { ms: 10 * SECOND, unit: 'intraday' },
  '15 secs': { ms: 15 * SECOND, unit: 'intraday' },
  '30 secs': { ms: 30 * SECOND, unit: 'intraday' },
  '1 min': { ms: MINUTE, unit: 'intraday' },
  '2 mins': { ms: 2 * MINUTE, unit: 'intraday' },
  '3 mins': { ms: 3 * MINUTE, unit: 'intraday' },
  '5 mins': { ms: 5 * MINUTE, unit: 'intraday' },
  '10 mins': { ms: 10 * MINUTE, unit: 'intraday' },
  '15 mins': { ms: 15 * MINUTE, unit: 'intraday' },
  '20 mins': { ms: 20 * MINUTE, unit: 'intraday' },
  '30 mins': { ms: 30 * MINUTE, unit: 'intraday' },
  '1 hour': { ms: HOUR, unit: 'intraday' },
  '2 hours': { ms: 2 * HOUR, unit: 'intraday' },
  '3 hours': { ms: 3 * HOUR, unit: 'intraday' },
  '4 hours': { ms: 4 * HOUR, unit: 'intraday' },
  '8 hours': { ms: 8 * HOUR, unit: 'intraday' },
  '1 day': { ms: DAY, unit: 'day' },
  '1 week': { ms: WEEK, unit: 'week' },
  '1W': { ms: WEEK, unit: 'week' },
  '1 month': { ms: 30 * DAY, unit: 'month' },
  '1M': { ms: 30 * DAY, unit: 'month' },
};

export function parseBarSize(text: string): BarSize | undefined {
  const label = text.trim();
  const size = BAR_SIZES[label];
  return size && { label, ...size };
}

export type DurationUnit = 'S' | 'D' | 'W' | 'M' | 'Y';

export interface Duration {
  count: number;
  unit: DurationUnit;
}

/** "<integer> <S|D|W|M|Y>", as IB takes it. */
export function parseDuration(text: string): Duration | undefined {
  const match = /^(\d+)\s+([SDWMY])$/i.exec(text.trim());
  if (!match?.[1] || !match[2]) return undefined;
  const count = Number(match[1]);
  if (count <= 0) return undefined;
  return { count, unit: match[2].toUpperCase() as DurationUnit };
}

/** Nominal length of a duration in seconds (a month counts 30 days, a year 365), for IB's step rules. */
export function durationSeconds(duration: Duration): number {
  const perUnit: Record<DurationUnit, number> = {
    S: 1,
    D: 86_400,
    W: 7 * 86_400,
    M: 30 * 86_400,
    Y: 365 * 86_400,
  };
  return duration.count * perUnit[duration.unit];
}

/**
 * IB's step-size table: the smallest bar allowed for a duration ("Historical Data Limitations").
 * IB lifted the limits for bars of one minute and more, so only smaller bars are checked.
 */
export function smallestBarSeconds(durationSecs: number): number {
  if (durationSecs <= 1800) return 1;
  if (durationSecs <= 3600) return 5;
  if (durationSecs <= 14_400) return 10;
  if (durationSecs <= 28_800) return 30;
  return 60;
}

/** The simulated gateway's login time zone, used for end times without one (IB uses TWS's). */
export const LOGIN_TIME_ZONE = 'UTC';

/**
 * endDateTime: "" (now), "yyyyMMdd HH:mm:ss[ zone]" (the login zone when absent), "yyyyMMdd" (midnight)
 * or "yyyyMMdd-HH:mm:ss" (UTC). Returns epoch ms, or undefined when IB would answer 10314.
 */
export function parseEndDateTime(text: string, nowMs: number): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return nowMs;
  const utc = /^(\d{8})-(\d{2}):(\d{2}):(\d{2})$/.exec(trimmed);
  if (utc) return wallTime(utc[1], utc[2], utc[3], utc[4], 'UTC');
  const local = /^(\d{8})(?:\s+(\d{2}):(\d{2}):(\d{2}))?(?:\s+(\S+))?$/.exec(trimmed);
  if (!local) return undefined;
  return wallTime(
    local[1],
    local[2] ?? '00',
    local[3] ?? '00',
    local[4] ?? '00',
    local[5] ?? LOGIN_TIME_ZONE,
  );
}

function wallTime(
  date: string | undefined,
  hours: string | undefined,
  minutes: string | undefined,
  seconds: string | undefined,
  zone: string,
): number | undefined {
  if (!date) return undefined;
  const [year, month, day] = [Number(date.slice(0, 4)), Number(date.slice(4, 6)), Number(date.slice(6, 8))];
  const [h, m, s] = [Number(hours), Number(minutes), Number(seconds)];
  if (h > 23 || m > 59 || s > 59) return undefined;
  const wall = Date.UTC(year, month - 1, day, h, m, s);
  const check = new Date(wall);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  let offset: number;
  try {
    offset = zoneOffset(zone, wall);
    offset = zoneOffset(zone, wall - offset);
  } catch {
    return undefined; // not a time zone Intl knows
  }
  return wall - offset;
}

/** "yyyyMMdd HH:mm:ss zone" of an instant on a zone's wall clock, IB's formatDate=1 for intraday bars. */
export function formatZoned(epochMs: number, zone: string): string {
  const iso = new Date(epochMs + zoneOffset(zone, epochMs)).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)} ${iso.slice(11, 19)} ${zone}`;
}

/** IB's data types for bars, and the weight each has in the pacing count (BID_ASK counts twice). */
export const WHAT_TO_SHOW = { TRADES: 1, MIDPOINT: 1, BID: 1, ASK: 1, BID_ASK: 2 } as const;
export type WhatToShow = keyof typeof WHAT_TO_SHOW;

export function parseWhatToShow(text: string): WhatToShow | undefined {
  const upper = text.trim().toUpperCase();
  return upper in WHAT_TO_SHOW ? (upper as WhatToShow) : undefined;
}

export interface PacingRequest {
  /** Everything that makes two requests identical. */
  identity: string;
  /** Contract, exchange and data type: the scope of the six-in-two-seconds rule. */
  scope: string;
  weight: number;
}

/**
 * IB's historical data pacing: no identical request within 15 s, fewer than six requests for the same
 * contract, exchange and data type within 2 s, and at most 60 requests in 10 minutes. A violating
 * request is refused and not counted.
 */
export class HistoricalPacing {
  private readonly accepted: (PacingRequest & { at: number })[] = [];

  constructor(
    private readonly limits = {
      identicalMs: 15_000,
      burstMs: 2_000,
      burstMax: 5,
      windowMs: 600_000,
      windowMax: 60,
    },
  ) {}

  /** Records the request and returns true if it may run; false is a pacing violation. */
  admit(request: PacingRequest, nowMs: number): boolean {
    const { identicalMs, burstMs, burstMax, windowMs, windowMax } = this.limits;
    while (this.accepted.length > 0 && (this.accepted[0]?.at ?? nowMs) <= nowMs - windowMs)
      this.accepted.shift();
    let burst = 0;
    let window = 0;
    for (const earlier of this.accepted) {
      window += earlier.weight;
      if (earlier.at > nowMs - identicalMs && earlier.identity === request.identity) return false;
      if (earlier.at > nowMs - burstMs && earlier.scope === request.scope) burst += earlier.weight;
    }
    if (burst + request.weight > burstMax || window + request.weight > windowMax) return false;
    this.accepted.push({ ...request, at: nowMs });
    return true;
  }
}
