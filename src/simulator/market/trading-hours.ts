// Local bindings: hot loops must not look up the global `Math` (slow inside jest's vm contexts).
const { floor, max, min, round } = Math;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** IB's time zone names mapped to IANA ones Intl understands. */
const IANA_ZONE: Record<string, string> = {
  'US/Eastern': 'America/New_York',
  'US/Central': 'America/Chicago',
  'America/Mexico_City': 'America/Mexico_City',
  MET: 'Europe/Berlin',
};

/** Milliseconds of wall-clock time: the local date and time written as if it were UTC. */
type WallMs = number;

/**
 * One weekly session, in wall-clock minutes from Sunday 00:00 of the instrument's zone. `end` may pass
 * into the next day (FX and futures open the evening before the trade date they belong to).
 */
export interface WeeklySession {
  start: number;
  end: number;
  /** Part of the session with regular (liquid) hours; absent when the whole session is liquid. */
  liquidStart?: number;
  liquidEnd?: number;
}

/** A weekly trading schedule in one time zone; no holidays. */
export interface TradingSchedule {
  /** IB's timeZoneId, e.g. "US/Eastern". */
  timeZoneId: string;
  sessions: WeeklySession[];
  /** Trading volume per minute outside liquid hours, relative to liquid hours. */
  extendedHoursActivity: number;
}

/** A concrete session in epoch ms. */
export interface Session {
  start: number;
  end: number;
  liquidStart: number;
  liquidEnd: number;
}

const at = (day: number, hour: number, minute = 0): number => day * 24 * 60 + hour * 60 + minute;
const weekdays = [1, 2, 3, 4, 5];

export const Schedules = {
  /** US stocks and ETFs: 04:00-20:00 with regular hours 09:30-16:00 ET, Monday to Friday. */
  usEquity: {
    timeZoneId: 'US/Eastern',
    extendedHoursActivity: 0.05,
    sessions: weekdays.map((day) => ({
      start: at(day, 4),
      end: at(day, 20),
      liquidStart: at(day, 9, 30),
      liquidEnd: at(day, 16),
    })),
  },
  /** US equity and index options, and the SPX index: 09:30-16:00 ET. */
  usRegularOnly: {
    timeZoneId: 'US/Eastern',
    extendedHoursActivity: 1,
    sessions: weekdays.map((day) => ({ start: at(day, 9, 30), end: at(day, 16) })),
  },
  /** IDEALPRO FX: Sunday 17:15 to Friday 17:00 ET with a daily 17:00-17:15 break. */
  fx: {
    timeZoneId: 'US/Eastern',
    extendedHoursActivity: 1,
    sessions: weekdays.map((day) => ({ start: at(day - 1, 17, 15), end: at(day, 17) })),
  },
  /** CME equity index futures: Sunday 17:00 to Friday 16:00 CT, daily break 16:00-17:00, RTH 08:30-15:00. */
  cmeEquityFutures: {
    timeZoneId: 'US/Central',
    extendedHoursActivity: 0.15,
    sessions: weekdays.map((day) => ({
      start: at(day - 1, 17),
      end: at(day, 16),
      liquidStart: at(day, 8, 30),
      liquidEnd: at(day, 15),
    })),
  },
  /** Bolsa Mexicana de Valores: 08:30-15:00 Mexico City. */
  mexico: {
    timeZoneId: 'America/Mexico_City',
    extendedHoursActivity: 1,
    sessions: weekdays.map((day) => ({ start: at(day, 8, 30), end: at(day, 15) })),
  },
  /** Xetra's DAX and Euro Stoxx 50 index calculation: 09:00-17:30 Frankfurt ("MET", as IB names it). */
  eurexIndex: {
    timeZoneId: 'MET',
    extendedHoursActivity: 1,
    sessions: weekdays.map((day) => ({ start: at(day, 9), end: at(day, 17, 30) })),
  },
  /** EUREX equity index futures (FDAX, FESX): 01:10-22:00 Frankfurt, regular hours 09:00-17:30. */
  eurexFutures: {
    timeZoneId: 'MET',
    extendedHoursActivity: 0.15,
    sessions: weekdays.map((day) => ({
      start: at(day, 1, 10),
      end: at(day, 22),
      liquidStart: at(day, 9),
      liquidEnd: at(day, 17, 30),
    })),
  },
  /** PAXOS crypto: every day of the week, around the clock but for a minute at midnight ET. */
  crypto: {
    timeZoneId: 'US/Eastern',
    extendedHoursActivity: 1,
    sessions: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ start: at(day, 0), end: at(day, 23, 59) })),
  },
} satisfies Record<string, TradingSchedule>;

