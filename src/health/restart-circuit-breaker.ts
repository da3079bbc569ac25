const HOUR_MS = 60 * 60 * 1000;

export type BreakerState = 'closed' | 'open';

/**
 * Caps gateway restarts per rolling hour: every restart is a new login at IB, and a restart loop is how
 * accounts get locked. Open while the cap is used up; it closes by itself as old restarts age out.
 */
export class RestartCircuitBreaker {
  private readonly restarts: number[] = [];

  constructor(private readonly maxPerHour: number) {}

  get cap(): number {
    return this.maxPerHour;
  }

  state(now = Date.now()): BreakerState {
    return this.restartsInLastHour(now) >= this.maxPerHour ? 'open' : 'closed';
  }

  restartsInLastHour(now = Date.now()): number {
    this.forgetOlderThanAnHour(now);
    return this.restarts.length;
  }

  /** When the next restart is allowed (now when closed); undefined when the cap is 0 (never). */
  nextAllowedAt(now = Date.now()): Date | undefined {
    if (this.maxPerHour === 0) return undefined;
    if (this.state(now) === 'closed') return new Date(now);
    const oldest = this.restarts[this.restarts.length - this.maxPerHour];
    return new Date((oldest ?? now) + HOUR_MS);
  }

  /** Counts a restart if the cap allows it; false means the breaker is open and nothing was counted. */
  tryRestart(now = Date.now()): boolean {
    if (this.state(now) === 'open') return false;
    this.restarts.push(now);
    return true;
  }

  private forgetOlderThanAnHour(now: number): void {
    while (this.restarts.length > 0 && (this.restarts[0] ?? now) <= now - HOUR_MS) this.restarts.shift();
  }
}
