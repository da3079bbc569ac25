import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { APP_CONFIG } from '../config/config.tokens';
import { DomainError } from '../common/domain-error';
import { MetricsRegistry } from '../common/metrics';
import type { AppConfig } from '../config/config.schema';
import { ExponentialBackoff } from '../connection/exponential-backoff';
import { IbSession } from '../connection/ib-session.repository';
import { GatewayService } from '../gateway/gateway.service';
import { HealthEventLog } from './health-events';
import { RestartCircuitBreaker } from './restart-circuit-breaker';
import { StaleDataWatchdog, type DataAssessment, type StaleScope } from './stale-data-watchdog';

/** The rungs, cheapest first: each is tried only if the one before did not bring ticks back. */
export const LADDER_RUNGS = ['resubscribe', 'reconnect', 'restart'] as const;
export type LadderRung = (typeof LADDER_RUNGS)[number];
/** idle: nothing to recover; halted: IB rejected the login, so no automatic restart until a human acts. */
export type LadderState = 'idle' | LadderRung | 'halted';

/** IB's "connectivity restored, data lost": the gateway dropped every market data line. */
const CONNECTIVITY_RESTORED_DATA_LOST = 1101;

interface Episode {
  startedAt: number;
  scope: StaleScope;
  rung: LadderRung;
  /** When the current rung took effect; ticks after it count as its success. */
  actedAt: number;
  /** Climb when no ticks came back by then. */
  deadline: number;
  delayMs: number;
  actions: number;
  /** The breaker (or the gateway's own restart budget) refused a restart in this episode. */
  restartRefused: boolean;
  /** A restart in flight: the ladder waits for it. */
  restarting: Promise<void> | undefined;
}

export interface LadderStatus {
  state: LadderState;
  since: Date;
  reason: string;
  /** Actions taken in the current episode. */
  actions: number;
  /** When the ladder climbs if no ticks come back (undefined when idle). */
  nextStepAt: Date | undefined;
  restartRefused: boolean;
  breaker: {
    state: 'closed' | 'open';
    restartsLastHour: number;
    cap: number;
    nextRestartAllowedAt: Date | undefined;
  };
}

/**
 * Brings stale data back without a human: resubscribe -> reconnect the API session -> restart the gateway,
 * each only if the previous did not help, waiting longer after every action (watchdog.backoff*). Restarts
 * go through a circuit breaker (watchdog.maxRestartsPerHour per rolling hour) and never happen while IB
 * has rejected the login (each restart is a login; IB locks accounts that retry bad ones).
 */
