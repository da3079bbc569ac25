import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Observable, Subscription } from 'rxjs';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { MetricsRegistry } from '../common/metrics';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import { ExponentialBackoff } from '../connection/exponential-backoff';
import { IbCode } from '../connection/ib-errors';
import { IbSession } from '../connection/ib-session.repository';
import {
  GatewayService,
  type BreakerState,
  type GatewayState,
  type RestartAnswer,
  type RestartBudgetStatus,
  type RestartRefusal,
} from '../gateway/gateway.service';
import { HealthEventLog, type HealthEventSource } from './health-events';
import { StaleDataWatchdog, type DataAssessment, type StaleScope } from './stale-data-watchdog';

/** The rungs, cheapest first: each is tried only if the one before did not bring ticks back. */
export const LADDER_RUNGS = ['resubscribe', 'reconnect', 'restart'] as const;
export type LadderRung = (typeof LADDER_RUNGS)[number];
/** idle: nothing to recover; halted: IB rejected the login, so no automatic restart until a human acts. */
export type LadderState = 'idle' | LadderRung | 'halted';

/** The first rung: the watchdog re-requests the probe and every client stream; returns how many. */
export interface LadderResubscriber {
  resubscribe(): number;
}

/** The second rung, and IB's word that the data lines are gone (1101). */
export interface LadderSession {
  reconnect(): void;
  readonly systemMessages: Observable<{ code: number; message: string }>;
}

/** The third rung: the gateway, which owns the one restart policy and answers a request with a verdict. */
export interface LadderGateway {
  readonly state: GatewayState;
  readonly loginBlocked: boolean;
  restartBudget(): RestartBudgetStatus;
  automaticRestartRefusal(): RestartRefusal | undefined;
  requestAutomaticRestart(reason: string): Promise<RestartAnswer>;
}

/** Where transitions go (HealthEventLog). */
export interface LadderEvents {
  record(source: HealthEventSource, from: string, to: string, reason: string, at?: Date): unknown;
}

export type LadderMetrics = Pick<
  MetricsRegistry,
  'recoveryActions' | 'circuitBreakerOpen' | 'gatewayRestartsLastHour'
>;

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
  /** The gateway refused a restart in this episode (breaker open, backoff, or a race with a login block). */
  restartRefused: boolean;
  /** A restart request in flight: the ladder waits for the gateway's answer. */
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
  /** The gateway's one restart budget, as the ladder sees it. */
  breaker: {
    state: BreakerState;
    restartsLastHour: number;
    cap: number;
    nextRestartAllowedAt: Date | undefined;
  };
}

/**
 * Brings stale data back without a human: resubscribe -> reconnect the API session -> restart the gateway,
 * each only if the previous did not help, giving every rung longer to show it helped (watchdog.backoff*,
 * doubling per action of an episode). Restarts are the gateway's to grant: it owns the one restart budget
 * (watchdog.maxRestartsPerHour per rolling hour, its breaker and backoff, crash restarts included) and never
 * restarts while IB has rejected the login (each restart is a login; IB locks accounts that retry bad ones).
 * While it refuses, the ladder keeps to the cheap rungs. Time comes from the Clock.
 */
@Injectable()
export class RecoveryLadder implements OnModuleDestroy {
  private readonly logger = new Logger(RecoveryLadder.name);
  /** How long each rung gets to bring ticks back. */
  private readonly patience: ExponentialBackoff;
  private state: LadderState = 'idle';
  private since: Date;
  private reason = 'market data has not gone stale';
  private episode: Episode | undefined;
  private breakerState: BreakerState = 'closed';
  private lastAssessment: DataAssessment | undefined;
  private readonly messages: Subscription;
  /** The `gateway` label of this ladder's metrics. */
  private readonly gatewayName: string;

  constructor(
    @Inject(StaleDataWatchdog) private readonly watchdog: LadderResubscriber,
    @Inject(IbSession) private readonly ibApi: LadderSession,
    @Inject(GatewayService) private readonly gateway: LadderGateway,
    @Inject(HealthEventLog) private readonly events: LadderEvents,
    @Inject(MetricsRegistry) private readonly metrics: LadderMetrics,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'watchdog'> & { gateway: { name: string } },
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.gatewayName = config.gateway.name;
    const { backoffInitialSeconds, backoffMaxSeconds } = config.watchdog;
    this.patience = new ExponentialBackoff(backoffInitialSeconds * 1000, backoffMaxSeconds * 1000);
    this.since = dateOf(clock);
    this.messages = this.ibApi.systemMessages.subscribe((message) => {
      if (message.code === IbCode.CONNECTIVITY_RESTORED_DATA_LOST) {
        this.resubscribeNow(`IB reported ${message.code}: ${message.message}`);
      }
    });
  }

  onModuleDestroy(): void {
    this.messages.unsubscribe();
  }

