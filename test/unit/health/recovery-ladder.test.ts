import { Logger } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { AppConfig } from '../../../src/config/config.schema';
import type { GatewayService } from '../../../src/gateway/gateway.service';
import type { HealthEventSource } from '../../../src/health/health-events';
import { RecoveryLadder, type LadderEvents, type LadderMetrics } from '../../../src/health/recovery-ladder';
import type { DataAssessment, DataVerdict, StaleScope } from '../../../src/health/stale-data-watchdog';
import { FakeClock } from '../../support/fake-clock';
import { gatewayOnFakeRuntime, type FakeGatewayRuntime } from '../gateway/fake-gateway-runtime';

beforeAll(() => {
  Logger.overrideLogger(false);
});

/** Rungs get 1 s, 2 s, then 4 s to show they helped; 3 automatic restarts per hour. */
const WATCHDOG: Partial<AppConfig['watchdog']> = {
  staleAfterSeconds: 2,
  backoffInitialSeconds: 1,
  backoffMaxSeconds: 4,
  maxRestartsPerHour: 3,
};

interface Recorded {
  source: HealthEventSource;
  from: string;
  to: string;
  reason: string;
}

interface Harness {
  ladder: RecoveryLadder;
  clock: FakeClock;
  gateway: GatewayService;
  runtime: FakeGatewayRuntime;
  events: Recorded[];
  resubscribes: () => number;
  reconnects: () => number;
  systemMessages: Subject<{ code: number; message: string }>;
  /** A watchdog assessment taken now. */
  see(verdict: DataVerdict, options?: AssessmentOptions): DataAssessment;
  /** The ladder's transitions as [from, to]. */
  rungs(): string[][];
}

interface AssessmentOptions {
  lastTickAt?: number;
  staleScope?: StaleScope;
  connected?: boolean;
  open?: boolean;
}

/** A ladder whose gateway is a real GatewayService (the one restart policy) on a fake runtime. */
async function ladderHarness(watchdog: Partial<AppConfig['watchdog']> = {}): Promise<Harness> {
  const clock = new FakeClock();
  const config = { ...WATCHDOG, ...watchdog };
  const { gateway, runtime } = gatewayOnFakeRuntime(clock, config);
  await gateway.start();
  runtime.observe('logged-in');
  const events: Recorded[] = [];
  const recorder: LadderEvents = {
    record: (source, from, to, reason) => events.push({ source, from, to, reason }),
  };
  const metrics: LadderMetrics = {
    recoveryActions: { inc: () => undefined },
    circuitBreakerOpen: { set: () => undefined },
    gatewayRestartsLastHour: { set: () => undefined },
  } as unknown as LadderMetrics;
  let resubscribes = 0;
  let reconnects = 0;
  const systemMessages = new Subject<{ code: number; message: string }>();
  const ladder = new RecoveryLadder(
    { resubscribe: () => ++resubscribes && 2 },
    { reconnect: () => void reconnects++, systemMessages },
    gateway,
    recorder,
    metrics,
    { watchdog: { ...policyWatchdog(), ...config }, gateway: { name: 'default' } },
    clock,
  );
  const see = (verdict: DataVerdict, options: AssessmentOptions = {}): DataAssessment => {
    const now = clock.now();
    const stale = verdict === 'stale';
    return {
      at: now,
      gatewayTime: now,
      connected: options.connected ?? true,
      verdict,
      staleScope: stale ? (options.staleScope ?? 'probe') : undefined,
      reason: stale ? 'no EUR.USD tick for 2.5 s while its market is open' : verdict,
      market: { open: options.open ?? true, nextOpen: undefined, timeZoneId: 'US/Eastern' },
      probe: {
        symbol: 'EUR.USD',
        conId: 12087792,
        subscribed: true,
        lastTickAt: options.lastTickAt,
        error: undefined,
      },
      quietForMs: 0,
      streams: [],
    };
  };
  return {
    ladder,
    clock,
    gateway,
    runtime,
    events,
    resubscribes: () => resubscribes,
    reconnects: () => reconnects,
    systemMessages,
    see,
    rungs: () => events.filter((event) => event.source === 'ladder').map((event) => [event.from, event.to]),
  };
}