const offsetCache = new Map<string, number>();
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of the zone from UTC at `epochMs` (wall = epoch + offset); cached per zone and quarter hour. */
export function zoneOffset(timeZoneId: string, epochMs: number): number {
  const bucket = floor(epochMs / (15 * MINUTE));
  const key = `${timeZoneId}|${bucket}`;
  const cached = offsetCache.get(key);
  if (cached !== undefined) return cached;
  let formatter = formatters.get(timeZoneId);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: IANA_ZONE[timeZoneId] ?? timeZoneId,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZoneId, formatter);
  }
  const bucketStart = bucket * 15 * MINUTE;
  const parts: Record<string, number> = {};
  for (const part of formatter.formatToParts(bucketStart)) parts[part.type] = Number(part.value);
  const wall = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  const offset = wall - bucketStart;
  if (offsetCache.size > 50_000) offsetCache.clear();
  offsetCache.set(key, offset);
  return offset;
}

export function toWall(timeZoneId: string, epochMs: number): WallMs {
  return epochMs + zoneOffset(timeZoneId, epochMs);
}

export function fromWall(timeZoneId: string, wall: WallMs): number {
  const guess = wall - zoneOffset(timeZoneId, wall);
  return wall - zoneOffset(timeZoneId, guess);
}

/** Sunday 00:00 (wall clock) of the week holding `wall`. 1970-01-04 was a Sunday. */
function weekStart(wall: WallMs): WallMs {
  const sunday = 3 * DAY;
  return floor((wall - sunday) / WEEK) * WEEK + sunday;
}

/** YYYYMMDD of a wall-clock instant. */
export function wallDate(wall: WallMs): string {
  return new Date(wall).toISOString().slice(0, 10).replaceAll('-', '');
}

function wallHhmm(wall: WallMs): string {
  const iso = new Date(wall).toISOString();
  return iso.slice(11, 13) + iso.slice(14, 16);
}

/**
 * Trading calendar of one schedule. Every DST switch falls on a weekend night when all schedules are
 * closed, so sessions never straddle one and weekly arithmetic on wall-clock time is exact.
 */
export class TradingCalendar {
  private readonly sessions: { start: number; end: number; liquidStart: number; liquidEnd: number }[];
  /** Weighted minutes of each session: liquid minutes count 1, extended ones `extendedHoursActivity`. */
  private readonly weeklyTradingMs: number;
  private readonly weeklyActivityMs: number;

  constructor(readonly schedule: TradingSchedule) {
    this.sessions = schedule.sessions.map((session) => ({
      start: session.start * MINUTE,
      end: session.end * MINUTE,
      liquidStart: (session.liquidStart ?? session.start) * MINUTE,
      liquidEnd: (session.liquidEnd ?? session.end) * MINUTE,
    }));
    this.weeklyTradingMs = this.sessions.reduce((sum, session) => sum + session.end - session.start, 0);
    this.weeklyActivityMs = this.sessions.reduce(
      (sum, session) => sum + this.activityWithin(session, session.end),
      0,
    );
  }

  get timeZoneId(): string {
    return this.schedule.timeZoneId;
  }

  /** Trading milliseconds in one week. */
  get tradingMsPerWeek(): number {
    return this.weeklyTradingMs;
  }

  /** Liquid-equivalent trading ms in one week (extended hours weighted by their activity). */
  get activityMsPerWeek(): number {
    return this.weeklyActivityMs;
  }

  isTrading(epochMs: number): boolean {
    return this.sessionAt(epochMs) !== undefined;
  }

  isLiquid(epochMs: number): boolean {
    const session = this.sessionAt(epochMs);
    return session !== undefined && epochMs >= session.liquidStart && epochMs < session.liquidEnd;
  }

  /** The session `epochMs` falls in, if trading. */
  sessionAt(epochMs: number): Session | undefined {
    const wall = toWall(this.timeZoneId, epochMs);
    const week = weekStart(wall);
    for (const offset of [0, -WEEK, WEEK]) {
      for (const session of this.sessions) {
        const start = week + offset + session.start;
        const end = week + offset + session.end;
        if (wall >= start && wall < end) return this.toEpoch(week + offset, session);
      }
    }
    return undefined;
  }

  /** The session in progress at `epochMs`, or else the last one that ended before it. */
  currentOrLastSession(epochMs: number): Session {
    return this.sessionAt(epochMs) ?? this.sessionBefore(epochMs);
  }

