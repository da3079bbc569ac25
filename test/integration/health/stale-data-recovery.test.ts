import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import { connectMcpClient } from '../service/service-harness';
import {
  eventually,
  FAST_WATCHDOG,
  sleep,
  startHealthService,
  untilDataFlowing,
  type HealthTestService,
} from './health-harness';

jest.setTimeout(60_000);

const STALE_MS = FAST_WATCHDOG.staleAfterSeconds * 1000;

describe('stale-data watchdog and recovery ladder (in-process simulator)', () => {
  let running: HealthTestService | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('detects frozen market data within the threshold and climbs resubscribe -> reconnect -> restart until data flows again', async () => {
    const health = (running = await startHealthService());
    await untilDataFlowing(health);
    const frozenAt = Date.now();
    health.simulator.freezeMarketData();

    const firstAction = await eventually('the first ladder action', async () => {
      const { events } = await health.events({ source: 'ladder' });
      return events[0];
    });
    expect(firstAction).toMatchObject({ from: 'idle', to: 'resubscribe' });
    expect(firstAction.reason).toContain('EUR.USD');
    // Detected within the threshold plus a margin for one check interval and the clock round trip.
    expect(Date.parse(firstAction.at) - frozenAt).toBeLessThanOrEqual(STALE_MS + 1_500);

    // Nobody unfreezes the simulator: only the ladder's restart (a fresh gateway) can bring data back.
    await eventually('data flowing again', async () => {
      const status = await health.status();
      return status.state === 'data-flowing' && status.ladder.rung === 'idle' ? status : undefined;
    });
    const ladder = (await health.events({ source: 'ladder' })).events.map((event) => [event.from, event.to]);
    expect(ladder).toEqual([
      ['idle', 'resubscribe'],
      ['resubscribe', 'reconnect'],
      ['reconnect', 'restart'],
      ['restart', 'idle'],
    ]);
    const all = (await health.events()).events;
    const restartedAt = all.findIndex((event) => event.source === 'gateway' && event.to === 'starting');
    const reconnectedAt = all.findIndex(
      (event, index) => index > restartedAt && event.source === 'connection' && event.to === 'connected',
    );
    const recoveredAt = all.findIndex((event) => event.source === 'ladder' && event.to === 'idle');
    expect(restartedAt).toBeGreaterThan(-1);
    expect(reconnectedAt).toBeGreaterThan(restartedAt);
    expect(recoveredAt).toBeGreaterThan(reconnectedAt);
    expect(all[recoveredAt]?.reason).toContain('after the restart');
    expect(all.filter((event) => event.source === 'health').map((event) => event.to)).toEqual(
      expect.arrayContaining(['data-flowing', 'recovering']),
    );

    // The simulator saw it: a fresh gateway, ticking again for the session.
    expect(health.simulator.stats().marketDataFrozen).toBe(false);
    expect(health.service.gateway.status().restartCount).toBe(1);
    const status = await health.status();
    expect(Date.parse(status.probe.lastTickAt ?? '')).toBeGreaterThan(Date.parse(all[restartedAt]?.at ?? ''));
    expect(status.restarts).toMatchObject({
      lastHour: 1,
      maxPerHour: 3,
      breaker: 'closed',
      nextAllowedAt: null,
    });

    const metrics = await (await fetch(health.service.urls.metrics)).text();
    expect(metrics).toMatch(/ibgs_recovery_actions_total\{rung="resubscribe",gateway="default"\} 1/);
    expect(metrics).toMatch(/ibgs_recovery_actions_total\{rung="reconnect",gateway="default"\} 1/);
    expect(metrics).toMatch(/ibgs_recovery_actions_total\{rung="restart",gateway="default"\} 1/);
    expect(metrics).toMatch(/ibgs_health_events_total\{source="ladder",to="idle",gateway="default"\} 1/);
    expect(metrics).toMatch(/ibgs_health_state\{state="data-flowing",gateway="default"\} 1/);
  });

  it.each([
    { scope: 'subscriptions' as const, cure: 'resubscribe', rungs: ['resubscribe', 'idle'] },
    { scope: 'connections' as const, cure: 'reconnect', rungs: ['resubscribe', 'reconnect', 'idle'] },
  ])('climbs only as far as needed: a $scope freeze ends at the $cure', async ({ scope, rungs }) => {
    const health = (running = await startHealthService());
    await untilDataFlowing(health);
    health.simulator.freezeMarketData(true, scope);
    await eventually('the ladder back at idle', async () => {
      const { events } = await health.events({ source: 'ladder' });
      return events.some((event) => event.to === 'idle') ? true : undefined;
    });
    await sleep(FAST_WATCHDOG.backoffMaxSeconds * 1000); // nothing more happens
    expect((await health.events({ source: 'ladder' })).events.map((event) => event.to)).toEqual(rungs);
    expect(health.service.gateway.status().restartCount).toBe(0);
    expect((await health.status()).state).toBe('data-flowing');
  });

  it('stops climbing as soon as ticks come back', async () => {
    const health = (running = await startHealthService({ backoffInitialSeconds: 3, backoffMaxSeconds: 6 }));
    await untilDataFlowing(health);
    health.simulator.freezeMarketData();
    await eventually('the resubscribe', async () => {
      const { events } = await health.events({ source: 'ladder' });
      return events.some((event) => event.to === 'resubscribe') ? true : undefined;
    });
    health.simulator.freezeMarketData(false); // the feed recovers by itself within the rung's wait

    await eventually('the ladder back at idle', async () => {
      const { events } = await health.events({ source: 'ladder' });
      return events.some((event) => event.to === 'idle') ? true : undefined;
    });
    await sleep(4_000); // past the resubscribe's wait: nothing else must happen
    const ladder = (await health.events({ source: 'ladder' })).events.map((event) => event.to);
    expect(ladder).toEqual(['resubscribe', 'idle']);
    expect(health.service.gateway.status().restartCount).toBe(0);
    expect((await health.status()).state).toBe('data-flowing');
  });

  it('re-requests market data at once when IB reports 1101 (connectivity restored, data lost)', async () => {
    const health = (running = await startHealthService({ staleAfterSeconds: 30 }));
    await untilDataFlowing(health);
    // The gateway's link to IB came back, but it dropped every market data line. (Not preceded by 1100 here:
    // IBApiNext answers 1100 by reconnecting, which would re-request the lines by itself.)
    health.simulator.connectivityRestored(false);

    const recovered = await eventually('recovery after 1101', async () => {
      const { events } = await health.events({ source: 'ladder' });
      return events.find((event) => event.to === 'idle');
    });
    const ladder = (await health.events({ source: 'ladder' })).events;
    expect(ladder[0]).toMatchObject({ from: 'idle', to: 'resubscribe' });
    expect(ladder[0]?.reason).toContain('1101');
    expect(recovered.reason).toContain('after the resubscribe');
    // Long before the 30 s threshold: the ladder did not wait for staleness.
    expect(Date.parse(recovered.at) - Date.parse(ladder[0]?.at ?? '')).toBeLessThan(30_000);
    expect(health.simulator.stats().activeMarketDataSubscriptions).toBeGreaterThan(0);
  });

  it('serves the same status and history over MCP, with limit and source filters', async () => {
    const health = (running = await startHealthService());
    await untilDataFlowing(health);
    const mcp = await connectMcpClient(health.service);
    try {
      const status = await mcp.callTool({ name: 'get_health_status', arguments: {} });
      expect(status.isError).toBeFalsy();
      expect(status.structuredContent).toMatchObject({
        state: 'data-flowing',
        probe: { symbol: 'EUR.USD', subscribed: true },
        market: { open: true },
        connection: { state: 'connected', clientId: CONFIG_DEFAULTS.ib.clientId },
        ladder: { rung: 'idle' },
      });
      const events = await mcp.callTool({
        name: 'get_health_events',
        arguments: { limit: 2, source: 'health' },
      });
      const structured = events.structuredContent as { events: { source: string; to: string }[] };
      expect(structured.events).toHaveLength(2);
      expect(structured.events.every((event) => event.source === 'health')).toBe(true);
      expect(structured.events.at(-1)?.to).toBe('data-flowing');

      const badLimit = await mcp.callTool({ name: 'get_health_events', arguments: { limit: 0 } });
      expect(badLimit.isError).toBe(true);
      const response = await fetch(`${health.service.urls.base}/health/events?since=yesterday`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toContain('since');
    } finally {
      await mcp.close();
    }
  });
});