function policyWatchdog(): AppConfig['watchdog'] {
  return {
    probeSymbol: 'EUR.USD',
    staleAfterSeconds: 2,
    backoffInitialSeconds: 1,
    backoffMaxSeconds: 4,
    maxRestartsPerHour: 3,
  };
}

/** Steps the ladder with `verdict` every 100 ms for `ms` (every 500 ms, the health loop's pace, past 10 s). */
async function stepFor(h: Harness, ms: number, verdict: DataVerdict = 'stale', options?: AssessmentOptions) {
  const every = ms > 10_000 ? 500 : 100;
  for (let elapsed = 0; elapsed < ms; elapsed += every) {
    await h.clock.advance(every);
    h.ladder.step(h.see(verdict, options));
  }
}

describe('RecoveryLadder: the rungs', () => {
  it('resubscribes at once, reconnects after 1 s, restarts after 2 s more, each only if ticks did not return', async () => {
    const h = await ladderHarness();
    h.ladder.step(h.see('stale'));
    expect(h.rungs()).toEqual([['idle', 'resubscribe']]);
    expect(h.resubscribes()).toBe(1);
    expect(h.ladder.status().nextStepAt?.getTime()).toBe(h.clock.now() + 1_000);

    await h.clock.advance(999);
    h.ladder.step(h.see('stale'));
    expect(h.reconnects()).toBe(0);
    await h.clock.advance(1);
    h.ladder.step(h.see('stale'));
    expect(h.reconnects()).toBe(1);
    expect(h.rungs().at(-1)).toEqual(['resubscribe', 'reconnect']);

    await h.clock.advance(1_999);
    h.ladder.step(h.see('stale'));
    expect(h.runtime.restarts).toBe(0);
    await h.clock.advance(1);
    h.ladder.step(h.see('stale'));
    expect(h.rungs().at(-1)).toEqual(['reconnect', 'restart']);
    await h.clock.advance(0); // the gateway's answer
    expect(h.runtime.restarts).toBe(1);
    expect(h.gateway.status().automaticRestartsLastHour).toBe(1);
    expect(h.rungs().at(-1)?.[1]).toBe('restart');
  });

  it('stops at the first rung that brings ticks back', async () => {
    const h = await ladderHarness();
    h.ladder.step(h.see('stale'));
    await h.clock.advance(300);
    h.ladder.step(h.see('flowing', { lastTickAt: h.clock.now() - 50 }));
    expect(h.rungs()).toEqual([
      ['idle', 'resubscribe'],
      ['resubscribe', 'idle'],
    ]);
    expect(h.events.at(-1)?.reason).toContain('after the resubscribe (1 action(s), 0.3 s)');
    await stepFor(h, 10_000, 'flowing', { lastTickAt: h.clock.now() });
    expect(h.reconnects()).toBe(0);
    expect(h.rungs()).toHaveLength(2);
  });

  it('does not take ticks from before the rung acted as its success', async () => {
    const h = await ladderHarness();
    const before = h.clock.now() - 1;
    h.systemMessages.next({ code: 1101, message: 'Connectivity restored - data lost' });
    expect(h.rungs()).toEqual([['idle', 'resubscribe']]);
    expect(h.events[0]?.reason).toContain('IB reported 1101');
    await stepFor(h, 900, 'flowing', { lastTickAt: before });
    expect(h.ladder.status().state).toBe('resubscribe');
    h.ladder.step(h.see('flowing', { lastTickAt: h.clock.now() }));
    expect(h.ladder.status().state).toBe('idle');
  });

  it('waits for a restarting gateway to log in before the next rung gets its time', async () => {
    const h = await ladderHarness();
    h.ladder.step(h.see('stale'));
    await stepFor(h, 3_000); // resubscribe, reconnect, restart
    await h.clock.advance(0);
    expect(h.runtime.restarts).toBe(1);
    expect(h.gateway.state).toBe('starting');
    await stepFor(h, 30_000); // however long the login takes, the ladder waits
    expect(h.rungs().at(-1)).toEqual(['reconnect', 'restart']);
    h.runtime.observe('logged-in');
    await stepFor(h, 3_900);
    expect(h.rungs().at(-1)).toEqual(['reconnect', 'restart']);
    await stepFor(h, 200);
    // Back to the cheap rungs: the restart did not help either (4 s is the longest wait).
    expect(h.rungs().at(-1)).toEqual(['restart', 'resubscribe']);
    expect(h.ladder.status().nextStepAt?.getTime()).toBe(h.clock.now() - 100 + 4_000);
  });

  it('starts a new episode with the shortest wait again after a recovery', async () => {
    const h = await ladderHarness();
    h.ladder.step(h.see('stale'));
    await stepFor(h, 1_000); // reconnect: the next wait would be 2 s
    await h.clock.advance(100);
    h.ladder.step(h.see('flowing', { lastTickAt: h.clock.now() }));
    expect(h.ladder.status().state).toBe('idle');
    await h.clock.advance(5_000);
    h.ladder.step(h.see('stale'));
    expect(h.ladder.status()).toMatchObject({ state: 'resubscribe', actions: 1 });
    expect(h.ladder.status().nextStepAt?.getTime()).toBe(h.clock.now() + 1_000);
  });

  it('only re-requests streams while the probe flows (the gateway works)', async () => {
    const h = await ladderHarness();
    await stepFor(h, 20_000, 'stale', { staleScope: 'streams' });
    expect(h.rungs().every(([, to]) => to === 'resubscribe')).toBe(true);
    expect(h.reconnects()).toBe(0);
    expect(h.runtime.restarts).toBe(0);
    expect(h.resubscribes()).toBeGreaterThan(3);
  });

  it('reconnects first when the session itself is down', async () => {
    const h = await ladderHarness();
    h.ladder.step(h.see('stale', { staleScope: 'session', connected: false }));
    expect(h.rungs()).toEqual([['idle', 'reconnect']]);
    expect(h.resubscribes()).toBe(0);
  });
});

