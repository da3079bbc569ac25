/**
 * Delays that double with each consecutive failure, from `initialMs` up to `maxMs`; reset on success. Pure
 * arithmetic: whoever waits the delay does so on its Clock.
 */
export class ExponentialBackoff {
  private failureCount = 0;
  private delayMs = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** Consecutive failures since the last reset. */
  get failures(): number {
    return this.failureCount;
  }

  /** The delay fail() returned last (0 before the first failure). */
  get currentDelayMs(): number {
    return this.delayMs;
  }

  /** The delay the next fail() will return, without recording a failure. */
  get nextDelayMs(): number {
    return Math.min(this.maxMs, this.initialMs * 2 ** this.failureCount);
  }

  /** Records a failure and returns how long to wait before the next try. */
  fail(): number {
    this.delayMs = this.nextDelayMs;
    this.failureCount++;
    return this.delayMs;
  }

  reset(): void {
    this.failureCount = 0;
    this.delayMs = 0;
  }
}