@Injectable()
export class RecoveryLadder implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RecoveryLadder.name);
  private readonly breaker: RestartCircuitBreaker;
  private readonly backoff: ExponentialBackoff;
  private state: LadderState = 'idle';
  private since = new Date();
  private reason = 'market data has not gone stale';
  private episode: Episode | undefined;
  private breakerState: 'closed' | 'open' = 'closed';
  private lastAssessment: DataAssessment | undefined;
  private messages: Subscription | undefined;

  constructor(
    private readonly watchdog: StaleDataWatchdog,
    private readonly ibApi: IbSession,
    private readonly gateway: GatewayService,
    private readonly events: HealthEventLog,
    private readonly metrics: MetricsRegistry,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const { backoffInitialSeconds, backoffMaxSeconds, maxRestartsPerHour } = config.watchdog;
    this.backoff = new ExponentialBackoff(backoffInitialSeconds * 1000, backoffMaxSeconds * 1000);
    this.breaker = new RestartCircuitBreaker(maxRestartsPerHour);
  }

  /**
   * Subscriptions start here, not in the constructor: Nest copies a forwardRef-injected instance onto a
   * placeholder, so `this` captured in the constructor would be a discarded copy.
   */
  onModuleInit(): void {
    this.messages = this.ibApi.systemMessages.subscribe((message) => {
      if (message.code === CONNECTIVITY_RESTORED_DATA_LOST) {
        this.resubscribeNow(`IB reported ${message.code}: ${message.message}`);
      }
    });
  }

  onModuleDestroy(): void {
    this.messages?.unsubscribe();
  }

  status(now = Date.now()): LadderStatus {
    const episode = this.episode;
    return {
      state: this.state,
      since: this.since,
      reason: this.reason,
      actions: episode?.actions ?? 0,
      nextStepAt: episode && !episode.restarting ? new Date(episode.deadline) : undefined,
      restartRefused: episode?.restartRefused ?? false,
      breaker: {
        state: this.breaker.state(now),
        restartsLastHour: Math.max(
          this.breaker.restartsInLastHour(now),
          this.gateway.status().automaticRestartsLastHour,
        ),
        cap: this.breaker.cap,
        nextRestartAllowedAt: this.breaker.nextAllowedAt(now),
      },
    };
  }

  /** Takes the next step for what the watchdog sees now. Called by the health loop. */
  step(assessment: DataAssessment): void {
    this.lastAssessment = assessment;
    const now = assessment.at;
    this.followBreaker(now);
    if (this.gateway.loginBlocked) {
      this.halt();
      return;
    }
    if (this.state === 'halted') this.transition('idle', 'the login block was lifted by a human');
    const episode = this.episode;
    if (!episode) {
      if (assessment.verdict === 'stale' && this.gateway.state === 'logged-in') this.begin(assessment);
      return;
    }
    if (episode.restarting) return;
    if (this.recovered(assessment, episode)) {
      const took = ((now - episode.startedAt) / 1000).toFixed(1);
      this.finish(
        `market data flows again after the ${episode.rung} (${episode.actions} action(s), ${took} s)`,
      );
      return;
    }
    if (assessment.verdict === 'market-closed') {
      this.finish('the market closed: nothing to recover until it opens');
      return;
    }
    if (this.gateway.state !== 'logged-in') {
      // The gateway is (re)starting or logging in: the wait for ticks starts once it is back.
      episode.deadline = now + episode.delayMs;
      return;
    }
    if (now < episode.deadline) return;
    this.climb(assessment);
  }

  /** Ticks that arrived after the rung acted, not ones from before it (the 1101 case acts while recent). */
  private recovered(assessment: DataAssessment, episode: Episode): boolean {
    if (assessment.verdict !== 'flowing') return false;
    return episode.scope === 'streams' || (assessment.probe.lastTickAt ?? 0) > episode.actedAt;
  }

  /** Resubscribes at once (IB said the lines are gone), as the first rung of an episode. */
  private resubscribeNow(why: string): void {
    if (this.episode || this.state === 'halted' || this.lastAssessment?.market.open === false) return;
    this.startEpisode('probe', Date.now());
    this.act('resubscribe', why);
  }

  private begin(assessment: DataAssessment): void {
    const scope = assessment.staleScope ?? 'probe';
    this.startEpisode(scope, assessment.at);
    // Without a session there is nothing to re-request: the session comes first.
    this.act(assessment.connected ? 'resubscribe' : 'reconnect', assessment.reason);
  }

  private climb(assessment: DataAssessment): void {
    const episode = this.episode;
    if (!episode) return;
    let next: LadderRung;
    if (episode.scope === 'streams' && assessment.staleScope === 'streams') {
      // The probe flows, so the gateway works: only the streams themselves are worth re-requesting.
      next = 'resubscribe';
    } else {
      const index = LADDER_RUNGS.indexOf(episode.rung);
      next = LADDER_RUNGS[(index + 1) % LADDER_RUNGS.length] ?? 'resubscribe';
      episode.scope = assessment.staleScope ?? episode.scope;
    }
    if (next === 'resubscribe' && !assessment.connected) next = 'reconnect';
    const quiet = `still no ticks ${((assessment.at - episode.actedAt) / 1000).toFixed(1)} s after the ${episode.rung}`;
    this.act(next, `${quiet}; ${assessment.reason}`);
  }

  private startEpisode(scope: StaleScope, now: number): void {
    this.backoff.reset();
    this.episode = {
      startedAt: now,
      scope,
      rung: 'resubscribe',
      actedAt: now,
      deadline: now,
      delayMs: 0,
      actions: 0,
      restartRefused: false,
      restarting: undefined,
    };
  }

  private act(rung: LadderRung, why: string): void {
    const episode = this.episode;
    if (!episode) return;
    const now = Date.now();
    if (rung === 'restart' && !this.mayRestart(episode, now, why)) {
      // Keep to the cheap rungs until the breaker lets a restart through.
      this.schedule(episode, 'reconnect', now);
      this.ibApi.reconnect();
      this.metrics.recoveryActions.inc({ rung: 'reconnect' });
      return;
    }
    this.schedule(episode, rung, now);
    this.metrics.recoveryActions.inc({ rung });
    switch (rung) {
      case 'resubscribe': {
        const count = this.watchdog.resubscribe();
        this.transition('resubscribe', `${why}: re-requested ${count} market data stream(s)`);
        break;
      }
      case 'reconnect':
        this.transition('reconnect', `${why}: reconnecting the IB API session`);
        this.ibApi.reconnect();
        break;
      case 'restart':
        this.transition('restart', `${why}: restarting the gateway`);
        episode.restarting = this.gateway
          .restart(`recovery ladder: ${why}`, { automatic: true })
          .catch((error: unknown) => {
            const message = error instanceof Error ? error.message : String(error);
            // CONFLICT: the gateway's own guard (login blocked, hourly budget spent by crash restarts).
            if (error instanceof DomainError && error.code === 'CONFLICT') episode.restartRefused = true;
            this.logger.warn(`The ladder's gateway restart did not happen: ${message}`);
            this.events.record(
              'ladder',
              'restart',
              'restart',
              `the gateway restart did not happen: ${message}`,
            );
          })
          .finally(() => {
            episode.restarting = undefined;
            episode.actedAt = Date.now();
            episode.deadline = episode.actedAt + episode.delayMs;
          });
        break;
    }
  }

  private schedule(episode: Episode, rung: LadderRung, now: number): void {
    episode.rung = rung;
    episode.actions++;
    episode.actedAt = now;
    episode.delayMs = this.backoff.fail();
    episode.deadline = now + episode.delayMs;
  }

  /** The breaker and the login block decide; a refusal is reported once per episode. */
  private mayRestart(episode: Episode, now: number, why: string): boolean {
    if (this.gateway.loginBlocked) return false;
    if (this.breaker.tryRestart(now)) return true;
    this.followBreaker(now);
    if (!episode.restartRefused) {
      episode.restartRefused = true;
      const next = this.breaker.nextAllowedAt(now);
      this.events.record(
        'ladder',
        episode.rung,
        episode.rung,
        `${why}: a gateway restart is needed but the circuit breaker is open (${this.breaker.restartsInLastHour(now)} of ${this.breaker.cap} restarts in the last hour); ${next ? `next restart allowed at ${next.toISOString()}` : 'automatic restarts are disabled (watchdog.maxRestartsPerHour = 0)'}; re-requesting and reconnecting meanwhile`,
      );
    }
    return false;
  }

  private followBreaker(now: number): void {
    const state = this.breaker.state(now);
    this.metrics.circuitBreakerOpen.set(state === 'open' ? 1 : 0);
    this.metrics.gatewayRestartsLastHour.set(this.breaker.restartsInLastHour(now));
    if (state === this.breakerState) return;
    const next = this.breaker.nextAllowedAt(now);
    const reason =
      state === 'open'
        ? `${this.breaker.restartsInLastHour(now)} gateway restarts in the last hour reached the cap of ${this.breaker.cap} (watchdog.maxRestartsPerHour); ${next ? `closes at ${next.toISOString()}` : 'restarts are disabled'}`
        : 'restarts in the last hour fell below the cap';
    this.events.record('breaker', this.breakerState, state, reason);
    this.breakerState = state;
  }

  private halt(): void {
    if (this.state === 'halted') return;
    this.episode = undefined;
    this.transition(
      'halted',
      'IB rejected the login: the ladder will not restart the gateway (each restart is a login, and IB locks accounts that retry bad ones) until a human starts or restarts it',
    );
  }

  private finish(reason: string): void {
    this.episode = undefined;
    this.backoff.reset();
    this.transition('idle', reason);
  }

  private transition(to: LadderState, reason: string): void {
    const from = this.state;
    this.state = to;
    this.since = new Date();
    this.reason = reason;
    this.logger.log(`Recovery ladder ${from} -> ${to}: ${reason}`);
    this.events.record('ladder', from, to, reason, this.since);
  }
}