describe('RecoveryLadder: what it must not do', () => {
  it('does nothing while the market is closed, also on IB 1101', async () => {
    const h = await ladderHarness();
    await stepFor(h, 60_000, 'market-closed', { open: false });
    h.systemMessages.next({ code: 1101, message: 'Connectivity restored - data lost' });
    expect(h.events).toEqual([]);
    expect(h.resubscribes() + h.reconnects() + h.runtime.restarts).toBe(0);
  });

  it('ends an episode when the market closes mid-way', async () => {
    const h = await ladderHarness();
    h.ladder.step(h.see('stale'));
    await h.clock.advance(500);
    h.ladder.step(h.see('market-closed', { open: false }));
    expect(h.rungs().at(-1)).toEqual(['resubscribe', 'idle']);
    expect(h.events.at(-1)?.reason).toContain('the market closed');
    await stepFor(h, 10_000, 'market-closed', { open: false });
    expect(h.reconnects()).toBe(0);
  });

  it('does not act on stale data before the gateway is logged in', async () => {
    const h = await ladderHarness();
    h.runtime.crash();
    await stepFor(h, 2_000);
    expect(h.rungs()).toEqual([]);
  });

  it('halts after IB rejected the login, takes no rung, and resumes when a human lifts the block', async () => {
    const h = await ladderHarness();
    h.ladder.step(h.see('stale'));
    h.runtime.observe('login-failed', 'unrecognized username or password');
    await stepFor(h, 60_000);
    expect(h.rungs()).toEqual([
      ['idle', 'resubscribe'],
      ['resubscribe', 'halted'],
    ]);
    expect(h.events.at(-1)?.reason).toContain('until a human starts or restarts it');
    expect(h.reconnects()).toBe(0);
    expect(h.runtime.restarts).toBe(0);
    expect(h.ladder.status().state).toBe('halted');

    await h.gateway.restart('a human fixed the password');
    h.runtime.observe('logged-in');
    h.ladder.step(h.see('flowing', { lastTickAt: h.clock.now() }));
    expect(h.rungs().at(-1)).toEqual(['halted', 'idle']);
    expect(h.events.at(-1)?.reason).toContain('lifted by a human');
  });
});

