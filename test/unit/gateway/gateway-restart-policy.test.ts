import type { GatewayService } from '../../../src/gateway/gateway.service';
import { FakeClock } from '../../support/fake-clock';
import { FakeGatewayRuntime, gatewayOnFakeRuntime } from './fake-gateway-runtime';

const HOUR = 3_600_000;
/** Backoff 5 s doubling to 40 s, 3 automatic restarts per hour. */
const WATCHDOG = { backoffInitialSeconds: 5, backoffMaxSeconds: 40, maxRestartsPerHour: 3 };

/** A gateway started and logged in on a fake runtime. */
async function loggedIn(
  watchdog: Partial<typeof WATCHDOG> = {},
): Promise<{ gateway: GatewayService; runtime: FakeGatewayRuntime; clock: FakeClock }> {
  const clock = new FakeClock();
  const { gateway, runtime } = gatewayOnFakeRuntime(clock, { ...WATCHDOG, ...watchdog });
  await gateway.start();
  runtime.observe('logged-in');
  expect(gateway.state).toBe('logged-in');
  return { gateway, runtime, clock };
}

describe('GatewayService: crash restarts', () => {
  it('brings a crashed gateway back after the initial backoff, not before, and counts it', async () => {
    const { gateway, runtime, clock } = await loggedIn();
    const crashedAt = clock.now();
    runtime.crash(137);
    expect(gateway.state).toBe('error');
    expect(gateway.status()).toMatchObject({
      nextAutomaticRestartAt: new Date(crashedAt + 5_000).toISOString(),
      automaticRestartsLastHour: 0,
      lastError: { message: 'The gateway container exited unexpectedly (exit code 137)' },
    });

    await clock.advance(4_999);
    expect(runtime.restarts).toBe(0);
    await clock.advance(1);
    expect(runtime.restarts).toBe(1);
    expect(gateway.state).toBe('starting');
    expect(gateway.status()).toMatchObject({
      restartCount: 1,
      automaticRestartsLastHour: 1,
      nextAutomaticRestartAt: null,
    });
    expect(gateway.restartBudget()).toMatchObject({ breaker: 'closed', restartsLastHour: 1, cap: 3 });
  });

  it('doubles the wait for crash after crash without a login, and starts over once it logs in', async () => {
    const { gateway, runtime, clock } = await loggedIn({ maxRestartsPerHour: 10 });
    const waits: number[] = [];
    const crashAndWait = async () => {
      runtime.crash();
      const at = Date.parse(gateway.status().nextAutomaticRestartAt ?? '');
      waits.push(at - clock.now());
      await clock.advance(at - clock.now());
      expect(gateway.state).toBe('starting');
    };
    for (let index = 0; index < 5; index++) await crashAndWait();
    expect(waits).toEqual([5_000, 10_000, 20_000, 40_000, 40_000]);

    runtime.observe('logged-in');
    await crashAndWait();
    expect(waits.at(-1)).toBe(5_000);
  });

  it('retries a restart the runtime failed, with the next backoff step', async () => {
    const { gateway, runtime, clock } = await loggedIn();
    runtime.failNextRestart = new Error('Docker said no');
    runtime.crash();
    await clock.advance(5_000);
    expect(runtime.restarts).toBe(1);
    expect(gateway.state).toBe('error');
    expect(gateway.status().lastError?.message).toBe('Docker said no');
    const next = Date.parse(gateway.status().nextAutomaticRestartAt ?? '');
    expect(next - clock.now()).toBe(10_000);
    await clock.advance(10_000);
    expect(runtime.restarts).toBe(2);
    expect(gateway.state).toBe('starting');
    expect(gateway.status().automaticRestartsLastHour).toBe(2); // a failed restart was still a try
  });

  it('spends the same hourly budget as the ladder: crash restarts open the breaker', async () => {
    const { gateway, runtime, clock } = await loggedIn();
    const first = clock.now() + 5_000;
    for (let index = 0; index < 3; index++) {
      runtime.crash();
      await clock.advance(Date.parse(gateway.status().nextAutomaticRestartAt ?? '') - clock.now());
      runtime.observe('logged-in');
    }
    expect(runtime.restarts).toBe(3);
    expect(gateway.restartBudget()).toMatchObject({ breaker: 'open', restartsLastHour: 3 });
    const answer = await gateway.requestAutomaticRestart('recovery ladder: stale data');
    expect(answer).toMatchObject({
      outcome: 'refused',
      reason: 'budget-spent',
      restartsLastHour: 3,
      cap: 3,
      nextAllowedAt: new Date(first + HOUR),
    });
    expect(runtime.restarts).toBe(3);
  });

  it('with the cap spent, brings a crashed gateway back once the breaker closes, and says when', async () => {
    const { gateway, runtime, clock } = await loggedIn({ maxRestartsPerHour: 1 });
    expect(await gateway.requestAutomaticRestart('the ladder')).toEqual({ outcome: 'restarted' });
    const restartedAt = clock.now();
    runtime.observe('logged-in');
    await clock.advance(10 * 60_000);

    runtime.crash();
    expect(gateway.state).toBe('error');
    expect(gateway.status().reason).toBe(
      `Restarting the gateway (the container exited with code 137) at ${new Date(restartedAt + HOUR).toISOString()}: The gateway was restarted automatically 1 times in the last hour, the cap (watchdog.maxRestartsPerHour = 1); the next one is allowed at ${new Date(restartedAt + HOUR).toISOString()}`,
    );
    expect(gateway.status().nextAutomaticRestartAt).toBe(new Date(restartedAt + HOUR).toISOString());
    await clock.advance(restartedAt + HOUR - 1 - clock.now());
    expect(runtime.restarts).toBe(1);
    await clock.advance(1);
    expect(runtime.restarts).toBe(2);
    expect(gateway.state).toBe('starting');
  });

  it('with automatic restarts disabled (cap 0) leaves a crashed gateway to a human', async () => {
    const { gateway, runtime, clock } = await loggedIn({ maxRestartsPerHour: 0 });
    runtime.crash();
    await clock.advance(10 * HOUR);
    expect(runtime.restarts).toBe(0);
    expect(gateway.state).toBe('error');
    expect(gateway.status().reason).toContain('automatic restarts are disabled');
    expect(gateway.status().nextAutomaticRestartAt).toBeNull();
    await gateway.start();
    expect(runtime.starts).toBe(2);
  });

  it('a human start or stop cancels a planned crash restart', async () => {
    const { gateway, runtime, clock } = await loggedIn();
    runtime.crash();
    await gateway.stop();
    await clock.advance(HOUR);
    expect(runtime.restarts).toBe(0);
    expect(gateway.state).toBe('stopped');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('GatewayService: automatic restarts asked for (the recovery ladder)', () => {
  it('restarts and counts it while the budget allows', async () => {
    const { gateway, runtime } = await loggedIn();
    const reasons: string[] = [];
    gateway.states.subscribe((change) => reasons.push(change.reason));
    expect(gateway.automaticRestartRefusal()).toBeUndefined();
    expect(await gateway.requestAutomaticRestart('recovery ladder: no ticks')).toEqual({
      outcome: 'restarted',
    });
    expect(runtime.restarts).toBe(1);
    expect(reasons).toEqual(['Restarting: recovery ladder: no ticks']);
    expect(gateway.status()).toMatchObject({
      state: 'starting',
      restartCount: 1,
      automaticRestartsLastHour: 1,
    });
  });

  it('refuses while the backoff of the last automatic restart holds, and not after it', async () => {
    const { gateway, runtime, clock } = await loggedIn();
    await gateway.requestAutomaticRestart('first');
    const refused = await gateway.requestAutomaticRestart('second');
    expect(refused).toMatchObject({
      outcome: 'refused',
      reason: 'backing-off',
      nextAllowedAt: new Date(clock.now() + 5_000),
    });
    await clock.advance(5_000);
    expect(await gateway.requestAutomaticRestart('third')).toEqual({ outcome: 'restarted' });
    expect(runtime.restarts).toBe(2);
  });

  it('a login clears the backoff: the next request restarts at once', async () => {
    const { gateway, runtime } = await loggedIn();
    await gateway.requestAutomaticRestart('first');
    runtime.observe('logged-in');
    expect(await gateway.requestAutomaticRestart('second')).toEqual({ outcome: 'restarted' });
  });

  it('answers `failed` when the runtime cannot restart, and counts the try', async () => {
    const { gateway, runtime } = await loggedIn();
    runtime.failNextRestart = new Error('no such container');
    expect(await gateway.requestAutomaticRestart('ladder')).toEqual({
      outcome: 'failed',
      message: 'no such container',
    });
    expect(gateway.state).toBe('error');
    expect(gateway.restartBudget().restartsLastHour).toBe(1);
  });

  it('refuses with the cap spent, naming when the next is allowed; never with a cap of 0', async () => {
    const { gateway, runtime, clock } = await loggedIn({ maxRestartsPerHour: 0 });
    expect(gateway.automaticRestartRefusal()).toMatchObject({
      reason: 'budget-spent',
      cap: 0,
      nextAllowedAt: undefined,
    });
    const answer = await gateway.requestAutomaticRestart('ladder');
    expect(answer).toMatchObject({ outcome: 'refused', reason: 'budget-spent' });
    expect(answer.outcome === 'refused' && answer.message).toContain('automatic restarts are disabled');
    await clock.advance(2 * HOUR);
    expect(await gateway.requestAutomaticRestart('ladder')).toMatchObject({ outcome: 'refused' });
    expect(runtime.restarts).toBe(0);
  });
});

describe('GatewayService: a rejected login and a human', () => {
  it('refuses automatic restarts after IB rejected the login, restarts no crash, until a human restarts', async () => {
    const { gateway, runtime, clock } = await loggedIn();
    runtime.observe('login-failed', 'IBC: unrecognized username or password');
    expect(gateway.loginBlocked).toBe(true);
    await clock.advance(0);
    expect(runtime.halts).toBe(1);

    const answer = await gateway.requestAutomaticRestart('ladder');
    expect(answer).toMatchObject({ outcome: 'refused', reason: 'login-blocked' });
    expect(answer.outcome === 'refused' && answer.message).toMatch(/^Automatic restarts are stopped/);
    runtime.crash();
    await clock.advance(HOUR);
    expect(runtime.restarts).toBe(0);
    expect(gateway.state).toBe('login-failed');

    await gateway.restart('a human fixed the password');
    expect(gateway.loginBlocked).toBe(false);
    expect(runtime.restarts).toBe(1);
  });

  it("a human's restart works while the breaker is open, and does not draw on the budget", async () => {
    const { gateway, runtime } = await loggedIn({ maxRestartsPerHour: 1 });
    await gateway.requestAutomaticRestart('ladder');
    runtime.observe('logged-in');
    expect(gateway.restartBudget().breaker).toBe('open');

    await gateway.restart('requested through the API');
    expect(runtime.restarts).toBe(2);
    expect(gateway.status()).toMatchObject({ restartCount: 2, automaticRestartsLastHour: 1 });
    expect(gateway.restartBudget().breaker).toBe('open');
  });
});

describe('GatewayService: time on the clock', () => {
  it('reports a gateway that does not log in within gateway.startTimeoutSeconds as an error', async () => {
    const clock = new FakeClock();
    const { gateway } = gatewayOnFakeRuntime(clock, WATCHDOG);
    await gateway.start();
    await clock.advance(179_999);
    expect(gateway.state).toBe('starting');
    await clock.advance(1);
    expect(gateway.state).toBe('error');
    expect(gateway.status().reason).toContain('did not finish logging in within 180 s');
  });

  it('waitForOutcome returns on login or after its time, whichever comes first', async () => {
    const clock = new FakeClock();
    const { gateway, runtime } = gatewayOnFakeRuntime(clock, WATCHDOG);
    await gateway.start();
    let returned = false;
    void gateway.waitForOutcome(10).then(() => (returned = true));
    await clock.advance(9_999);
    expect(returned).toBe(false);
    await clock.advance(1);
    expect(returned).toBe(true);

    returned = false;
    void gateway.waitForOutcome(10).then(() => (returned = true));
    await clock.advance(2_000);
    runtime.observe('logged-in');
    await clock.advance(0);
    expect(returned).toBe(true);
  });

  it('counts uptime and state times on the clock', async () => {
    const clock = new FakeClock();
    const { gateway, runtime } = gatewayOnFakeRuntime(clock, WATCHDOG);
    await gateway.start();
    await clock.advance(90_000);
    runtime.observe('logged-in');
    expect(gateway.status()).toMatchObject({
      uptimeSeconds: 90,
      since: new Date(clock.now()).toISOString(),
    });
  });
});
