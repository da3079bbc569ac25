import { systemClock, type Clock } from './clock';
import { DomainError } from './domain-error';

/**
 * Pacing: how the service keeps inside IB's limits whatever its callers do.
 *
 * - Messages: @stoqey/ib throttles every outgoing message of the session (IBApiNext `maxReqPerSec`), so the
 *   gateway never sees more than IB's 50 per second. Waiting in that queue counts against a request's
 *   timeout, so request bursts first wait here, in a {@link RequestRateGate}, at a lower rate.
 * - Historical data: IB's three rules ({@link IB_HISTORICAL_DATA_LIMITS}) are kept by a
 *   {@link HistoricalDataPacer}: a request that would break one waits for its slot when the wait is short,
 *   and is refused with RATE_LIMITED and retryAfterSeconds when it is not.
 * - Identical concurrent requests share one upstream request ({@link SingleFlight}).
 */

/** Concurrent calls with the same key share one run of the work, and its result or error. */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  async run(key: string, work: () => Promise<T>): Promise<T> {
    const current = this.running.get(key);
    if (current) return current;
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }

  /** How many distinct keys are being worked on now. */
  get inFlight(): number {
    return this.running.size;
  }
}

/** One request as a pacing rule sees it. */
interface Slot {
  at: number;
  weight: number;
  /** Everything that makes two requests identical. */
  identity: string;
  /** What a burst rule counts together (e.g. contract + exchange + data type). */
  scope: string;
}

/** A rule: at most `max` weight (or, with `countRequests`, requests) matching `sameAs` per `windowMs`. */
interface WindowRule {
  windowMs: number;
  max: number;
  sameAs: (earlier: Slot, request: Omit<Slot, 'at'>) => boolean;
  countRequests?: boolean;
}

/**
 * Reserves times for requests so that every rule holds, also for the requests already waiting: a request
 * gets the earliest time at or after now that breaks no rule, given every reservation made before it.
 */
class SlotReservations {
  private slots: Slot[] = [];
  private readonly horizonMs: number;

  constructor(private readonly rules: readonly WindowRule[]) {
    this.horizonMs = Math.max(...rules.map((rule) => rule.windowMs));
  }

  /** The earliest time at or after `now` the request may go out. */
  earliest(request: Omit<Slot, 'at'>, now: number): number {
    this.forget(now);
    // Reservations only ever free a rule when one of them leaves its window: those are the candidates.
    const candidates = [now];
    for (const slot of this.slots) {
      for (const rule of this.rules) candidates.push(slot.at + rule.windowMs);
    }
    candidates.sort((a, b) => a - b);
    for (const at of candidates) {
      if (at >= now && this.allows(request, at)) return at;
    }
    // Unreachable while every rule admits one request on its own (max >= weight).
    return candidates[candidates.length - 1] ?? now;
  }

  reserve(request: Omit<Slot, 'at'>, at: number): void {
    this.slots.push({ ...request, at });
  }

  private allows(request: Omit<Slot, 'at'>, at: number): boolean {
    // Reservations may lie ahead of `at`: counting both sides of it keeps every window that holds it legal.
    return this.rules.every((rule) => {
      const weightOf = (slot: Omit<Slot, 'at'>): number => (rule.countRequests ? 1 : slot.weight);
      let used = 0;
      for (const slot of this.slots) {
        if (slot.at > at - rule.windowMs && slot.at < at + rule.windowMs && rule.sameAs(slot, request)) {
          used += weightOf(slot);
        }
      }
      return used + weightOf(request) <= rule.max;
    });
  }

  private forget(now: number): void {
    const before = now - this.horizonMs;
    // Reservations are not in time order: a request may get a slot ahead of one queued before it.
    if (this.slots.some((slot) => slot.at <= before))
      this.slots = this.slots.filter((slot) => slot.at > before);
  }
}

function rateLimited(what: string, waitMs: number, rule: string): DomainError {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new DomainError(
    'RATE_LIMITED',
    `Too many ${what} requests: ${rule}. Retry in ${retryAfterSeconds} s`,
    { retryAfterSeconds },
  );
}

