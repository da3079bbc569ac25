import { Logger } from '@nestjs/common';
import { BehaviorSubject, Subject, throwError, type Observable } from 'rxjs';
import type { SessionState } from '../../../src/connection/ib-session.repository';
import { GatewayClock } from '../../../src/health/gateway-clock';
import type { ProbeContract } from '../../../src/health/probe-data.repository';
import {
  StaleDataWatchdog,
  type ClientStream,
  type HoursSource,
  type ProbeContracts,
  type ProbeData,
} from '../../../src/health/stale-data-watchdog';
import { FakeClock } from '../../support/fake-clock';

beforeAll(() => {
  Logger.overrideLogger(false);
});

/** IDEALPRO FX as IB lists it (New York time): 17:15 to 17:00 the next day, closed on the weekend. */
const FX_HOURS: HoursSource = {
  timeZoneId: 'US/Eastern',
  tradingHours:
    '20261117:1715-20261118:1700;20261118:1715-20261119:1700;20261119:1715-20261120:1700;20261121:CLOSED;20261122:CLOSED',
};
/** Wednesday 10:00 New York: FX trades. */
const FX_OPEN = Date.parse('2026-11-18T15:00:00Z');
/** Wednesday 17:05 New York: the daily break, until 17:15 (22:15 UTC). */
const FX_BREAK = Date.parse('2026-11-18T22:05:00Z');
/** Saturday noon: closed. */
const FX_SATURDAY = Date.parse('2026-11-21T12:00:00Z');
const STALE_MS = 2_000;
const EURUSD = { conId: 12087792, symbol: 'EUR', secType: 'CASH', exchange: 'IDEALPRO' } as ProbeContract;

interface Harness {
  watchdog: StaleDataWatchdog;
  clock: FakeClock;
  session: BehaviorSubject<SessionState>;
  /** The probe stream the watchdog holds now (a new one per subscription). */
  ticks(): Subject<number>;
  tick(): void;
  opened: () => number;
  /** Makes the gateway's clock read `time` from now on (the simulator's clock moved). */
  setGatewayTime(time: number): void;
  streams: ClientStream[];
  resubscribedStreams: () => number;
  probeRefusal: { error: Error | undefined };
  contracts: { failResolve: Error | undefined; hours: HoursSource };
}

/** A watchdog against fakes: a session, a probe stream, contracts with FX hours, and a gateway clock. */
async function watchdogAt(start: number, options: { failResolve?: Error } = {}): Promise<Harness> {
  const clock = new FakeClock(start);
  let gatewayOffset = 0;
  const session = new BehaviorSubject<SessionState>('connected');
  const sessionView = {
    get state() {
      return session.value;
    },
    states: session.asObservable(),
  };
  let current = new Subject<number>();
  let opened = 0;
  const probeRefusal: { error: Error | undefined } = { error: undefined };
  const probeData: ProbeData = {
    tickArrivals: (): Observable<number> => {
      opened++;
      if (probeRefusal.error) {
        const error = probeRefusal.error;
        return throwError(() => error);
      }
      current = new Subject<number>();
      return current;
    },
  };
  const contractsState = { failResolve: options.failResolve, hours: FX_HOURS };
  const contracts: ProbeContracts = {
    resolveContract: async () => {
      await Promise.resolve(); // an answer from IB comes later
      if (contractsState.failResolve) throw contractsState.failResolve;
      return { contract: EURUSD, details: contractsState.hours };
    },
    contractDetails: async () => Promise.resolve({ contract: contractsState.hours }),
  };
  const gatewayClock = new GatewayClock(
    { currentTime: async () => Promise.resolve(Math.floor((clock.now() + gatewayOffset) / 1000)) },
    clock,
  );
  const streams: ClientStream[] = [];
  let resubscribedStreams = 0;
  const watchdog = new StaleDataWatchdog(
    sessionView,
    probeData,
    gatewayClock,
    contracts,
    {
      streams: () => streams,
      resubscribeAll: () => {
        resubscribedStreams += streams.length;
        return streams.length;
      },
    },
    {
      watchdog: {
        probeSymbol: 'EUR.USD',
        staleAfterSeconds: STALE_MS / 1000,
        backoffInitialSeconds: 1,
        backoffMaxSeconds: 4,
        maxRestartsPerHour: 3,
      },
    },
    clock,
  );
  await watchdog.assess(); // starts the probe
  await clock.advance(0);
  return {
    watchdog,
    clock,
    session,
    ticks: () => current,
    tick: () => current.next(clock.now()),
    opened: () => opened,
    setGatewayTime: (time) => {
      gatewayOffset = time - clock.now();
    },
    streams,
    resubscribedStreams: () => resubscribedStreams,
    probeRefusal,
    contracts: contractsState,
  };
}

