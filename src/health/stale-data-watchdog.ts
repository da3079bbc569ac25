import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Observable, Subscription } from 'rxjs';
import { CLOCK, type Clock } from '../common/clock';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import { ExponentialBackoff } from '../connection/exponential-backoff';
import { IbSession, type SessionState } from '../connection/ib-session.repository';
import { ContractsService } from '../contracts/contracts.service';
import { GatewayClock } from './gateway-clock';
import { ProbeDataRepository, type ProbeContract } from './probe-data.repository';
import { TradingHours } from './trading-hours';

/** A market data stream a client asked for, as the market data feature reports it. */
export interface ClientStream {
  key: string;
  symbol: string;
  conId?: number;
  lastTickAt: Date | undefined;
}

/** The client streams the watchdog watches and the ladder's first rung re-requests. */
export interface ClientStreamSource {
  streams(): ClientStream[];
  /** Cancels and re-requests every client stream; returns how many. */
  resubscribeAll(): number;
}

export const CLIENT_STREAMS = Symbol('CLIENT_STREAMS');

/** What the watchdog needs of the IB session: whether it is up. */
export interface SessionView {
  readonly state: SessionState;
  readonly states: Observable<SessionState>;
}

/** The probe's market data, as the times its ticks arrived (ProbeDataRepository). */
export interface ProbeData {
  tickArrivals(contract: ProbeContract, what: string): Observable<number>;
}

/** A contract's hours, as IB's contract details give them. */
export interface HoursSource {
  timeZoneId?: string;
  tradingHours?: string;
  liquidHours?: string;
}

/** What the watchdog needs of contracts: the probe resolved, and the hours of the contracts it watches. */
export interface ProbeContracts {
  resolveContract(query: { symbol: string }): Promise<{ contract: ProbeContract; details: HoursSource }>;
  contractDetails(query: { conId: number }): Promise<{ contract?: HoursSource }>;
}

export type DataVerdict =
  /** The API session is down (not for long enough to call the data stale). */
  | 'no-session'
  /** Connected, the probe is not subscribed yet (or IB refused it: see the reason). */
  | 'awaiting-probe'
  | 'market-closed'
  /** Subscribed and the market is open (or its hours are not known yet), no tick yet: not stale yet. */
  | 'waiting-first-tick'
  | 'flowing'
  | 'stale';

/** What is stale: the probe (the gateway's data as a whole), only some client streams, or the session. */
export type StaleScope = 'probe' | 'streams' | 'session';

export interface StreamAssessment {
  key: string;
  symbol: string;
  conId: number | undefined;
  lastTickAt: Date | undefined;
  /** Its own market per its contract details; undefined when not known (no conId, hours not fetched). */
  marketOpen: boolean | undefined;
  stale: boolean;
}

export interface DataAssessment {
  /** This machine's time of the assessment (ms). */
  at: number;
  /** The gateway's time at that moment (ms). */
  gatewayTime: number;
  connected: boolean;
  verdict: DataVerdict;
  staleScope: StaleScope | undefined;
  reason: string;
  market: {
    /** The probe's market per its trading hours on the gateway's clock; undefined when not known. */
    open: boolean | undefined;
    /** The next session start (gateway clock), when the hours list one. */
    nextOpen: Date | undefined;
    timeZoneId: string | undefined;
  };
  probe: {
    symbol: string;
    conId: number | undefined;
    subscribed: boolean;
    lastTickAt: number | undefined;
    error: string | undefined;
  };
  /** Since the probe last ticked, or since the watchdog started expecting ticks (reconnect, market open). */
  quietForMs: number;
  streams: StreamAssessment[];
}

interface HoursEntry {
  /** undefined when IB's hours string or zone could not be read. */
  hours: TradingHours | undefined;
  fetchedAt: number;
}

/** Contract details list a few days of hours; fetch them again when they no longer cover "now" or age. */
const HOURS_MAX_AGE_MS = 60 * 60 * 1000;
const CLOCK_MAX_AGE_MS = 60_000;

/**
 * Knows when market data should flow and whether it does: a probe subscription (config.watchdog.probeSymbol,
 * an FX pair by default, trading around the clock on weekdays) plus the streams clients asked for. A market
 * that is closed per the contract's trading hours, judged on the gateway's clock, is not stale. Policy only:
 * the probe's IB conversation is ProbeDataRepository's, time is the Clock's.
 */
