import { ExponentialBackoff } from '../../../src/connection/exponential-backoff';

describe('ExponentialBackoff (the delays of the restart budget, the IB session and the ladder)', () => {
  it('doubles from the initial delay with each consecutive failure', () => {
    const backoff = new ExponentialBackoff(1_000, 1_000_000);
    expect(backoff.currentDelayMs).toBe(0);
    expect(backoff.nextDelayMs).toBe(1_000);
    expect([backoff.fail(), backoff.fail(), backoff.fail(), backoff.fail()]).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
    expect(backoff.failures).toBe(4);
    expect(backoff.currentDelayMs).toBe(8_000);
    expect(backoff.nextDelayMs).toBe(16_000);
  });

  it('stops at the max, also after very many failures', () => {
    const backoff = new ExponentialBackoff(500, 3_000);
    const delays = Array.from({ length: 6 }, () => backoff.fail());
    expect(delays).toEqual([500, 1_000, 2_000, 3_000, 3_000, 3_000]);
    for (let index = 0; index < 2_000; index++) backoff.fail();
    expect(backoff.currentDelayMs).toBe(3_000);
    expect(backoff.nextDelayMs).toBe(3_000);
  });

  it('starts over from the initial delay after a reset', () => {
    const backoff = new ExponentialBackoff(1_000, 10_000);
    backoff.fail();
    backoff.fail();
    backoff.reset();
    expect(backoff.failures).toBe(0);
    expect(backoff.currentDelayMs).toBe(0);
    expect(backoff.fail()).toBe(1_000);
  });

  it('peeking at the next delay records no failure', () => {
    const backoff = new ExponentialBackoff(1_000, 10_000);
    expect(backoff.nextDelayMs).toBe(1_000);
    expect(backoff.nextDelayMs).toBe(1_000);
    expect(backoff.failures).toBe(0);
  });
});