  status(): LadderStatus {
    const episode = this.episode;
    const budget = this.gateway.restartBudget();
    return {
      state: this.state,
      since: this.since,
      reason: this.reason,
      actions: episode?.actions ?? 0,
      nextStepAt: episode && !episode.restarting ? new Date(episode.deadline) : undefined,
      restartRefused: episode?.restartRefused ?? false,
      breaker: {
        state: budget.breaker,
        restartsLastHour: budget.restartsLastHour,
        cap: budget.cap,
        nextRestartAllowedAt: budget.nextAllowedAt,
      },
    };
  }

  /** Takes the next step for what the watchdog sees now. Called by the health loop. */
  step(assessment: DataAssessment): void {
    this.lastAssessment = assessment;
    const now = assessment.at;
    this.followBreaker();
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
    this.startEpisode('probe', this.clock.now());
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
    this.patience.reset();
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
    const now = this.clock.now();
    if (rung === 'restart') {
      const refusal = this.gateway.automaticRestartRefusal();
      if (refusal) {
        // Keep to the cheap rungs until the gateway grants a restart.
        this.reportRefusal(episode, refusal, why);
        this.schedule(episode, 'reconnect', now);
        this.ibApi.reconnect();
        this.metrics.recoveryActions.inc({ rung: 'reconnect', gateway: this.gatewayName });
        return;
      }
    }
    this.schedule(episode, rung, now);
    this.metrics.recoveryActions.inc({ rung, gateway: this.gatewayName });
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
          .requestAutomaticRestart(`recovery ladder: ${why}`)
          .then(
            (answer) => this.onRestartAnswer(episode, answer),
            (error: unknown) =>
              this.onRestartAnswer(episode, {
                outcome: 'failed',
                message: error instanceof Error ? error.message : String(error),
              }),
          )
          .finally(() => {
            episode.restarting = undefined;
            episode.actedAt = this.clock.now();
            episode.deadline = episode.actedAt + episode.delayMs;
          });
        break;
    }
  }

  /** The gateway's verdict on a restart the ladder asked for. */
  private onRestartAnswer(episode: Episode, answer: RestartAnswer): void {
    if (answer.outcome === 'restarted') return;
    // Refused: the policy changed between the ladder's look and the gateway's turn (a login block, a crash
    // restart spending the budget). Failed: the runtime could not restart the gateway.
    if (answer.outcome === 'refused') episode.restartRefused = true;
    this.logger.warn(`The ladder's gateway restart did not happen: ${answer.message}`);
    this.events.record(
      'ladder',
      'restart',
      'restart',
      `the gateway restart did not happen: ${answer.message}`,
    );
  }

  /** A refusal is reported once per episode: the ladder asks again on every cycle. */
  private reportRefusal(episode: Episode, refusal: RestartRefusal, why: string): void {
    if (refusal.reason === 'budget-spent') this.followBreaker();
    if (episode.restartRefused) return;
    episode.restartRefused = true;
    let because: string;
    switch (refusal.reason) {
      case 'budget-spent': {
        const next = refusal.nextAllowedAt;
        because = `the circuit breaker is open (${refusal.restartsLastHour} of ${refusal.cap} restarts in the last hour); ${next ? `next restart allowed at ${next.toISOString()}` : 'automatic restarts are disabled (watchdog.maxRestartsPerHour = 0)'}`;
        break;
      }
      case 'backing-off':
        because = `the restart backoff holds it until ${refusal.nextAllowedAt.toISOString()}`;
        break;
      default:
        because = `the gateway refused: ${refusal.message}`;
    }
    this.events.record(
      'ladder',
      episode.rung,
      episode.rung,
      `${why}: a gateway restart is needed but ${because}; re-requesting and reconnecting meanwhile`,
    );
  }

  private schedule(episode: Episode, rung: LadderRung, now: number): void {
    episode.rung = rung;
    episode.actions++;
    episode.actedAt = now;
    episode.delayMs = this.patience.fail();
    episode.deadline = now + episode.delayMs;
  }

  /** Follows the gateway's breaker: metrics, and a 'breaker' event when it opens or closes. */
  private followBreaker(): void {
    const budget = this.gateway.restartBudget();
    const state = budget.breaker;
    this.metrics.circuitBreakerOpen.set({ gateway: this.gatewayName }, state === 'open' ? 1 : 0);
    this.metrics.gatewayRestartsLastHour.set({ gateway: this.gatewayName }, budget.restartsLastHour);
    if (state === this.breakerState) return;
    const next = budget.nextAllowedAt;
    const reason =
      state === 'open'
        ? `${budget.restartsLastHour} gateway restarts in the last hour reached the cap of ${budget.cap} (watchdog.maxRestartsPerHour); ${next ? `closes at ${next.toISOString()}` : 'restarts are disabled'}`
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
    this.patience.reset();
    this.transition('idle', reason);
  }

  private transition(to: LadderState, reason: string): void {
    const from = this.state;
    this.state = to;
    this.since = dateOf(this.clock);
    this.reason = reason;
    this.logger.log(`Recovery ladder ${from} -> ${to}: ${reason}`);
    this.events.record('ladder', from, to, reason, this.since);
  }
}
