import { DomainError } from '../../../src/common/domain-error';
import {
  HistoricalDataPacer,
  IB_HISTORICAL_DATA_LIMITS,
  RequestRateGate,
  SingleFlight,
  type HistoricalDataRequestKey,
} from '../../../src/common/pacing';
import { FakeClock } from '../../support/fake-clock';

const { burstWindowMs, identicalWindowMs, windowMs, marginMs } = IB_HISTORICAL_DATA_LIMITS;

const request = (identity: string, scope = 'AAPL|SMART|TRADES', weight = 1): HistoricalDataRequestKey => ({
  identity,
  scope,
  weight,
});

/** Starts `admission` and records when (on the clock) it was let through. */
function admitted(clock: FakeClock, admission: Promise<void>): { at: number | undefined } {
  const result: { at: number | undefined } = { at: undefined };
  admission.then(
    () => (result.at = clock.now()),
    () => undefined,
  );
  return result;
}

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
  it('lets five requests for one contract and data type go at once; the sixth waits out the 2 s (plus margin)', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const pacer = new HistoricalDataPacer(10_000, clock);
    const firstFive = Array.from({ length: 5 }, (_, index) =>
      admitted(clock, pacer.admit(request(`r${index}`))),
    );
    const sixth = admitted(clock, pacer.admit(request('r5')));
    // Another data type is another scope: it goes at once.
    const midpoint = admitted(clock, pacer.admit(request('m0', 'AAPL|SMART|MIDPOINT')));
    await clock.advance(0);
    expect(firstFive.map((entry) => entry.at)).toEqual(Array(5).fill(start));
    expect(midpoint.at).toBe(start);
    expect(sixth.at).toBeUndefined();
    await clock.advance(burstWindowMs + marginMs - 1);
    expect(sixth.at).toBeUndefined();
    await clock.advance(1);
    expect(sixth.at).toBe(start + burstWindowMs + marginMs);
  });

  it('counts BID_ASK twice: the third BID_ASK request in the burst window waits', async () => {
    const clock = new FakeClock();
    const pacer = new HistoricalDataPacer(10_000, clock);
    const bidAsk = Array.from({ length: 3 }, (_, index) =>
      admitted(clock, pacer.admit(request(`b${index}`, 'AAPL|SMART|BID_ASK', 2))),
    );
    await clock.advance(0);
    expect(bidAsk.map((entry) => entry.at !== undefined)).toEqual([true, true, false]);
    await clock.advance(burstWindowMs + marginMs);
    expect(bidAsk[2]?.at).toBe(clock.now());
  });

  it('refuses an identical request within 15 s with RATE_LIMITED and when to retry, and admits it after', async () => {
    const clock = new FakeClock();
    const pacer = new HistoricalDataPacer(10_000, clock);
    await pacer.admit(request('same'));
    const error = await rejection(pacer.admit(request('same')));
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.details.retryAfterSeconds).toBe(Math.ceil((identicalWindowMs + marginMs) / 1000));
    await clock.advance(identicalWindowMs + marginMs - 10_000 - 1);
    // Now the slot is 10 s + 1 ms away: still beyond the longest wait.
    await expect(pacer.admit(request('same'))).rejects.toThrow(DomainError);
    await clock.advance(1);
    const late = admitted(clock, pacer.admit(request('same'))); // exactly 10 s away: it waits
    await clock.advance(9_999);
    expect(late.at).toBeUndefined();
    await clock.advance(1);
    expect(late.at).toBe(clock.now());
  });

  it('admits 60 requests in 10 minutes and refuses the 61st with a retry after the window', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const pacer = new HistoricalDataPacer(10_000, clock);
    for (let index = 0; index < 60; index++) {
      const entry = admitted(clock, pacer.admit(request(`w${index}`, `scope${index % 20}`)));
      await clock.advance(0);
      expect(entry.at).toBe(clock.now()); // no wait
      await clock.advance(1000);
    }
    const error = await rejection(pacer.admit(request('w60', 'another')));
    expect(error.code).toBe('RATE_LIMITED');
    // The oldest of the 60 leaves the window 10 minutes (plus margin) after it was sent, 60 s ago.
    expect(error.details.retryAfterSeconds).toBe(
      Math.ceil((start + windowMs + marginMs - clock.now()) / 1000),
    );
    await clock.advance(start + windowMs + marginMs - clock.now());
    const after = admitted(clock, pacer.admit(request('w60', 'another')));
    await clock.advance(0);
    expect(after.at).toBe(clock.now());
  });

  it('queues waiting requests behind each other, never two in the same slot', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const pacer = new HistoricalDataPacer(10_000, clock);
    const entries = Array.from({ length: 12 }, (_, index) =>
      admitted(clock, pacer.admit(request(`q${index}`))),
    );
    await clock.advance(10_000);
    const slot = burstWindowMs + marginMs;
    // Five at once, five one burst window later, two after another.
    expect(entries.map((entry) => (entry.at ?? Number.NaN) - start)).toEqual([
      ...Array(5).fill(0),
      ...Array(5).fill(slot),
      ...Array(2).fill(2 * slot),
    ]);
  });
});

describe('RequestRateGate', () => {
  it('lets `perSecond` requests through at once, spaces the rest a second apart, and refuses beyond the longest wait', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const gate = new RequestRateGate('quote', 10, 2_000, clock);
    const entries = Array.from({ length: 30 }, () => admitted(clock, gate.take()));
    await clock.advance(0);
    expect(entries.filter((entry) => entry.at === start)).toHaveLength(10);
    const error = await rejection(gate.take());
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.message).toContain('at most 10 of them per second');
    expect(error.details.retryAfterSeconds).toBe(3);
    await clock.advance(2_000);
    expect(entries.map((entry) => (entry.at ?? Number.NaN) - start)).toEqual([
      ...Array(10).fill(0),
      ...Array(10).fill(1_000),
      ...Array(10).fill(2_000),
    ]);
  });

  it('counts a request of several messages as that many', async () => {
    const clock = new FakeClock();
    const gate = new RequestRateGate('quote', 10, 2_000, clock);
    const fivePairs = Array.from({ length: 5 }, () => admitted(clock, gate.take(2)));
    const one = admitted(clock, gate.take(1));
    await clock.advance(0);
    expect(fivePairs.every((entry) => entry.at === clock.now())).toBe(true);
    expect(one.at).toBeUndefined();
    await clock.advance(1_000);
    expect(one.at).toBe(clock.now());
  });
});