describe('StaleDataWatchdog: the probe', () => {
  it('calls data flowing up to the threshold and stale 1 ms past it while the market is open', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.tick();
    expect(await h.watchdog.assess()).toMatchObject({ verdict: 'flowing', market: { open: true } });
    await h.clock.advance(STALE_MS);
    expect((await h.watchdog.assess()).verdict).toBe('flowing');
    await h.clock.advance(1);
    const stale = await h.watchdog.assess();
    expect(stale).toMatchObject({ verdict: 'stale', staleScope: 'probe', quietForMs: STALE_MS + 1 });
    expect(stale.reason).toBe('no EUR.USD tick for 2.0 s while its market is open');
    h.tick();
    expect((await h.watchdog.assess()).verdict).toBe('flowing');
  });

  it('waits for the first tick for the threshold after subscribing, then calls the silence stale', async () => {
    const h = await watchdogAt(FX_OPEN);
    expect(await h.watchdog.assess()).toMatchObject({
      verdict: 'waiting-first-tick',
      probe: { subscribed: true, conId: EURUSD.conId, lastTickAt: undefined },
    });
    await h.clock.advance(STALE_MS);
    expect((await h.watchdog.assess()).verdict).toBe('waiting-first-tick');
    await h.clock.advance(1);
    expect((await h.watchdog.assess()).verdict).toBe('stale');
  });

  it('does not count a replayed old value as a tick', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.tick();
    await h.clock.advance(STALE_MS + 1);
    h.ticks().next(h.clock.now() - STALE_MS - 1); // the same old arrival time again
    expect((await h.watchdog.assess()).verdict).toBe('stale');
  });

  it('calls a closed market closed, not stale, however long it is quiet', async () => {
    const h = await watchdogAt(FX_SATURDAY);
    for (let check = 0; check < 12; check++) {
      await h.clock.advance(5 * 60_000);
      const assessment = await h.watchdog.assess();
      expect(assessment.verdict).toBe('market-closed');
    }
    const closed = await h.watchdog.assess();
    expect(closed.market).toMatchObject({ open: false, timeZoneId: 'US/Eastern' });
    expect(closed.reason).toBe('the EUR.USD market is closed per its trading hours');
  });

  it("judges the hours on the gateway's clock, and reads that clock again before calling a silence stale", async () => {
    const h = await watchdogAt(FX_OPEN);
    h.tick();
    // The gateway's clock moves to a Saturday (this machine's still says Wednesday); the ticks stop.
    h.setGatewayTime(FX_SATURDAY);
    await h.clock.advance(STALE_MS + 1);
    const assessment = await h.watchdog.assess();
    expect(assessment.verdict).toBe('market-closed');
    expect(Math.abs(assessment.gatewayTime - (FX_SATURDAY + STALE_MS + 1))).toBeLessThan(1_000);
  });

  it('does not call the silence of a market that just opened stale: the wait starts at the open', async () => {
    const h = await watchdogAt(FX_BREAK);
    expect((await h.watchdog.assess()).verdict).toBe('market-closed');
    const opens = Date.parse('2026-11-18T22:15:00Z');
    expect((await h.watchdog.assess()).market.nextOpen?.getTime()).toBe(opens);
    await h.clock.advance(opens - h.clock.now());
    expect((await h.watchdog.assess()).verdict).toBe('waiting-first-tick');
    await h.clock.advance(STALE_MS);
    expect((await h.watchdog.assess()).verdict).toBe('waiting-first-tick');
    await h.clock.advance(1);
    expect((await h.watchdog.assess()).verdict).toBe('stale');
  });

  it('treats hours it cannot read as open: silence is stale', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.contracts.hours = { timeZoneId: 'Mars/Olympus', tradingHours: 'whenever' };
    await h.clock.advance(60 * 60_000 + 1); // the hours are fetched again after an hour
    await h.watchdog.assess();
    await h.clock.advance(0);
    const assessment = await h.watchdog.assess();
    expect(assessment.market.open).toBeUndefined();
    expect(assessment.verdict).toBe('stale');
  });

  it('retries a probe IB refused with a growing wait, and says why meanwhile', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.probeRefusal.error = new Error('No market data permissions for IDEALPRO CASH');
    h.watchdog.resubscribe(); // the probe is opened again, and refused
    expect(h.opened()).toBe(2);
    const refused = await h.watchdog.assess();
    expect(refused.verdict).toBe('awaiting-probe');
    expect(refused.reason).toContain('No market data permissions');
    await h.clock.advance(999);
    await h.watchdog.assess();
    expect(h.opened()).toBe(2);
    await h.clock.advance(1);
    await h.watchdog.assess();
    await h.clock.advance(0);
    expect(h.opened()).toBe(3); // after 1 s
    await h.clock.advance(1_999);
    await h.watchdog.assess();
    expect(h.opened()).toBe(3);
    h.probeRefusal.error = undefined;
    await h.clock.advance(1);
    await h.watchdog.assess();
    await h.clock.advance(0);
    expect(h.opened()).toBe(4); // after 2 s more
    h.tick();
    expect((await h.watchdog.assess()).verdict).toBe('flowing');
  });

  it('says why when the probe cannot be resolved, and tries again after a wait', async () => {
    const h = await watchdogAt(FX_OPEN, { failResolve: new Error('No security definition has been found') });
    const assessment = await h.watchdog.assess();
    expect(assessment).toMatchObject({ verdict: 'awaiting-probe', probe: { subscribed: false } });
    expect(assessment.reason).toBe('cannot resolve the probe EUR.USD: No security definition has been found');
    h.contracts.failResolve = undefined;
    await h.clock.advance(1_000);
    await h.watchdog.assess();
    await h.clock.advance(0);
    expect((await h.watchdog.assess()).verdict).toBe('waiting-first-tick');
  });
});

