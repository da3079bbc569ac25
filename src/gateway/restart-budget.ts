import type { Clock } from '../common/clock';
import { ExponentialBackoff } from '../connection/exponential-backoff';

const HOUR_MS = 60 * 60 * 1000;

/** open: the hourly cap is spent and no automatic restart happens until old ones age out. */
export type BreakerState = 'closed' | 'open';

export interface RestartBudgetLimits {
  /** watchdog.maxRestartsPerHour: automatic restarts per rolling hour; 0 disables them. */
  maxPerHour: number;
  /** watchdog.backoffInitialSeconds / backoffMaxSeconds, in ms. */
  backoffInitialMs: number;
  backoffMaxMs: number;
}

/** Why the budget holds an automatic restart back now, and until when; `message` says it in words. */
export type BudgetRefusal =
  | {
      reason: 'budget-spent';
      message: string;
      restartsLastHour: number;
      cap: number;
      /** When the breaker lets the next one through; undefined when the cap is 0 (never). */
      nextAllowedAt: Date | undefined;
    }
  | { reason: 'backing-off'; message: string; nextAllowedAt: Date };

/**
 * Why the gateway will not restart itself now: the budget, a login IB rejected, the shutdown, or a gateway
 * the supervisor does not run (the address kind: only a human can restart it).
 */
export type RestartRefusal =
  | BudgetRefusal
  | { reason: 'login-blocked'; message: string }
  | { reason: 'shutting-down'; message: string }
  | { reason: 'not-managed'; message: string };

/** The gateway's answer to a request for an automatic restart. */
export type RestartAnswer =
  /** The gateway was restarted (it runs again; the login follows). */
  | { outcome: 'restarted' }
  /** Nothing happened: the login is blocked, the hourly budget is spent, or the backoff holds it. */
  | ({ outcome: 'refused' } & RestartRefusal)
  /** The restart was tried (and counted) but the runtime failed. */
  | { outcome: 'failed'; message: string };

export interface RestartBudgetStatus {
  breaker: BreakerState;
  restartsLastHour: number;
  cap: number;
  /** When the breaker lets the next automatic restart through: now while closed, undefined when the cap is 0. */
  nextAllowedAt: Date | undefined;
  /** The delay the next crash restart waits (the backoff's next step). */
  nextBackoffMs: number;
}

/**
 * The one restart policy for every automatic gateway restart, crash restarts and recovery-ladder restarts
 * alike: every restart is a new login at IB, and a restart loop is how accounts get locked.
 *
 * - The breaker: at most `maxPerHour` automatic restarts per rolling hour. Open while the cap is used up; it
 *   closes by itself as old restarts age out.
 * - The backoff: consecutive automatic restarts that did not end in a login wait longer and longer
 *   (initial, doubled, up to the max); a login starts the sequence over. A crash restart waits the next step;
 *   no automatic restart happens before the last one's step has passed.
 *
 * Human restarts do not draw on the budget. Time comes from the Clock.
 */
export class RestartBudget {
  private restarts: number[] = [];
  private readonly backoff: ExponentialBackoff;
  /** No automatic restart before this (epoch ms): the last restart's backoff step. */
  private notBefore = 0;

  constructor(
    private readonly limits: RestartBudgetLimits,
    private readonly clock: Clock,
  ) {
    this.backoff = new ExponentialBackoff(limits.backoffInitialMs, limits.backoffMaxMs);
  }

  /** The budget of the watchdog settings (maxRestartsPerHour, backoffInitialSeconds..backoffMaxSeconds). */
  static fromSettings(
    watchdog: { maxRestartsPerHour: number; backoffInitialSeconds: number; backoffMaxSeconds: number },
    clock: Clock,
  ): RestartBudget {
    const { maxRestartsPerHour, backoffInitialSeconds, backoffMaxSeconds } = watchdog;
    return new RestartBudget(
      {
        maxPerHour: maxRestartsPerHour,
        backoffInitialMs: backoffInitialSeconds * 1000,
        backoffMaxMs: backoffMaxSeconds * 1000,
      },
      clock,
    );
  }

  get cap(): number {
    return this.limits.maxPerHour;
  }

  state(): BreakerState {
    return this.restartsInLastHour() >= this.limits.maxPerHour ? 'open' : 'closed';
  }

  restartsInLastHour(): number {
    const cutoff = this.clock.now() - HOUR_MS;
    if (this.restarts.some((at) => at <= cutoff)) this.restarts = this.restarts.filter((at) => at > cutoff);
    return this.restarts.length;
  }

  /** When the breaker lets the next automatic restart through: now while closed; undefined when the cap is 0. */
  nextAllowedAt(): Date | undefined {
    const now = this.clock.now();
    if (this.limits.maxPerHour === 0) return undefined;
    const count = this.restartsInLastHour();
    if (count < this.limits.maxPerHour) return new Date(now);
    // The cap frees up once enough of the restarts in the window have aged out.
    const oldest = this.restarts[count - this.limits.maxPerHour] ?? now;
    return new Date(oldest + HOUR_MS);
  }

  /**
   * When a restart for a crash that happened now should run: after the backoff's next step, and not before
   * the breaker lets it through. Undefined when automatic restarts are disabled (cap 0).
   */
  crashRestartAt(): Date | undefined {
    const allowed = this.nextAllowedAt();
    if (!allowed) return undefined;
    const now = this.clock.now();
    return new Date(Math.max(now + this.backoff.nextDelayMs, this.notBefore, allowed.getTime()));
  }

  /**
   * Why an automatic restart may not happen now, or undefined when it may. `ignoreBackoff` is for a restart
   * that has already waited its backoff step (a scheduled crash restart).
   */
  refusal(options: { ignoreBackoff?: boolean } = {}): BudgetRefusal | undefined {
    const restartsLastHour = this.restartsInLastHour();
    const cap = this.limits.maxPerHour;
    if (restartsLastHour >= cap) {
      const next = this.nextAllowedAt();
      const when = next
        ? `the next one is allowed at ${next.toISOString()}`
        : 'automatic restarts are disabled';
      return {
        reason: 'budget-spent',
        message: `The gateway was restarted automatically ${restartsLastHour} times in the last hour, the cap (watchdog.maxRestartsPerHour = ${cap}); ${when}`,
        restartsLastHour,
        cap,
        nextAllowedAt: next,
      };
    }
    if (!options.ignoreBackoff && this.clock.now() < this.notBefore) {
      const next = new Date(this.notBefore);
      return {
        reason: 'backing-off',
        message: `The last automatic restart was moments ago; the restart backoff allows the next one at ${next.toISOString()}`,
        nextAllowedAt: next,
      };
    }
    return undefined;
  }

  /**
   * Counts an automatic restart if the budget allows it now; returns the refusal otherwise (nothing counted).
   */
  take(options: { ignoreBackoff?: boolean } = {}): BudgetRefusal | undefined {
    const refused = this.refusal(options);
    if (refused) return refused;
    const now = this.clock.now();
    this.restarts.push(now);
    this.notBefore = now + this.backoff.fail();
    return undefined;
  }

  /** The gateway logged in: the backoff starts over (the hourly count stays). */
  recovered(): void {
    this.backoff.reset();
    this.notBefore = 0;
  }

  status(): RestartBudgetStatus {
    return {
      breaker: this.state(),
      restartsLastHour: this.restartsInLastHour(),
      cap: this.limits.maxPerHour,
      nextAllowedAt: this.nextAllowedAt(),
      nextBackoffMs: this.backoff.nextDelayMs,
    };
  }
}
