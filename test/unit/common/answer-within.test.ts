import { Subject } from 'rxjs';
import { answerWithin } from '../../../src/common/await-reply';

describe('answerWithin', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const options = (abandoned: Subject<void>) => ({
    timeoutMs: 1000,
    onTimeout: () => new Error('timed out'),
    abandoned,
    onAbandoned: () => new Error('abandoned'),
  });

  it("answers with the work's answer and leaves no timer or subscription behind", async () => {
    const abandoned = new Subject<void>();
    await expect(answerWithin(Promise.resolve(42), options(abandoned))).resolves.toBe(42);
    expect(jest.getTimerCount()).toBe(0);
    expect(abandoned.observed).toBe(false);
  });

  it('fails with the timeout error when the work takes too long', async () => {
    const abandoned = new Subject<void>();
    const pending = answerWithin(new Promise<number>(() => undefined), options(abandoned));
    jest.advanceTimersByTime(999);
    jest.advanceTimersByTime(1);
    await expect(pending).rejects.toThrow('timed out');
    expect(abandoned.observed).toBe(false);
  });

  it('fails at once when the request is abandoned, without waiting for the timeout', async () => {
    const abandoned = new Subject<void>();
    const pending = answerWithin(new Promise<number>(() => undefined), options(abandoned));
    abandoned.next();
    await expect(pending).rejects.toThrow('abandoned');
    expect(jest.getTimerCount()).toBe(0);
  });
});
