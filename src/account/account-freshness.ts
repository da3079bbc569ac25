import type { z } from 'zod';
import type { Freshness } from './account.schemas';

export type FreshnessValue = z.infer<typeof Freshness>;

/** What the reader of a live answer should know about how IB refreshes each part. */
export const LIVE_NOTES = {
  summary: 'account summary held open (reqAccountSummary): IB pushes changed values about every 3 minutes',
  positions: 'positions held open (reqPositions): IB pushes each change as it happens',
  portfolio:
    'market price, value and PnL of positions from the held account updates (reqAccountUpdates): IB pushes them on a position change, otherwise about every 3 minutes',
  values:
    'account values held open (reqAccountUpdates): IB pushes them on a position change, otherwise about every 3 minutes',
  pnl: 'PnL held open (reqPnL): IB pushes it about once a second while it changes',
} as const;

/** An answer (or part of one) from a held subscription whose last push from IB came at `asOf`. */
export function liveFreshness(asOf: number, note: string): FreshnessValue {
  return { source: 'live', asOf: new Date(asOf).toISOString(), note };
}

/** An answer (or part of one) that IB was asked for now, with the reason no subscription held it. */
export function requestFreshness(now: number, note: string): FreshnessValue {
  return { source: 'request', asOf: new Date(now).toISOString(), note };
}

/**
 * The freshness of an answer built from several parts: a request if any part was requested, as old as its
 * oldest part, with every part's note (once each).
 */
export function combinedFreshness(parts: readonly FreshnessValue[]): FreshnessValue {
  const [first] = parts;
  if (first === undefined) return { source: 'live', asOf: null, note: 'nothing to report' };
  const times = parts.map((part) => part.asOf).filter((asOf): asOf is string => asOf !== null);
  const notes = [...new Set(parts.map((part) => part.note).filter((note) => note !== undefined))];
  return {
    source: parts.some((part) => part.source === 'request') ? 'request' : 'live',
    asOf: times.length === 0 ? null : times.reduce((oldest, time) => (time < oldest ? time : oldest)),
    ...(notes.length === 0 ? {} : { note: notes.join('; ') }),
  };
}