describe('RecoveryLadder: restarts are the gateway to grant', () => {
  /** Runs one episode that ends in a restart which brings data back. */
  async function recoverByRestart(h: Harness): Promise<void> {
    h.ladder.step(h.see('stale'));
    await stepFor(h, 3_000);
    await h.clock.advance(0);
    h.runtime.observe('logged-in');
    await h.clock.advance(500);
    h.ladder.step(h.see('flowing', { lastTickAt: h.clock.now() }));
    expect(h.rungs().at(-1)).toEqual(['restart', 'idle']);
  }

  it('keeps to the cheap rungs while the breaker is open, says so once, and restarts again once it closes', async () => {
    const h = await ladderHarness({ maxRestartsPerHour: 1 });
    const firstRestartAt = h.clock.now() + 3_000;
    await recoverByRestart(h);
    h.ladder.step(h.see('flowing', { lastTickAt: h.clock.now() }));
    const opened = h.events.find((event) => event.source === 'breaker');
    expect(opened).toMatchObject({ from: 'closed', to: 'open' });
    expect(opened?.reason).toContain('reached the cap of 1');

    h.ladder.step(h.see('stale'));
    await stepFor(h, 60_000);
    expect(h.runtime.restarts).toBe(1);
    const refusals = h.events.filter((event) => event.reason.includes('circuit breaker is open'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]?.reason).toContain('(1 of 1 restarts in the last hour)');
    expect(refusals[0]?.reason).toContain(
      `next restart allowed at ${new Date(firstRestartAt + 3_600_000).toISOString()}`,
    );
    expect(h.reconnects()).toBeGreaterThan(10); // reconnect stands in for the restart
    expect(h.ladder.status()).toMatchObject({
      restartRefused: true,
      breaker: { state: 'open', restartsLastHour: 1, cap: 1 },
    });
    expect(h.ladder.status().breaker.nextRestartAllowedAt?.getTime()).toBe(firstRestartAt + 3_600_000);

    await h.clock.advance(firstRestartAt + 3_600_000 - h.clock.now());
    await stepFor(h, 10_000);
    await h.clock.advance(0);
    expect(h.events.filter((event) => event.source === 'breaker').map((event) => event.to)).toEqual([
      'open',
      'closed',
      'open',
    ]);
    expect(h.runtime.restarts).toBe(2);
  });

  it('counts crash restarts: a budget spent by crashes refuses the ladder', async () => {
    const h = await ladderHarness({ maxRestartsPerHour: 1 });
    h.runtime.crash();
    await h.clock.advance(1_000); // the crash restart after the first backoff step
    expect(h.runtime.restarts).toBe(1);
    h.runtime.observe('logged-in');
    h.ladder.step(h.see('stale'));
    await stepFor(h, 10_000);
    expect(h.runtime.restarts).toBe(1);
    expect(h.events.some((event) => event.reason.includes('circuit breaker is open'))).toBe(true);
  });

  it('records a restart the gateway refused when asked (the policy changed meanwhile)', async () => {
    const h = await ladderHarness();
    jest.spyOn(h.gateway, 'requestAutomaticRestart').mockResolvedValue({
      outcome: 'refused',
      reason: 'login-blocked',
      message: 'Automatic restarts are stopped until a human starts or restarts the gateway',
    });
    h.ladder.step(h.see('stale'));
    await stepFor(h, 3_000);
    await h.clock.advance(0);
    expect(h.events.at(-1)).toMatchObject({ from: 'restart', to: 'restart' });
    expect(h.events.at(-1)?.reason).toContain('the gateway restart did not happen: Automatic restarts');
    expect(h.ladder.status().restartRefused).toBe(true);
  });

  it('records a restart the runtime failed, without calling it a refusal', async () => {
    const h = await ladderHarness();
    h.runtime.failNextRestart = new Error('Docker is gone');
    h.ladder.step(h.see('stale'));
    await stepFor(h, 3_000);
    await h.clock.advance(0);
    expect(h.events.at(-1)?.reason).toBe('the gateway restart did not happen: Docker is gone');
    expect(h.ladder.status().restartRefused).toBe(false);
  });
});
