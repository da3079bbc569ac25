import type { Instrument } from './instrument';
import type { Market } from './market';
import { fromWall } from './trading-hours';

const DAY = 86_400_000;

/** One session (or its regular hours) in epoch ms: [start, end). */
export interface SessionSpan {
  start: number;
  end: number;
}

/**
 * The sessions (or their regular hours) around `atMs`, oldest first, read from the contract's own
 * tradingHours and liquidHours: every session ending from six days before `atMs`'s date to six days after
 * it, so the one in progress, the last one before and the next one after are all there.
 */
export function sessionsAround(
  market: Market,
  instrument: Instrument,
  atMs: number,
  regularHoursOnly: boolean,
): SessionSpan[] {
  const found = new Map<number, SessionSpan>();
  for (const from of [atMs - 6 * DAY, atMs]) {
    const hours = market.tradingHours(instrument.conId, from);
    for (const span of parseHours(regularHoursOnly ? hours.liquidHours : hours.tradingHours, instrument)) {
      found.set(span.start, span);
    }
  }
  return [...found.values()].sort((a, b) => a.start - b.start);
}

/** The first session (or its regular hours) that ends after `atMs`: the one in progress or the next. */
export function sessionFrom(
  market: Market,
  instrument: Instrument,
  atMs: number,
  regularHoursOnly: boolean,
): SessionSpan | undefined {
  return sessionsAround(market, instrument, atMs, regularHoursOnly).find((span) => span.end > atMs);
}

/** The last session (or its regular hours) that starts before `atMs`: the one in progress or the last. */
export function sessionBefore(
  market: Market,
  instrument: Instrument,
  atMs: number,
  regularHoursOnly: boolean,
): SessionSpan | undefined {
  return sessionsAround(market, instrument, atMs, regularHoursOnly)
    .filter((span) => span.start < atMs)
    .at(-1);
}

/** IB's hours string, "20261123:0930-20261123:1600;20261128:CLOSED;...", on the contract's wall clock. */
function parseHours(hours: string, instrument: Instrument): SessionSpan[] {
  const spans: SessionSpan[] = [];
  for (const part of hours.split(';')) {
    const match = /^(\d{8}):(\d{4})-(\d{8}):(\d{4})$/.exec(part);
    if (!match?.[1] || !match[2] || !match[3] || !match[4]) continue;
    const start = fromWall(instrument.timeZoneId, wallOf(match[1], match[2]));
    const end = fromWall(instrument.timeZoneId, wallOf(match[3], match[4]));
    if (end > start) spans.push({ start, end });
  }
  return spans;
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