/**
 * IB's historical data pacing ("Historical Data Limitations"): no identical request within 15 s; fewer
 * than six requests for the same contract, exchange and data type within 2 s; at most 60 requests in any
 * 10 minutes. BID_ASK requests count twice. The margins absorb the time a request spends on its way.
 */
export const IB_HISTORICAL_DATA_LIMITS = {
  identicalWindowMs: 15_000,
  burstWindowMs: 2_000,
  burstMax: 5,
  windowMs: 600_000,
  windowMax: 60,
  marginMs: 500,
} as const;

export interface HistoricalDataRequestKey {
  /** Everything that makes two requests identical (contract, end, duration, bar size, data type, hours). */
  identity: string;
  /** Contract, exchange and data type: what the six-in-two-seconds rule counts together. */
  scope: string;
  /** 2 for BID_ASK, 1 otherwise. */
  weight: number;
}

/**
 * Keeps historical data requests inside IB's pacing rules: a request that would break one waits for its
 * slot when that is at most `maxWaitMs` away, and is refused with RATE_LIMITED and retryAfterSeconds
 * otherwise (a caller should not hang for minutes behind the ten-minute rule).
 */
export class HistoricalDataPacer {
  private readonly reservations: SlotReservations;

  constructor(
    private readonly maxWaitMs = 10_000,
    private readonly clock: Clock = systemClock,
    limits: typeof IB_HISTORICAL_DATA_LIMITS = IB_HISTORICAL_DATA_LIMITS,
  ) {
    const margin = limits.marginMs;
    this.reservations = new SlotReservations([
      {
        windowMs: limits.identicalWindowMs + margin,
        max: 1,
        sameAs: (earlier, request) => earlier.identity === request.identity,
        countRequests: true,
      },
      {
        windowMs: limits.burstWindowMs + margin,
        max: limits.burstMax,
        sameAs: (earlier, request) => earlier.scope === request.scope,
      },
      { windowMs: limits.windowMs + margin, max: limits.windowMax, sameAs: () => true },
    ]);
  }

  /** Resolves when the request may go to IB; throws RATE_LIMITED when its slot is too far away. */
  async admit(request: HistoricalDataRequestKey): Promise<void> {
    const now = this.clock.now();
    const at = this.reservations.earliest(request, now);
    const waitMs = at - now;
    if (waitMs > this.maxWaitMs) {
      throw rateLimited(
        'historical data',
        waitMs,
        'IB allows no identical request within 15 s, at most 5 for one contract and data type in 2 s and 60 in 10 minutes',
      );
    }
    this.reservations.reserve(request, at);
    if (waitMs > 0) await this.clock.sleep(waitMs);
  }
}

/**
 * At most `perSecond` requests in any second, in arrival order. A request whose turn is more than
 * `maxWaitMs` away is refused with RATE_LIMITED, so a flood cannot build an endless queue.
 */
export class RequestRateGate {
  private readonly reservations: SlotReservations;

  constructor(
    private readonly what: string,
    private readonly perSecond: number,
    private readonly maxWaitMs = 10_000,
    private readonly clock: Clock = systemClock,
  ) {
    this.reservations = new SlotReservations([{ windowMs: 1000, max: perSecond, sameAs: () => true }]);
  }

  /** Waits for the turn of a request sending `messages` messages to IB. */
  async take(messages = 1): Promise<void> {
    const request = { identity: '', scope: '', weight: Math.min(messages, this.perSecond) };
    const now = this.clock.now();
    const at = this.reservations.earliest(request, now);
    const waitMs = at - now;
    if (waitMs > this.maxWaitMs) {
      throw rateLimited(this.what, waitMs, `the service sends at most ${this.perSecond} of them per second`);
    }
    this.reservations.reserve(request, at);
    if (waitMs > 0) await this.clock.sleep(waitMs);
  }
}