@Injectable()
export class StaleDataWatchdog implements OnModuleDestroy {
  private readonly logger = new Logger(StaleDataWatchdog.name);
  private readonly staleAfterMs: number;
  private readonly probeSymbol: string;
  private probeContract: ProbeContract | undefined;
  private probeSubscription: Subscription | undefined;
  private probeLastTickAt: number | undefined;
  private probeError: string | undefined;
  private probeStarting: Promise<void> | undefined;
  private readonly probeBackoff = new ExponentialBackoff(1_000, 60_000);
  private probeRetryAt = 0;
  private readonly hours = new Map<number, HoursEntry>();
  private readonly hoursPending = new Map<number, Promise<void>>();
  private readonly streamFirstSeen = new Map<string, number>();
  /** When ticks started to be expected: session up, probe (re)subscribed, market opened. */
  private armedAt: number;
  private sessionDownSince: number | undefined;
  private wasOpen: boolean | undefined;
  private readonly stateSubscription: Subscription;

  constructor(
    @Inject(IbSession) private readonly ibApi: SessionView,
    @Inject(ProbeDataRepository) private readonly probeData: ProbeData,
    private readonly gatewayClock: GatewayClock,
    @Inject(ContractsService) private readonly contracts: ProbeContracts,
    @Inject(CLIENT_STREAMS) private readonly clientStreams: ClientStreamSource,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'watchdog'>,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.staleAfterMs = config.watchdog.staleAfterSeconds * 1000;
    this.probeSymbol = config.watchdog.probeSymbol;
    this.armedAt = clock.now();
    this.sessionDownSince = clock.now();
    this.stateSubscription = this.ibApi.states.subscribe((state) => {
      if (state === 'connected') {
        this.armedAt = this.clock.now();
        this.sessionDownSince = undefined;
        this.gatewayClock.sync().catch(() => undefined);
      } else {
        this.sessionDownSince ??= this.clock.now();
      }
    });
  }

  /** The probe as it is now (assessments are taken once per check interval). */
  probeNow(): DataAssessment['probe'] {
    return {
      symbol: this.probeSymbol,
      conId: this.probeContract?.conId,
      subscribed: this.probeSubscription !== undefined,
      lastTickAt: this.probeLastTickAt,
      error: this.probeError,
    };
  }

  get staleAfterSeconds(): number {
    return this.staleAfterMs / 1000;
  }

  onModuleDestroy(): void {
    this.stateSubscription.unsubscribe();
    this.probeSubscription?.unsubscribe();
    this.probeSubscription = undefined;
  }

  /**
   * Looks at the probe and the client streams now. Keeps the probe, the clock and the hours fresh on the
   * way; before it calls the data stale it asks the gateway's clock again, so a market that just closed
   * (or a simulator clock moved to a weekend) is seen as closed, not stale.
   */
  async assess(): Promise<DataAssessment> {
    const connected = this.ibApi.state === 'connected';
    if (connected) this.maintain();
    let assessment = this.evaluate(this.clock.now(), connected);
    // Confirm with a clock reading taken during the silence: the gateway's clock may have moved on (a real
    // gateway's market just closed, or the simulator's clock was set to a weekend).
    const silenceMs = assessment.staleScope === 'probe' ? assessment.quietForMs : this.staleAfterMs;
    if (assessment.verdict === 'stale' && connected && this.gatewayClock.ageMs >= silenceMs) {
      await this.gatewayClock.sync().catch(() => undefined);
      if (this.probeContract) await this.refreshHours(this.probeContract.conId);
      assessment = this.evaluate(this.clock.now(), this.ibApi.state === 'connected');
    }
    return assessment;
  }

  /**
   * The first rung of the recovery ladder: re-requests the probe and every client stream. Returns how many
   * streams were re-requested.
   */
  resubscribe(): number {
    let count = 0;
    if (this.probeContract && this.ibApi.state === 'connected') {
      this.closeProbe();
      this.openProbe(this.probeContract);
      count++;
    }
    return count + this.clientStreams.resubscribeAll();
  }

  // ---- Upkeep ----

