/**
 * Time as the service sees it. Policy classes (watchdog, ladder, restart budget, backoff, pacing, gateway,
 * orders) take a Clock instead of reading Date.now() or calling setTimeout, so unit tests can drive time
 * with a fake clock in milliseconds instead of sleeping.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
  sleep(ms: number): Promise<void>;
}

/** An opaque handle of a pending callback. */
export interface ClockTimer {
  /** Lets the process exit while the timer is pending (Node's unref); a no-op on a fake clock. */
  unref(): ClockTimer;
}

export const CLOCK = Symbol('CLOCK');

class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    return setTimeout(callback, ms);
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer !== undefined) clearTimeout(timer as NodeJS.Timeout);
  }

  async sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

export const systemClock: Clock = new SystemClock();

/** The clock's time as a Date. */
export function dateOf(clock: Clock): Date {
  return new Date(clock.now());
}
