/**
 * Seeded, stateless random paths evaluated at any instant in O(octaves): multi-octave value noise whose
 * octave amplitudes grow with the square root of their period, so increments over an interval of length
 * d have a variance roughly proportional to d, like a random walk, while the path stays bounded over years.
 */

// Local bindings: hot loops must not look up the global `Math` (slow inside jest's vm contexts).
const { imul, floor, exp, sqrt } = Math;

function mix(hash: number, word: number): number {
  let mixed = imul(hash ^ (word | 0), 0x01000193);
  mixed ^= mixed >>> 15;
  mixed = imul(mixed, 0x2c1b3c6d);
  return mixed ^ (mixed >>> 12);
}

function finalise(hash: number): number {
  let mixed = hash ^ (hash >>> 16);
  mixed = imul(mixed, 0x85ebca6b);
  mixed ^= mixed >>> 13;
  mixed = imul(mixed, 0xc2b2ae35);
  return (mixed ^ (mixed >>> 16)) >>> 0;
}

/** 32-bit hash of up to four 32-bit words (fixed arity: this runs millions of times per bar request). */
export function hashWords(a: number, b = 0, c = 0, d = 0): number {
  return finalise(mix(mix(mix(mix(0x811c9dc5, a), b), c), d));
}

export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = imul(hash ^ text.charCodeAt(i), 0x01000193);
  return finalise(hash);
}

/** A uniform number in [0, 1) from the words. */
export function unitHash(a: number, b = 0, c = 0, d = 0): number {
  return hashWords(a, b, c, d) / 0x1_0000_0000;
}

/** The noise's value at an integer lattice point, in [-1, 1]. */
function latticeValue(key: number, octave: number, cell: number): number {
  const low = cell % 0x1_0000_0000;
  const high = floor(cell / 0x1_0000_0000);
  return unitHash(key, octave, low, high) * 2 - 1;
}

/** Smooth value noise of one octave at position x (lattice spacing 1): values in [-1, 1]. */
function valueNoise(key: number, octave: number, x: number): number {
  const cell = floor(x);
  const fraction = x - cell;
  const left = latticeValue(key, octave, cell);
  const right = latticeValue(key, octave, cell + 1);
  const smooth = fraction * fraction * (3 - 2 * fraction);
  return left + (right - left) * smooth;
}

const SHORTEST_PERIOD_MS = 1_000;
const OCTAVES = 26; // 1 s .. 2^25 s (about a year and a half of 24-hour trading)
/**
 * Value noise of amplitude a and period P adds about (2/3)a² of variance to increments longer than P;
 * summed over octaves (sum of periods below d is about 2d) the scale below gives increment variance σ²d.
 */
const RANDOM_WALK_SCALE = sqrt(3 / 4);

/** Log-price random walk of one instrument, on its trading-time clock. */
export class PricePath {
  private readonly key: number;
  private readonly amplitudes: number[];

  /**
   * @param annualVolatility standard deviation of the yearly log return
   * @param tradingMsPerYear trading milliseconds in a year of the instrument's schedule
   */
  constructor(
    seed: number,
    name: string,
    private readonly basePrice: number,
    annualVolatility: number,
    tradingMsPerYear: number,
  ) {
    this.key = hashWords(seed, hashString(name));
    const perMs = annualVolatility / sqrt(tradingMsPerYear);
    this.amplitudes = Array.from(
      { length: OCTAVES },
      (_, octave) => RANDOM_WALK_SCALE * perMs * sqrt(SHORTEST_PERIOD_MS * 2 ** octave),
    );
  }

  /** The price at trading time `tradingMs` (see TradingCalendar.tradingTime). */
  at(tradingMs: number): number {
    let logReturn = 0;
    for (let octave = 0; octave < OCTAVES; octave++) {
      const period = SHORTEST_PERIOD_MS * 2 ** octave;
      logReturn += (this.amplitudes[octave] ?? 0) * valueNoise(this.key, octave, tradingMs / period);
    }
    return this.basePrice * exp(logReturn);
  }
}

const VOLUME_WIGGLES = [
  { periodMs: 2 * 60_000, share: 0.15 },
  { periodMs: 60 * 60_000, share: 0.15 },
];

/**
 * Cumulative traded volume on the instrument's activity clock: a steady rate plus bounded wiggles whose
 * slopes never exceed the rate, so it never decreases. Bars and session volumes are differences of it.
 */
export class VolumeCurve {
  private readonly key: number;

  constructor(
    seed: number,
    name: string,
    /** Volume per liquid-equivalent millisecond. */
    private readonly ratePerMs: number,
  ) {
    this.key = hashWords(seed, hashString(`${name}/volume`));
  }

  /** The steady part of the volume between two activity times: what an average day trades there. */
  average(fromActivityMs: number, toActivityMs: number): number {
    return this.ratePerMs * (toActivityMs - fromActivityMs);
  }

  /** Volume traded from the calendar's epoch to activity time `activityMs`. */
  cumulative(activityMs: number): number {
    if (this.ratePerMs === 0) return 0;
    let wiggle = 0;
    VOLUME_WIGGLES.forEach(({ periodMs, share }, index) => {
      // Smoothstep value noise has a slope of at most 3 per period, so share 0.15 keeps the total slope < rate.
      wiggle += share * this.ratePerMs * periodMs * valueNoise(this.key, index, activityMs / periodMs);
    });
    return floor(this.ratePerMs * activityMs + wiggle);
  }
}
