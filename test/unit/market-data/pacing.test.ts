import { DomainError } from '../../../src/common/domain-error';
import {
  HistoricalDataPacer,
  RequestRateGate,
  SingleFlight,
  type HistoricalDataRequestKey,
  type PacingClock,
} from '../../../src/common/pacing';

/** A clock that only moves when a pacer sleeps; records each wait. */
function virtualClock(): PacingClock & { waits: number[]; advance(ms: number): void } {
  let now = 1_000_000;
  const waits: number[] = [];
  return {
    waits,
    now: () => now,
    sleep: async (ms) => {
      waits.push(ms);
      await Promise.resolve();
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

const request = (identity: string, scope = 'AAPL|SMART|TRADES', weight = 1): HistoricalDataRequestKey => ({
  identity,
  scope,
  weight,
});

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('Expected a rejection');
}

describe('SingleFlight', () => {
  it('runs concurrent work with one key once, and again once it settled (also after a failure)', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    let release: (value: number) => void = () => undefined;
    const work = async () => {
      runs++;
      return new Promise<number>((resolve) => (release = resolve));
    };
    const first = flights.run('a', work);
    const second = flights.run('a', work);
    expect(flights.inFlight).toBe(1);
    release(7);
    expect(await Promise.all([first, second])).toEqual([7, 7]);
    expect(runs).toBe(1);
    expect(flights.inFlight).toBe(0);
    await expect(flights.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await flights.run('a', async () => Promise.resolve(8))).toBe(8);
  });
});

describe('HistoricalDataPacer (IB historical data rules)', () => {
  it('lets five requests for one contract and data type go at once and makes the sixth wait out the 2 s', async () => {
    const clock = virtualClock();
    const pacer = new HistoricalDataPacer(10_000, clock);
    for (let index = 0; index < 5; index++) await pacer.admit(request(`r${index}`));
    expect(clock.waits).toEqual([]);
    await pacer.admit(request('r5'));
    expect(clock.waits).toHaveLength(1);
    expect(clock.waits[0]).toBeGreaterThanOrEqual(2000);
    expect(clock.waits[0]).toBeLessThanOrEqual(3000);
    // Another data type is another scope: no wait.
    await pacer.admit(request('m0', 'AAPL|SMART|MIDPOINT'));
    expect(clock.waits).toHaveLength(1);
  });

  it('counts BID_ASK twice', async () => {
    const clock = virtualClock();
    const pacer = new HistoricalDataPacer(10_000, clock);
    for (let index = 0; index < 2; index++) await pacer.admit(request(`b${index}`, 'AAPL|SMART|BID_ASK', 2));
    await pacer.admit(request('b2', 'AAPL|SMART|BID_ASK', 2));
    expect(clock.waits).toHaveLength(1);
  });

  it('refuses an identical request within 15 s with RATE_LIMITED and when to retry, and admits it after', async () => {
    const clock = virtualClock();
    const pacer = new HistoricalDataPacer(10_000, clock);
    await pacer.admit(request('same'));
    const error = await rejection(pacer.admit(request('same')));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.details.retryAfterSeconds).toBeGreaterThanOrEqual(15);
    expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(16);
    clock.advance(16_000);
    await pacer.admit(request('same'));
    expect(clock.waits).toEqual([]);
  });

  it('admits 60 requests in 10 minutes and refuses the 61st with a retry after the window', async () => {
    const clock = virtualClock();
    const pacer = new HistoricalDataPacer(10_000, clock);
    for (let index = 0; index < 60; index++) {
      await pacer.admit(request(`w${index}`, `scope${index % 20}`));
      clock.advance(1000);
    }
    expect(clock.waits).toEqual([]);
    const error = await rejection(pacer.admit(request('w60', 'another')));
    expect(error.code).toBe('RATE_LIMITED');
    // The oldest of the 60 leaves the window 10 minutes after it was sent, 60 s ago.
    expect(error.details.retryAfterSeconds).toBeGreaterThan(530);
    expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(601);
    clock.advance(600_000);
    await pacer.admit(request('w60', 'another'));
  });

  it('queues waiting requests behind each other, never two in the same slot', async () => {
    const clock = virtualClock();
    const pacer = new HistoricalDataPacer(10_000, clock);
    await Promise.all(Array.from({ length: 10 }, async (_, index) => pacer.admit(request(`q${index}`))));
    // Five at once, then five more after 2 s (one burst window), none later than the cap.
    expect(clock.waits).toHaveLength(5);
    for (const wait of clock.waits) expect(wait).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...clock.waits)).toBeLessThanOrEqual(3000);
  });
});

describe('RequestRateGate', () => {
  it('lets `perSecond` requests through at once, spaces the rest, and refuses beyond the longest wait', async () => {
    const clock = virtualClock();
    const gate = new RequestRateGate('quote', 10, 2_000, clock);
    await Promise.all(Array.from({ length: 10 }, async () => gate.take()));
    expect(clock.waits).toEqual([]);
    await Promise.all(Array.from({ length: 20 }, async () => gate.take()));
    expect(clock.waits).toHaveLength(20);
    expect(Math.min(...clock.waits)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...clock.waits)).toBeLessThanOrEqual(2000);
    const error = await rejection(gate.take());
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.message).toContain('at most 10 of them per second');
    expect(error.details.retryAfterSeconds).toBe(3);
  });

  it('counts a request of several messages as that many', async () => {
    const clock = virtualClock();
    const gate = new RequestRateGate('quote', 10, 2_000, clock);
    for (let index = 0; index < 5; index++) await gate.take(2);
    expect(clock.waits).toEqual([]);
    await gate.take(1);
    expect(clock.waits).toHaveLength(1);
  });
});