  private maintain(): void {
    const now = this.clock.now();
    if (!this.probeSubscription && !this.probeStarting && now >= this.probeRetryAt) {
      this.probeStarting = this.startProbe().finally(() => {
        this.probeStarting = undefined;
      });
    }
    if (this.gatewayClock.ageMs > CLOCK_MAX_AGE_MS) this.gatewayClock.sync().catch(() => undefined);
    const conIds = new Set<number>();
    if (this.probeContract) conIds.add(this.probeContract.conId);
    for (const stream of this.clientStreams.streams())
      if (stream.conId !== undefined) conIds.add(stream.conId);
    for (const conId of conIds) void this.refreshHours(conId);
  }

  private async startProbe(): Promise<void> {
    try {
      const { contract, details } = await this.contracts.resolveContract({ symbol: this.probeSymbol });
      this.probeContract = contract;
      if (details.timeZoneId && details.tradingHours && !this.hours.has(contract.conId)) {
        this.hours.set(contract.conId, { hours: parseHours(details), fetchedAt: this.clock.now() });
      }
      if (this.ibApi.state === 'connected') this.openProbe(contract);
    } catch (error) {
      this.probeFailed(`cannot resolve the probe ${this.probeSymbol}: ${describe(error)}`);
    }
  }

  private openProbe(contract: ProbeContract): void {
    this.armedAt = this.clock.now();
    const ticks = this.probeData.tickArrivals(contract, `the watchdog probe ${this.probeSymbol}`);
    const subscription = ticks.subscribe({
      next: (tickAt) => {
        if (tickAt > (this.probeLastTickAt ?? 0)) this.probeLastTickAt = tickAt;
        this.probeError = undefined;
        this.probeBackoff.reset();
      },
      error: (error: unknown) => {
        this.probeSubscription = undefined;
        this.probeFailed(`IB ended the probe subscription to ${this.probeSymbol}: ${describe(error)}`);
      },
    });
    // A refusal during subscribe already ended it (and scheduled the retry).
    this.probeSubscription = subscription.closed ? undefined : subscription;
  }

  private closeProbe(): void {
    this.probeSubscription?.unsubscribe();
    this.probeSubscription = undefined;
  }

  private probeFailed(message: string): void {
    this.probeError = message;
    const retryInMs = this.probeBackoff.fail();
    this.probeRetryAt = this.clock.now() + retryInMs;
    this.logger.warn(`${message}; retrying in ${retryInMs / 1000} s`);
  }

  /** Fetches a contract's trading hours again when they no longer cover the gateway's "now" or have aged. */
  private async refreshHours(conId: number): Promise<void> {
    const entry = this.hours.get(conId);
    const fresh =
      entry !== undefined &&
      this.clock.now() - entry.fetchedAt < HOURS_MAX_AGE_MS &&
      (entry.hours === undefined || entry.hours.covers(this.gatewayClock.now()));
    if (fresh) return;
    let pending = this.hoursPending.get(conId);
    if (!pending) {
      pending = this.fetchHours(conId).finally(() => this.hoursPending.delete(conId));
      this.hoursPending.set(conId, pending);
    }
    await pending;
  }

  private async fetchHours(conId: number): Promise<void> {
    try {
      const result = await this.contracts.contractDetails({ conId });
      const contract = result.contract;
      if (!contract) return;
      this.hours.set(conId, { hours: parseHours(contract), fetchedAt: this.clock.now() });
    } catch (error) {
      this.logger.debug(`Trading hours of conId ${conId} not available: ${describe(error)}`);
    }
  }

  // ---- The verdict ----

