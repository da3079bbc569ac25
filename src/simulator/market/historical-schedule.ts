import type { WireValue } from '../protocol/framing';
import type { Instrument } from './instrument';
import type { Market } from './market';
import { toWall } from './trading-hours';
import { sessionsAround, type SessionSpan } from './trading-sessions';

const DAY = 86_400_000;

/** Server message id of HISTORICAL_SCHEDULE (the client's IN_MSG_ID); it exists from v165. */
export const HISTORICAL_SCHEDULE = 106;

/** One trading session of a schedule, with the trade date it belongs to (an FX session starts the evening before). */
export interface ScheduledSession extends SessionSpan {
  refDate: string;
}

/**
 * reqHistoricalData with whatToShow=SCHEDULE: the instrument's sessions (their regular hours with useRTH)
 * that overlap [startMs, endMs), oldest first, read from the same trading hours as its contract details.
 */
export function historicalSchedule(
  market: Market,
  instrument: Instrument,
  startMs: number,
  endMs: number,
  regularHoursOnly: boolean,
): ScheduledSession[] {
  const found = new Map<number, SessionSpan>();
  // sessionsAround covers the six days either side of its instant: step back through the window.
  for (let at = endMs; at > startMs - 6 * DAY; at -= 6 * DAY) {
    for (const span of sessionsAround(market, instrument, at, regularHoursOnly)) {
      if (span.end > startMs && span.start < endMs) found.set(span.start, span);
    }
  }
  return [...found.values()]
    .sort((a, b) => a.start - b.start)
    .map((span) => ({ ...span, refDate: wallText(instrument.timeZoneId, span.end - 1).slice(0, 8) }));
}

/**
 * HISTORICAL_SCHEDULE (no version): reqId, the schedule's start and end, its time zone, then each session's
 * start, end and reference (trade) date; times are "yyyyMMdd-HH:mm:ss" on the instrument's wall clock.
 */
export function historicalScheduleMessage(
  reqId: number,
  instrument: Instrument,
  sessions: readonly ScheduledSession[],
): WireValue[] {
  const zone = instrument.timeZoneId;
  const first = sessions[0];
  const last = sessions.at(-1);
  return [
    HISTORICAL_SCHEDULE,
    reqId,
    first ? wallText(zone, first.start) : '',
    last ? wallText(zone, last.end) : '',
    zone,
    sessions.length,
    ...sessions.flatMap((session) => [
      wallText(zone, session.start),
      wallText(zone, session.end),
      session.refDate,
    ]),
  ];
}

/** "20261124-09:30:00": an instant on a zone's wall clock, as IB writes schedule times. */
function wallText(zone: string, epochMs: number): string {
  const iso = new Date(toWall(zone, epochMs)).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 19)}`;
}
