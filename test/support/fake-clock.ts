import type { Clock, ClockTimer } from '../../src/common/clock';

interface Pending {
  id: number;
  at: number;
  callback: () => void;
}

/**
 * A clock that moves only when a test says so. advance() runs every callback that falls due, in time order,
 * letting promise reactions settle after each, so code that awaits sleeps or timers runs as it would.
 */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private pending: Pending[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 5, 12, 0, 0)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const entry: Pending = { id: this.nextId++, at: this.current + Math.max(0, ms), callback };
    this.pending.push(entry);
    const handle: ClockTimer & { id: number } = { id: entry.id, unref: () => handle };
    return handle;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer === undefined) return;
    const id = (timer as { id?: number }).id;
    this.pending = this.pending.filter((entry) => entry.id !== id);
  }

  async sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** How many callbacks wait. */
  get pendingTimers(): number {
    return this.pending.length;
  }

  /** Moves time forward by `ms`, running what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    await settle();
    for (;;) {
      const due = this.pending
        .filter((entry) => entry.at <= until)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.pending = this.pending.filter((entry) => entry !== due);
      this.current = Math.max(this.current, due.at);
      due.callback();
      await settle();
    }
    this.current = until;
    await settle();
  }

  /** Sets the time (forward or back) without running timers: a machine whose clock was changed. */
  set(time: number | Date): void {
    this.current = typeof time === 'number' ? time : time.getTime();
  }
}

/** Lets pending promise reactions (and the ones they schedule) run. */
async function settle(): Promise<void> {
  for (let round = 0; round < 20; round++) await Promise.resolve();
}