  private evaluate(now: number, connected: boolean): DataAssessment {
    const gatewayTime = this.gatewayClock.toGatewayTime(now);
    const probeConId = this.probeContract?.conId;
    const entry = probeConId === undefined ? undefined : this.hours.get(probeConId);
    const open = marketOpen(entry, gatewayTime);
    if (open === true && this.wasOpen === false) this.armedAt = now; // the open is not a silence
    if (open !== undefined) this.wasOpen = open;
    const quietSince = Math.max(this.probeLastTickAt ?? Number.NEGATIVE_INFINITY, this.armedAt);
    const quietForMs = now - quietSince;
    const streams = this.assessStreams(now, gatewayTime);
    const base = {
      at: now,
      gatewayTime,
      connected,
      market: {
        open,
        nextOpen: nextOpenOf(entry, gatewayTime),
        timeZoneId: entry?.hours?.timeZoneId,
      },
      probe: this.probeNow(),
      quietForMs,
      streams,
    };
    const verdict = (verdict: DataVerdict, reason: string, staleScope?: StaleScope): DataAssessment => ({
      ...base,
      verdict,
      reason,
      staleScope,
    });
    const threshold = `${this.staleAfterMs / 1000} s`;
    if (!connected) {
      const downForMs = now - (this.sessionDownSince ?? now);
      if (open !== false && entry !== undefined && downForMs > this.staleAfterMs) {
        return verdict('stale', `the API session has been down for ${seconds(downForMs)}`, 'session');
      }
      return verdict('no-session', 'the API session is not connected');
    }
    if (!this.probeSubscription) {
      return verdict('awaiting-probe', this.probeError ?? `subscribing to the probe ${this.probeSymbol}`);
    }
    const probeRecent = this.probeLastTickAt !== undefined && now - this.probeLastTickAt <= this.staleAfterMs;
    const staleStreams = streams.filter((stream) => stream.stale);
    if (probeRecent) {
      if (staleStreams.length > 0) {
        const names = staleStreams.map((stream) => stream.symbol).join(', ');
        return verdict('stale', `no tick for ${threshold} on open-market streams: ${names}`, 'streams');
      }
      return verdict(
        'flowing',
        `${this.probeSymbol} ticked ${seconds(now - (this.probeLastTickAt ?? now))} ago`,
      );
    }
    if (open === false) {
      return verdict('market-closed', `the ${this.probeSymbol} market is closed per its trading hours`);
    }
    if (quietForMs > this.staleAfterMs && (open === true || (entry !== undefined && !entry.hours))) {
      return verdict(
        'stale',
        `no ${this.probeSymbol} tick for ${seconds(quietForMs)} while its market is open`,
        'probe',
      );
    }
    return verdict(
      'waiting-first-tick',
      open === undefined
        ? `waiting for ${this.probeSymbol}'s trading hours and ticks`
        : `waiting for ${this.probeSymbol} to tick`,
    );
  }

  private assessStreams(now: number, gatewayTime: number): StreamAssessment[] {
    const streams = this.clientStreams.streams();
    const keys = new Set(streams.map((stream) => stream.key));
    for (const key of this.streamFirstSeen.keys()) if (!keys.has(key)) this.streamFirstSeen.delete(key);
    return streams.map((stream) => {
      const firstSeen = this.streamFirstSeen.get(stream.key) ?? now;
      this.streamFirstSeen.set(stream.key, firstSeen);
      const entry = stream.conId === undefined ? undefined : this.hours.get(stream.conId);
      const open = entry?.hours?.isOpen(gatewayTime);
      const quietSince = Math.max(
        stream.lastTickAt?.getTime() ?? Number.NEGATIVE_INFINITY,
        firstSeen,
        this.armedAt,
      );
      return {
        key: stream.key,
        symbol: stream.symbol,
        conId: stream.conId,
        lastTickAt: stream.lastTickAt,
        marketOpen: open,
        stale: open === true && now - quietSince > this.staleAfterMs,
      };
    });
  }
}

/** Hours judged on the gateway's clock: undefined while not fetched or not covering now; open if unreadable. */
function marketOpen(entry: HoursEntry | undefined, gatewayTime: number): boolean | undefined {
  if (!entry) return undefined;
  if (!entry.hours) return undefined;
  return entry.hours.isOpen(gatewayTime);
}

function nextOpenOf(entry: HoursEntry | undefined, gatewayTime: number): Date | undefined {
  return entry?.hours?.nextOpen(gatewayTime);
}

/** Liquid hours when IB lists them (a quiet pre-market is no fault), else trading hours. */
function parseHours(details: HoursSource): TradingHours | undefined {
  const zone = details.timeZoneId;
  const hours = details.liquidHours || details.tradingHours;
  if (!zone || !hours) return undefined;
  return TradingHours.parse(hours, zone);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const ibError = error as { error?: { message?: string } };
  return ibError.error?.message ?? String(error);
}
