import { RestartBudget, type RestartBudgetLimits } from '../../../src/gateway/restart-budget';
import { FakeClock } from '../../support/fake-clock';

const HOUR = 3_600_000;
const LIMITS: RestartBudgetLimits = { maxPerHour: 3, backoffInitialMs: 5_000, backoffMaxMs: 40_000 };

function budgetOn(limits: Partial<RestartBudgetLimits> = {}): { budget: RestartBudget; clock: FakeClock } {
  const clock = new FakeClock();
  return { budget: new RestartBudget({ ...LIMITS, ...limits }, clock), clock };
}

describe('RestartBudget: the breaker (automatic restarts per rolling hour)', () => {
  it('is closed with restarts left, and opens when a restart uses up the cap', async () => {
    const { budget, clock } = budgetOn();
    expect(budget.state()).toBe('closed');
    expect(budget.nextAllowedAt()?.getTime()).toBe(clock.now());
    for (let index = 0; index < 3; index++) {
      expect(budget.take({ ignoreBackoff: true })).toBeUndefined();
      await clock.advance(60_000);
    }
    expect(budget.restartsInLastHour()).toBe(3);
    expect(budget.state()).toBe('open');
    const first = clock.now() - 3 * 60_000;
    expect(budget.refusal()).toEqual({
      reason: 'budget-spent',
      message: `The gateway was restarted automatically 3 times in the last hour, the cap (watchdog.maxRestartsPerHour = 3); the next one is allowed at ${new Date(first + HOUR).toISOString()}`,
      restartsLastHour: 3,
      cap: 3,
      nextAllowedAt: new Date(first + HOUR),
    });
  });

  it('refuses while open and counts nothing for a refusal', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 1 });
    expect(budget.take()).toBeUndefined();
    await clock.advance(10 * 60_000);
    expect(budget.take({ ignoreBackoff: true })).toMatchObject({ reason: 'budget-spent' });
    expect(budget.take({ ignoreBackoff: true })).toMatchObject({ reason: 'budget-spent' });
    expect(budget.restartsInLastHour()).toBe(1);
  });

  it('closes by itself as the oldest restart ages out of the rolling hour, to the millisecond', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 2 });
    const firstAt = clock.now();
    budget.take({ ignoreBackoff: true });
    await clock.advance(20 * 60_000);
    budget.take({ ignoreBackoff: true });
    expect(budget.state()).toBe('open');
    expect(budget.nextAllowedAt()?.getTime()).toBe(firstAt + HOUR);

    await clock.advance(firstAt + HOUR - 1 - clock.now());
    expect(budget.state()).toBe('open');
    await clock.advance(1);
    expect(budget.state()).toBe('closed');
    expect(budget.restartsInLastHour()).toBe(1);
    // The second ages out 20 minutes later.
    await clock.advance(20 * 60_000);
    expect(budget.restartsInLastHour()).toBe(0);
  });

  it('with the cap spent twice over, the next restart waits for enough of them to age out', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 2 });
    const times: number[] = [];
    for (let index = 0; index < 2; index++) {
      times.push(clock.now());
      budget.take({ ignoreBackoff: true });
      await clock.advance(5 * 60_000);
    }
    await clock.advance(times[0]! + HOUR - clock.now()); // the first aged out: one slot free
    times.push(clock.now());
    expect(budget.take({ ignoreBackoff: true })).toBeUndefined();
    // Open again: the slot frees when the second (not the first, already gone) ages out.
    expect(budget.nextAllowedAt()?.getTime()).toBe(times[1]! + HOUR);
  });

  it('with a cap of 0 is open from the start and never allows an automatic restart', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 0 });
    expect(budget.state()).toBe('open');
    expect(budget.nextAllowedAt()).toBeUndefined();
    expect(budget.crashRestartAt()).toBeUndefined();
    expect(budget.take({ ignoreBackoff: true })).toEqual({
      reason: 'budget-spent',
      message: expect.stringContaining('automatic restarts are disabled') as string,
      restartsLastHour: 0,
      cap: 0,
      nextAllowedAt: undefined,
    });
    await clock.advance(10 * HOUR);
    expect(budget.state()).toBe('open');
  });

  it('reports one status for the API: breaker, count, cap, next allowed time', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 1 });
    expect(budget.status()).toEqual({
      breaker: 'closed',
      restartsLastHour: 0,
      cap: 1,
      nextAllowedAt: new Date(clock.now()),
      nextBackoffMs: 5_000,
    });
    const at = clock.now();
    budget.take();
    await clock.advance(1_000);
    expect(budget.status()).toEqual({
      breaker: 'open',
      restartsLastHour: 1,
      cap: 1,
      nextAllowedAt: new Date(at + HOUR),
      nextBackoffMs: 10_000,
    });
  });
});

describe('RestartBudget: the one backoff', () => {
  it('holds the next automatic restart for the backoff step of the last one', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 10 });
    const at = clock.now();
    budget.take();
    expect(budget.refusal()).toEqual({
      reason: 'backing-off',
      message: `The last automatic restart was moments ago; the restart backoff allows the next one at ${new Date(at + 5_000).toISOString()}`,
      nextAllowedAt: new Date(at + 5_000),
    });
    await clock.advance(4_999);
    expect(budget.take()).toMatchObject({ reason: 'backing-off' });
    await clock.advance(1);
    expect(budget.take()).toBeUndefined();
    // The second restart without a login in between doubles the step.
    expect(budget.refusal()).toMatchObject({
      reason: 'backing-off',
      nextAllowedAt: new Date(at + 5_000 + 10_000),
    });
  });

  it('lets a restart that already waited its step (a scheduled crash restart) through', () => {
    const { budget } = budgetOn({ maxPerHour: 10 });
    budget.take();
    expect(budget.refusal()).toMatchObject({ reason: 'backing-off' });
    expect(budget.take({ ignoreBackoff: true })).toBeUndefined();
    expect(budget.restartsInLastHour()).toBe(2);
  });

  it('waits initial, double, ... up to the max for crash after crash, and starts over after a login', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 100 });
    const delays: number[] = [];
    for (let index = 0; index < 6; index++) {
      const crashedAt = clock.now();
      const at = budget.crashRestartAt();
      delays.push((at?.getTime() ?? Number.NaN) - crashedAt);
      await clock.advance(delays.at(-1)!);
      expect(budget.take({ ignoreBackoff: true })).toBeUndefined();
      await clock.advance(100); // crashes again before it logged in
    }
    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 40_000, 40_000]);

    budget.recovered();
    expect(budget.refusal()).toBeUndefined();
    expect(budget.status().nextBackoffMs).toBe(5_000);
    expect((budget.crashRestartAt()?.getTime() ?? 0) - clock.now()).toBe(5_000);
    expect(budget.restartsInLastHour()).toBe(6); // a login does not refill the hourly budget
  });

  it('puts a crash restart after the breaker closes when the cap is spent', async () => {
    const { budget, clock } = budgetOn({ maxPerHour: 1 });
    const first = clock.now();
    budget.take({ ignoreBackoff: true });
    budget.recovered();
    await clock.advance(10 * 60_000);
    expect(budget.crashRestartAt()?.getTime()).toBe(first + HOUR);
    // Close to the hour, the backoff step decides.
    await clock.advance(first + HOUR - 1_000 - clock.now());
    expect(budget.crashRestartAt()?.getTime()).toBe(clock.now() + 5_000);
  });
});
