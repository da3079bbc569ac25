/**
 * The simulator's notion of "now". Tests and demos move it (e.g. to a weekend to see a closed market);
 * time keeps running from the chosen point.
 */
export class SimulatorClock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Sets the current time; the clock keeps running from there. */
  set(epochMs: number): void {
    this.offsetMs = epochMs - Date.now();
  }

  reset(): void {
    this.offsetMs = 0;
  }

  get isReal(): boolean {
    return this.offsetMs === 0;
  }
}

/** TWS's connection-time format: "20240103 10:00:00 GMT". */
export function formatTwsDateTime(epochMs: number): string {
  const iso = new Date(epochMs).toISOString(); // 2024-01-03T10:00:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)} ${iso.slice(11, 19)} GMT`;
}
