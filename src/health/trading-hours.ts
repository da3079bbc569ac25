import { DateTime } from 'luxon';

/** One trading session in epoch milliseconds: [start, end). */
export interface TradingSession {
  start: number;
  end: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A contract's trading hours as IB's contract details give them: an hours string for the next few days
 * ("20261123:0930-20261123:1600;20261128:CLOSED", or the pre-2018 form "20090507:0700-1830,1830-2330")
 * in the contract's time zone (timeZoneId). It only knows the days the string lists.
 */
export class TradingHours {
  private constructor(
    readonly timeZoneId: string,
    private readonly sessions: TradingSession[],
    /** The span the string speaks about: from the first listed day's start to the last one's end. */
    private readonly coveredFrom: number,
    private readonly coveredUntil: number,
  ) {}

  /** undefined when the string or the zone cannot be read (an unknown timeZoneId, a new format). */
  static parse(hours: string, timeZoneId: string): TradingHours | undefined {
    if (!DateTime.local().setZone(timeZoneId).isValid) return undefined;
    const sessions: TradingSession[] = [];
    let coveredFrom = Number.POSITIVE_INFINITY;
    let coveredUntil = Number.NEGATIVE_INFINITY;
    for (const entry of hours.split(';').map((part) => part.trim())) {
      if (entry === '') continue;
      const day = /^(\d{8}):(.*)$/.exec(entry);
      if (!day?.[1] || day[2] === undefined) return undefined;
      const dayStart = wallTime(day[1], '0000', timeZoneId);
      if (dayStart === undefined) return undefined;
      coveredFrom = Math.min(coveredFrom, dayStart);
      coveredUntil = Math.max(coveredUntil, dayStart + DAY_MS);
      if (day[2] === 'CLOSED') continue;
      for (const range of day[2].split(',')) {
        const session = parseRange(day[1], range, timeZoneId);
        if (!session) return undefined;
        sessions.push(session);
        coveredFrom = Math.min(coveredFrom, session.start);
        coveredUntil = Math.max(coveredUntil, session.end);
      }
    }
    if (!Number.isFinite(coveredFrom)) return undefined;
    sessions.sort((a, b) => a.start - b.start);
    return new TradingHours(timeZoneId, sessions, coveredFrom, coveredUntil);
  }

  /** Whether `epochMs` falls in the days the string lists (outside them nothing is known). */
  covers(epochMs: number): boolean {
    return epochMs >= this.coveredFrom && epochMs < this.coveredUntil;
  }

  /** true or false inside the listed days, undefined outside them. */
  isOpen(epochMs: number): boolean | undefined {
    if (!this.covers(epochMs)) return undefined;
    return this.sessions.some((session) => epochMs >= session.start && epochMs < session.end);
  }

  /** The start of the next session after `epochMs` among the listed ones. */
  nextOpen(epochMs: number): Date | undefined {
    const next = this.sessions.find((session) => session.start > epochMs);
    return next ? new Date(next.start) : undefined;
  }

  /** The end of the session in progress at `epochMs`. */
  sessionEnd(epochMs: number): Date | undefined {
    const current = this.sessions.find((session) => epochMs >= session.start && epochMs < session.end);
    return current ? new Date(current.end) : undefined;
  }
}

/** "0930-20261123:1600" (current) or "0930-1600" (pre-2018: both ends on `date`). */
function parseRange(date: string, range: string, zone: string): TradingSession | undefined {
  const match = /^(?:(\d{8}):)?(\d{4})-(?:(\d{8}):)?(\d{4})$/.exec(range.trim());
  if (!match?.[2] || !match[4]) return undefined;
  const start = wallTime(match[1] ?? date, match[2], zone);
  let end = wallTime(match[3] ?? date, match[4], zone);
  if (start === undefined || end === undefined) return undefined;
  if (end <= start && match[3] === undefined) end += DAY_MS; // old form across midnight
  return end > start ? { start, end } : undefined;
}

function wallTime(date: string, hhmm: string, zone: string): number | undefined {
  const time = DateTime.fromFormat(`${date}${hhmm}`, 'yyyyMMddHHmm', { zone });
  return time.isValid ? time.toMillis() : undefined;
}
