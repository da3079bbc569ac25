import { RESOURCE_UPDATE_INTERVAL_MS, UpdateCoalescer } from '../../../src/events/resource-update-coalescer';
import { FakeClock } from '../../support/fake-clock';

describe('UpdateCoalescer: at most one announcement per resource per interval, none lost', () => {
  let clock: FakeClock;
  let announced: Array<{ key: string; at: number }>;
  let coalescer: UpdateCoalescer;
  const start = Date.UTC(2026, 0, 5, 12, 0, 0);

  beforeEach(() => {
    clock = new FakeClock(start);
    announced = [];
    coalescer = new UpdateCoalescer(clock, (key) => announced.push({ key, at: clock.now() - start }));
  });

  it('announces the first change of a quiet resource at once', () => {
    coalescer.offer('ibgs://orders/open');
    expect(announced).toEqual([{ key: 'ibgs://orders/open', at: 0 }]);
  });

  it('collapses a storm into one announcement per interval, the last one at the end of the storm', async () => {
    // A quote every 10 ms for one second.
    for (let elapsed = 0; elapsed < 1000; elapsed += 10) {
      coalescer.offer('ibgs://quotes/AAPL');
      await clock.advance(10);
    }
    await clock.advance(1000);
    const times = announced.map((entry) => entry.at);
    expect(times).toEqual([0, 250, 500, 750, 1000]);
    for (let index = 1; index < times.length; index++) {
      expect((times[index] ?? 0) - (times[index - 1] ?? 0)).toBeGreaterThanOrEqual(
        RESOURCE_UPDATE_INTERVAL_MS,
      );
    }
    expect(coalescer.size).toBe(0);
  });

  it('keeps resources apart: a storm on one delays no other', async () => {
    coalescer.offer('ibgs://quotes/AAPL');
    coalescer.offer('ibgs://quotes/AAPL');
    await clock.advance(100);
    coalescer.offer('ibgs://account/positions');
    expect(announced).toEqual([
      { key: 'ibgs://quotes/AAPL', at: 0 },
      { key: 'ibgs://account/positions', at: 100 },
    ]);
    await clock.advance(150);
    expect(announced.at(-1)).toEqual({ key: 'ibgs://quotes/AAPL', at: 250 });
  });

  it('sends nothing at the end of an interval without a change, and forgets the resource', async () => {
    coalescer.offer('ibgs://health/status');
    await clock.advance(RESOURCE_UPDATE_INTERVAL_MS);
    expect(announced).toHaveLength(1);
    expect(coalescer.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    coalescer.offer('ibgs://health/status');
    expect(announced).toHaveLength(2);
  });

  it('drops held-back changes and timers on close', async () => {
    coalescer.offer('ibgs://orders/open');
    coalescer.offer('ibgs://orders/open');
    coalescer.close();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(1000);
    expect(announced).toHaveLength(1);
  });
});