  /** The last session that ended at or before `epochMs`, ignoring one in progress. */
  sessionBefore(epochMs: number): Session {
    const wall = toWall(this.timeZoneId, epochMs);
    const week = weekStart(wall);
    let best: { week: number; index: number; end: number } | undefined;
    for (const offset of [0, -WEEK, -2 * WEEK]) {
      this.sessions.forEach((session, index) => {
        const end = week + offset + session.end;
        if (end <= wall && (!best || end > best.end)) best = { week: week + offset, index, end };
      });
    }
    if (!best) throw new Error('schedule has no sessions');
    const session = this.sessions[best.index];
    if (!session) throw new Error('schedule has no sessions');
    return this.toEpoch(best.week, session);
  }

  /** The first session starting after `epochMs`. */
  sessionAfter(epochMs: number): Session {
    const wall = toWall(this.timeZoneId, epochMs);
    const week = weekStart(wall);
    let best: { week: number; index: number; start: number } | undefined;
    for (const offset of [0, WEEK, 2 * WEEK]) {
      this.sessions.forEach((session, index) => {
        const start = week + offset + session.start;
        if (start > wall && (!best || start < best.start)) best = { week: week + offset, index, start };
      });
    }
    const session = best && this.sessions[best.index];
    if (!best || !session) throw new Error('schedule has no sessions');
    return this.toEpoch(best.week, session);
  }

  /** The latest instant at or before `epochMs` when the market traded (`epochMs` itself when open). */
  lastTradingInstant(epochMs: number): number {
    return this.isTrading(epochMs) ? epochMs : this.sessionBefore(epochMs).end - 1;
  }

  /**
   * Trading milliseconds since the epoch of the calendar (1970-01-04 wall clock) up to `epochMs`:
   * the clock the price path runs on, so prices stand still while the market is closed.
   */
  tradingTime(epochMs: number): number {
    return this.accumulate(
      epochMs,
      (session, upTo) => min(upTo, session.end) - session.start,
      this.weeklyTradingMs,
    );
  }

  /** Like {@link tradingTime} with extended hours weighted by their activity: the clock volume runs on. */
  activityTime(epochMs: number): number {
    return this.accumulate(
      epochMs,
      (session, upTo) => this.activityWithin(session, upTo),
      this.weeklyActivityMs,
    );
  }

  /**
   * IB's tradingHours (or liquidHours) string for the calendar days from `fromEpochMs` on:
   * "20261123:0400-20261123:2000;20261128:CLOSED;...". A session belongs to the day it ends on.
   */
  hoursString(fromEpochMs: number, days: number, liquid: boolean): string {
    const firstDay = floor(toWall(this.timeZoneId, fromEpochMs) / DAY) * DAY;
    const parts: string[] = [];
    for (let day = firstDay; day < firstDay + days * DAY; day += DAY) {
      const week = weekStart(day);
      const ofDay = this.sessions.filter((session) => {
        const end = week + session.end;
        return end > day && end <= day + DAY;
      });
      if (ofDay.length === 0) parts.push(`${wallDate(day)}:CLOSED`);
      for (const session of ofDay) {
        const start = week + (liquid ? session.liquidStart : session.start);
        const end = week + (liquid ? session.liquidEnd : session.end);
        parts.push(`${wallDate(start)}:${wallHhmm(start)}-${wallDate(end)}:${wallHhmm(end)}`);
      }
    }
    return parts.join(';');
  }

  private activityWithin(
    session: { start: number; liquidStart: number; liquidEnd: number },
    upTo: number,
  ): number {
    const extended = this.schedule.extendedHoursActivity;
    const before = max(0, min(upTo, session.liquidStart) - session.start);
    const liquid = max(0, min(upTo, session.liquidEnd) - session.liquidStart);
    const after = max(0, upTo - session.liquidEnd);
    return liquid + extended * (before + after);
  }

  private accumulate(
    epochMs: number,
    within: (
      session: { start: number; end: number; liquidStart: number; liquidEnd: number },
      upTo: number,
    ) => number,
    perWeek: number,
  ): number {
    const wall = toWall(this.timeZoneId, epochMs);
    const week = weekStart(wall);
    const weeks = round((week - 3 * DAY) / WEEK);
    let total = weeks * perWeek;
    const inWeek = wall - week;
    for (const session of this.sessions) {
      if (inWeek > session.start) total += within(session, min(inWeek, session.end));
    }
    return total;
  }

  private toEpoch(
    week: number,
    session: { start: number; end: number; liquidStart: number; liquidEnd: number },
  ): Session {
    const zone = this.timeZoneId;
    return {
      start: fromWall(zone, week + session.start),
      end: fromWall(zone, week + session.end),
      liquidStart: fromWall(zone, week + session.liquidStart),
      liquidEnd: fromWall(zone, week + session.liquidEnd),
    };
  }
}
