import type { Clock, ClockTimer } from '../common/clock';

/** How often one resource may be announced as changed at most (a quote storm sends one per window). */
export const RESOURCE_UPDATE_INTERVAL_MS = 250;

/**
 * At most one announcement per key per interval, and never a change left unannounced: the first change of
 * a quiet key goes out at once; changes during the interval that follows collapse into one announcement at
 * its end, which opens the next interval. Memory holds only keys announced within the last interval.
 */
export class UpdateCoalescer {
  /** Keys inside their interval, with whether a change came since their last announcement. */
  private readonly open = new Map<string, { pending: boolean; timer: ClockTimer }>();

  constructor(
    private readonly clock: Clock,
    private readonly announce: (key: string) => void,
    private readonly intervalMs = RESOURCE_UPDATE_INTERVAL_MS,
  ) {}

  offer(key: string): void {
    const window = this.open.get(key);
    if (window !== undefined) {
      window.pending = true;
      return;
    }
    this.announce(key);
    this.startInterval(key);
  }

  /** Keys within their interval now (tests, metrics). */
  get size(): number {
    return this.open.size;
  }

  /** Drops every interval and what it held back. */
  close(): void {
    for (const { timer } of this.open.values()) this.clock.clearTimeout(timer);
    this.open.clear();
  }

  private startInterval(key: string): void {
    const timer = this.clock
      .setTimeout(() => {
        const window = this.open.get(key);
        this.open.delete(key);
        if (window?.pending !== true) return;
        this.announce(key);
        this.startInterval(key);
      }, this.intervalMs)
      .unref();
    this.open.set(key, { pending: false, timer });
  }
}
