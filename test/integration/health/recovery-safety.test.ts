import {
  eventually,
  FAST_WATCHDOG,
  FX_CLOSED,
  FX_OPEN,
  FX_REOPENS,
  sleep,
  startHealthService,
  untilDataFlowing,
  type HealthTestService,
} from './health-harness';

jest.setTimeout(60_000);

const STALE_MS = FAST_WATCHDOG.staleAfterSeconds * 1000;

/** What the ladder must NOT do: act on a closed market, restart past the hourly cap, restart after a failed login. */
describe('recovery ladder safety (in-process simulator)', () => {
  let running: HealthTestService | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('treats a closed market as closed, not stale: no recovery action, and data flows again when it opens', async () => {
    const health = (running = await startHealthService());
    await untilDataFlowing(health);
    const connections = health.simulator.stats().connectedClients;
    health.simulator.setClock(FX_CLOSED); // Saturday on the gateway's clock

    const closed = await eventually('market-closed', async () => {
      const status = await health.status();
      return status.state === 'market-closed' ? status : undefined;
    });
    expect(closed.market).toMatchObject({
      symbol: 'EUR.USD',
      open: false,
      nextOpen: FX_REOPENS,
      timeZoneId: 'US/Eastern',
    });
    expect(Math.abs(Date.parse(closed.market.gatewayTime) - FX_CLOSED)).toBeLessThan(60_000);
    await sleep(3 * STALE_MS);

    expect((await health.status()).state).toBe('market-closed');
    expect((await health.events({ source: 'ladder' })).events).toEqual([]);
    expect((await health.events({ source: 'gateway' })).events.map((event) => event.to)).not.toContain(
      'starting',
    );
    expect(health.simulator.stats().connectedClients).toEqual(connections); // never reconnected
    expect(health.service.gateway.status().restartCount).toBe(0);

    health.simulator.setClock(FX_OPEN);
    await untilDataFlowing(health);
    expect((await health.events({ source: 'ladder' })).events).toEqual([]);
  });

  it('opens the circuit breaker when a restart would exceed the hourly cap, says so, and restarts no more', async () => {
    const health = (running = await startHealthService({ maxRestartsPerHour: 1 }));
    await untilDataFlowing(health);
    health.simulator.freezeMarketData();
    await eventually('recovery by the one allowed restart', async () => {
      const { events } = await health.events({ source: 'ladder' });
      return events.some((event) => event.from === 'restart' && event.to === 'idle') ? true : undefined;
    });
    await untilDataFlowing(health);

    health.simulator.freezeMarketData(); // the same fault again within the hour
    const opened = await eventually('the breaker opening', async () => {
      const { events } = await health.events({ source: 'breaker' });
      return events.find((event) => event.to === 'open');
    });
    expect(opened.from).toBe('closed');
    expect(opened.reason).toContain('cap of 1');
    const status = await eventually('circuit-open', async () => {
      const current = await health.status();
      return current.state === 'circuit-open' ? current : undefined;
    });
    expect(status.restarts).toMatchObject({ lastHour: 1, maxPerHour: 1, breaker: 'open' });
    const firstRestart = (await health.events({ source: 'gateway' })).events.find(
      (event) => event.to === 'starting',
    );
    expect(Date.parse(status.restarts.nextAllowedAt ?? '')).toBeCloseTo(
      Date.parse(firstRestart?.at ?? '') + 3_600_000,
      -4,
    );
    expect(status.reason).toContain('restart is needed');

    await sleep(2 * FAST_WATCHDOG.backoffMaxSeconds * 1000); // the ladder keeps to the cheap rungs
    expect(health.service.gateway.status().restartCount).toBe(1);
    expect(health.simulator.stats().marketDataFrozen).toBe(true);
    const refused = (await health.events({ source: 'ladder' })).events.filter((event) =>
      event.reason.includes('circuit breaker is open'),
    );
    expect(refused).toHaveLength(1); // said once, not on every cycle
  });

  it('never restarts the gateway after IB rejected the login, and says why', async () => {
    const health = (running = await startHealthService());
    await untilDataFlowing(health);
    health.simulator.login.set('login-failed'); // connections drop; IBC would show the failed-login dialog

    const halted = await eventually('the ladder halted', async () => {
      const { events } = await health.events({ source: 'ladder' });
      return events.find((event) => event.to === 'halted');
    });
    expect(halted.reason).toContain('rejected the login');
    const status = await eventually('login-failed', async () => {
      const current = await health.status();
      return current.state === 'login-failed' ? current : undefined;
    });
    expect(status.gateway).toEqual({ state: 'login-failed', loginBlocked: true });
    expect(status.ladder.rung).toBe('halted');

    await sleep(STALE_MS + 2 * FAST_WATCHDOG.backoffMaxSeconds * 1000); // long enough for a whole ladder
    const ladder = (await health.events({ source: 'ladder' })).events.map((event) => event.to);
    expect(ladder).not.toContain('restart');
    expect(ladder).not.toContain('reconnect');
    expect(health.service.gateway.status().restartCount).toBe(0);
    expect(health.simulator.stats().gatewayState).toBe('login-failed');
    expect((await health.status()).state).toBe('login-failed');
  });
});