describe('StaleDataWatchdog: the session', () => {
  it('calls a session down for longer than the threshold stale while the market is open', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.tick();
    h.session.next('disconnected');
    expect(await h.watchdog.assess()).toMatchObject({ verdict: 'no-session', connected: false });
    await h.clock.advance(STALE_MS);
    expect((await h.watchdog.assess()).verdict).toBe('no-session');
    await h.clock.advance(1);
    expect(await h.watchdog.assess()).toMatchObject({ verdict: 'stale', staleScope: 'session' });
  });

  it('does not call a session down over a closed market stale', async () => {
    const h = await watchdogAt(FX_SATURDAY);
    h.session.next('disconnected');
    await h.clock.advance(10 * STALE_MS);
    expect((await h.watchdog.assess()).verdict).toBe('no-session');
  });

  it('gives the probe the threshold again after the session comes back', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.tick();
    h.session.next('disconnected');
    await h.clock.advance(10_000);
    h.session.next('connected');
    await h.clock.advance(STALE_MS);
    expect((await h.watchdog.assess()).verdict).toBe('waiting-first-tick');
    await h.clock.advance(1);
    expect((await h.watchdog.assess()).verdict).toBe('stale');
  });
});

describe('StaleDataWatchdog: client streams', () => {
  it('calls a quiet open-market stream stale while the probe flows, by its own threshold', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.streams.push({ key: 'a', symbol: 'GBP.USD', conId: 12087797, lastTickAt: undefined });
    h.tick();
    expect((await h.watchdog.assess()).verdict).toBe('flowing'); // first seen now
    await h.clock.advance(0); // the stream's hours arrive
    await h.clock.advance(STALE_MS);
    h.tick();
    expect((await h.watchdog.assess()).verdict).toBe('flowing');
    await h.clock.advance(1);
    h.tick();
    const assessment = await h.watchdog.assess();
    expect(assessment).toMatchObject({ verdict: 'stale', staleScope: 'streams' });
    expect(assessment.reason).toBe('no tick for 2 s on open-market streams: GBP.USD');
    expect(assessment.streams).toEqual([
      expect.objectContaining({ key: 'a', marketOpen: true, stale: true }),
    ]);

    h.streams[0]!.lastTickAt = new Date(h.clock.now());
    expect((await h.watchdog.assess()).verdict).toBe('flowing');
  });

  it('never calls a stream without known hours stale', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.streams.push({ key: 'b', symbol: 'XYZ', conId: undefined, lastTickAt: undefined });
    await h.clock.advance(10 * STALE_MS);
    h.tick();
    const assessment = await h.watchdog.assess();
    expect(assessment.verdict).toBe('flowing');
    expect(assessment.streams[0]).toMatchObject({ marketOpen: undefined, stale: false });
  });

  it('resubscribe re-requests the probe and every client stream', async () => {
    const h = await watchdogAt(FX_OPEN);
    h.streams.push({ key: 'a', symbol: 'AAPL', conId: 265598, lastTickAt: undefined });
    h.streams.push({ key: 'b', symbol: 'MSFT', conId: 272093, lastTickAt: undefined });
    expect(h.watchdog.resubscribe()).toBe(3);
    expect(h.opened()).toBe(2);
    expect(h.resubscribedStreams()).toBe(2);
    h.session.next('disconnected');
    expect(h.watchdog.resubscribe()).toBe(2); // no probe without a session
  });
});
