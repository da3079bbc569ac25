import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { z } from 'zod';
import { CLOCK, dateOf, type Clock, type ClockTimer } from '../common/clock';
import { APP_CONFIG } from '../config/config.tokens';
import { MetricsRegistry } from '../common/metrics';
import type { AppConfig } from '../config/config.schema';
import { IbSession, type SessionState } from '../connection/ib-session.repository';
import { GatewayService } from '../gateway/gateway.service';
import { HealthEventLog, type HealthEventSource } from './health-events';
import { HEALTH_STATES, type HealthEvents, type HealthState, type HealthStatus } from './health.schemas';
import { RecoveryLadder, type LadderStatus } from './recovery-ladder';
import { StaleDataWatchdog, type DataAssessment } from './stale-data-watchdog';

/**
 * The health loop: asks the watchdog how the data flows, lets the recovery ladder act, and keeps the one
 * health state the API reports. Gateway and API session transitions go into the same event history.
 */
/** A gateway attached by address that refused this many connection attempts in a row needs a human. */
export const UNANSWERED_ATTEMPTS_FOR_A_HUMAN = 3;

@Injectable()
export class HealthService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HealthService.name);
  private readonly checkIntervalMs: number;
  private timer: ClockTimer | undefined;
  private stopped = false;
  private state: HealthState = 'starting';
  private reason = 'the service is starting';
  private since: Date;
  private assessment: DataAssessment | undefined;
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly gateway: GatewayService,
    private readonly ibApi: IbSession,
    private readonly watchdog: StaleDataWatchdog,
    private readonly ladder: RecoveryLadder,
    private readonly events: HealthEventLog,
    private readonly metrics: MetricsRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.since = dateOf(clock);
    // Twice a second: silence is noticed at most half a second after it passes the threshold (detection must
    // come within threshold + 1 s, and the check itself may wait for a clock reading), and checks stay cheap.
    this.checkIntervalMs = Math.max(100, Math.min(500, (config.watchdog.staleAfterSeconds * 1000) / 4));
  }

  onApplicationBootstrap(): void {
    this.subscriptions.push(
      this.gateway.states.subscribe((change) =>
        this.record('gateway', change.from, change.to, change.reason, change.at),
      ),
    );
    let previous: SessionState | undefined;
    this.subscriptions.push(
      this.ibApi.states.subscribe((state) => {
        const from = previous;
        previous = state;
        if (from === undefined || from === state) return;
        this.record('connection', from, state, this.connectionReason(state));
      }),
    );
    this.scheduleCheck(0);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }

  status(): z.infer<typeof HealthStatus> {
    const now = this.clock.now();
    const assessment = this.assessment;
    const ladder = this.ladder.status();
    const session = this.ibApi.status();
    const probe = this.watchdog.probeNow();
    const lastTickAt = probe.lastTickAt;
    return {
      state: this.state,
      reason: this.reason,
      since: this.since.toISOString(),
      gateway: { state: this.gateway.state, loginBlocked: this.gateway.loginBlocked },
      connection: { state: session.state, clientId: session.clientId ?? null },
      market: {
        symbol: probe.symbol,
        open: assessment?.market.open ?? null,
        nextOpen: assessment?.market.nextOpen?.toISOString() ?? null,
        timeZoneId: assessment?.market.timeZoneId ?? null,
        gatewayTime: new Date(
          assessment ? assessment.gatewayTime + (now - assessment.at) : now,
        ).toISOString(),
      },
      probe: {
        symbol: probe.symbol,
        conId: probe.conId ?? null,
        subscribed: probe.subscribed,
        lastTickAt: lastTickAt === undefined ? null : new Date(lastTickAt).toISOString(),
        error: probe.error ?? null,
      },
      lastTickAgeSeconds: lastTickAt === undefined ? null : Math.max(0, (now - lastTickAt) / 1000),
      staleAfterSeconds: this.watchdog.staleAfterSeconds,
      clientStreams: {
        total: assessment?.streams.length ?? 0,
        stale: assessment?.streams.filter((stream) => stream.stale).map((stream) => stream.symbol) ?? [],
      },
      ladder: {
        rung: ladder.state,
        since: ladder.since.toISOString(),
        reason: ladder.reason,
        actions: ladder.actions,
        nextStepAt: ladder.nextStepAt?.toISOString() ?? null,
      },
      restarts: {
        lastHour: ladder.breaker.restartsLastHour,
        maxPerHour: ladder.breaker.cap,
        breaker: ladder.breaker.state,
        nextAllowedAt:
          ladder.breaker.state === 'open'
            ? (ladder.breaker.nextRestartAllowedAt?.toISOString() ?? null)
            : null,
      },
    };
  }

  history(options: {
    limit: number;
    since?: string;
    source?: HealthEventSource;
  }): z.infer<typeof HealthEvents> {
    const events = this.events.list({
      limit: options.limit,
      ...(options.since === undefined ? {} : { since: new Date(options.since) }),
      ...(options.source === undefined ? {} : { source: options.source }),
    });
    const { kept, dropped } = this.events.size;
    return {
      events: events.map((event) => ({ ...event, at: event.at.toISOString() })),
      kept,
      dropped,
    };
  }

  // ---- The loop ----

  private scheduleCheck(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.check()
        .catch((error: unknown) => this.logger.warn(`Health check failed: ${String(error)}`))
        .finally(() => this.scheduleCheck(this.checkIntervalMs));
    }, delayMs);
  }

  private async check(): Promise<void> {
    const assessment = await this.watchdog.assess();
    if (this.stopped) return;
    this.assessment = assessment;
    this.ladder.step(assessment);
    const lastTickAt = assessment.probe.lastTickAt;
    if (lastTickAt !== undefined)
      this.metrics.probeTickAge.set(
        { gateway: this.config.gateway.name },
        (this.clock.now() - lastTickAt) / 1000,
      );
    const { state, reason } = this.judge(assessment, this.ladder.status());
    if (state === this.state) {
      this.reason = reason;
      return;
    }
    this.record('health', this.state, state, reason);
    this.state = state;
    this.reason = reason;
    this.since = dateOf(this.clock);
    for (const name of HEALTH_STATES)
      this.metrics.healthState.set(
        { state: name, gateway: this.config.gateway.name },
        name === state ? 1 : 0,
      );
  }

  /** The one state that says what is true, most pressing first. */
  private judge(assessment: DataAssessment, ladder: LadderStatus): { state: HealthState; reason: string } {
    const gateway = this.gateway;
    if (
      gateway.loginBlocked ||
      gateway.state === 'login-failed' ||
      gateway.state === 'too-many-failed-logins'
    ) {
      return { state: 'login-failed', reason: gateway.status().reason };
    }
    const attached = gateway.mode === 'address';
    if (ladder.state !== 'idle' && ladder.state !== 'halted') {
      if (ladder.restartRefused && attached) {
        return {
          state: 'needs-human',
          reason: `a gateway restart is needed but the gateway runs outside the supervisor (${gateway.status().address ?? 'by address'}): a human must restart it; ${ladder.reason}`,
        };
      }
      if (ladder.restartRefused && ladder.breaker.state === 'open') {
        return {
          state: 'circuit-open',
          reason: `a gateway restart is needed but ${ladder.breaker.restartsLastHour} of ${ladder.breaker.cap} restarts in the last hour are spent; ${ladder.reason}`,
        };
      }
      return { state: 'recovering', reason: `${ladder.state}: ${ladder.reason}` };
    }
    switch (gateway.state) {
      case 'stopped':
        return { state: 'gateway-stopped', reason: gateway.status().reason };
      case 'starting':
      case 'logging-in':
      case 'awaiting-2fa':
      case 'existing-session':
        return { state: gateway.state, reason: gateway.status().reason };
      case 'error':
        return { state: 'gateway-error', reason: gateway.status().reason };
      default:
        break;
    }
    switch (assessment.verdict) {
      case 'no-session': {
        const failed = this.ibApi.status().failedAttempts;
        if (attached && failed >= UNANSWERED_ATTEMPTS_FOR_A_HUMAN) {
          return {
            state: 'needs-human',
            reason: `the gateway at ${gateway.status().address ?? 'its address'} does not answer its API port (${failed} failed connection attempts); it runs outside the supervisor, so a human must start or restart it; ${this.connectionReason(this.ibApi.state)}`,
          };
        }
        return { state: 'logged-in', reason: this.connectionReason(this.ibApi.state) };
      }
      case 'awaiting-probe':
      case 'waiting-first-tick':
        return { state: 'api-connected', reason: assessment.reason };
      case 'flowing':
        return { state: 'data-flowing', reason: assessment.reason };
      case 'market-closed': {
        const next = assessment.market.nextOpen;
        return {
          state: 'market-closed',
          reason: `${assessment.reason}${next ? `; next session opens ${next.toISOString()}` : ''}`,
        };
      }
      case 'stale':
        return { state: 'stale', reason: assessment.reason };
    }
  }

  private connectionReason(state: SessionState): string {
    const session = this.ibApi.status();
    const target = session.target ? `${session.target.host}:${session.target.port}` : 'the gateway';
    if (state === 'connected') {
      const collided = session.target && session.clientId !== session.target.clientId;
      return `connected to ${target} as client ${session.clientId}${collided ? ` (client id ${session.target?.clientId} was in use)` : ''}`;
    }
    if (session.holdReason) return `not connecting: ${session.holdReason}`;
    if (session.nextAttemptAt) {
      return `connecting to ${target}: attempt ${session.failedAttempts + 1} at ${session.nextAttemptAt.toISOString()}`;
    }
    return state === 'connecting'
      ? `connecting to ${target} as client ${session.clientId}`
      : `disconnected from ${target}`;
  }

  private record(source: HealthEventSource, from: string, to: string, reason: string, at?: Date): void {
    this.events.record(source, from, to, reason, at);
  }
}
