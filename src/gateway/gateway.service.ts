import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { filter, firstValueFrom, Observable, race, Subject } from 'rxjs';
import type { z } from 'zod';
import { dateOf, type Clock, type ClockTimer } from '../common/clock';
import { Redactor } from '../common/redactor';
import type { AppConfig } from '../config/config.schema';
import type { IbApiTarget } from '../connection/ib-session.repository';
import type { GatewayMode, GatewayRuntime, RuntimeEvent } from './gateway-runtime';
import {
  LOGIN_BLOCKING_STATES,
  type GatewayObservation,
  type GatewayState,
  type GatewayStateChange,
} from './gateway-state';
import type { GatewayLogs, GatewayStatus } from './gateway.schemas';
import {
  RestartBudget,
  type RestartAnswer,
  type RestartBudgetStatus,
  type RestartRefusal,
} from './restart-budget';

export type { GatewayState, GatewayStateChange } from './gateway-state';

export interface GatewayLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

const STARTING: Record<GatewayMode, string> = {
  container: 'Starting the gateway container',
  simulator: 'Starting the simulated gateway',
  address: 'Attaching to the gateway at its address',
};

export type { BreakerState, RestartAnswer, RestartBudgetStatus, RestartRefusal } from './restart-budget';

/**
 * The gateway's lifecycle and the one truth about its state: starts, adopts, stops and restarts it through a
 * runtime (a Docker container, or the in-process simulator), turns what the runtime observes into state
 * changes, and owns the one restart policy: crash restarts and the recovery ladder's restarts draw on one
 * {@link RestartBudget} (an hourly cap with its breaker, and one backoff). It never retries a login IB has
 * rejected until a human asks.
 */
@Injectable()
export class GatewayService implements OnApplicationShutdown {
  private current: GatewayState = 'stopped';
  private since: Date;
  private reason = 'Not started yet';
  private readonly changes = new Subject<GatewayStateChange>();
  private blockedBecause: string | undefined;
  private lastError: { message: string; at: Date } | undefined;
  private restarts = 0;
  private readonly budget: RestartBudget;
  private restartTimer: ClockTimer | undefined;
  private nextRestartAt: Date | undefined;
  private startTimer: ClockTimer | undefined;
  private operations: Promise<unknown> = Promise.resolve();
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly runtime: GatewayRuntime,
    private readonly log: GatewayLog,
    private readonly clock: Clock,
  ) {
    this.budget = RestartBudget.fromSettings(config.watchdog, clock);
    this.since = dateOf(clock);
    runtime.events.subscribe((event) => this.onRuntimeEvent(event));
  }

  get mode(): GatewayMode {
    return this.runtime.mode;
  }

  get state(): GatewayState {
    return this.current;
  }

  /** Every state change from now on (read {@link state} for the current one). */
  get states(): Observable<GatewayStateChange> {
    return this.changes.asObservable();
  }

  /** True after IB rejected a login: nothing restarts the gateway by itself until a human starts/restarts it. */
  get loginBlocked(): boolean {
    return this.blockedBecause !== undefined;
  }

  /** Where the IB API session should connect; defined only while the gateway is logged in. */
  apiTarget(): IbApiTarget | undefined {
    if (this.current !== 'logged-in') return undefined;
    const endpoint = this.runtime.apiEndpoint();
    return endpoint && { ...endpoint, clientId: this.config.ib.clientId };
  }

  /** Where the gateway's API port is, logged in or not (undefined before the gateway exists). */
  apiEndpoint(): { host: string; port: number } | undefined {
    return this.runtime.apiEndpoint();
  }

  /** Starts (or adopts) the gateway; a human's start also lifts a login block. Resolves once it runs. */
  async start(): Promise<void> {
    return this.exclusive(async () => {
      this.cancelAutomaticRestart();
      this.unblock('the gateway was started by request');
      if (
        this.runtime.isRunning &&
        this.current !== 'stopped' &&
        !LOGIN_BLOCKING_STATES.includes(this.current)
      ) {
        return;
      }
      this.transition('starting', STARTING[this.runtime.mode]);
      try {
        const how = await this.runtime.start();
        if (how === 'adopted' && this.runtime.mode === 'container') {
          this.log.info('Adopted the running gateway container; its log tells its state');
        }
      } catch (error) {
        this.fail(error);
        throw error;
      }
      this.armStartTimeout();
    });
  }

  async stop(): Promise<void> {
    return this.exclusive(async () => {
      this.cancelAutomaticRestart();
      this.clearStartTimeout();
      await this.runtime.stop();
      this.transition('stopped', 'Stopped by request');
    });
  }

  /**
   * A human's restart (a new login; a real gateway may ask for 2FA again): lifts a login block and does not
   * draw on the restart budget, so it also works while the breaker is open. The supervisor's own restarts
   * go through {@link requestAutomaticRestart}.
   */
  async restart(reason: string): Promise<void> {
    return this.exclusive(async () => {
      // A gateway someone else runs refuses (the runtime says why) before anything here changes.
      if (this.runtime.mode === 'address') return this.runtime.restart();
      this.unblock('the gateway was restarted by request');
      await this.restartNow(reason);
    });
  }

  /**
   * The supervisor asks to restart the gateway by itself (the recovery ladder). The one restart policy
   * decides: refused while IB's login rejection stands, while the hourly budget is spent (the breaker is
   * open) or while the backoff of the last automatic restart holds; otherwise counted and done.
   */
  async requestAutomaticRestart(reason: string): Promise<RestartAnswer> {
    return this.automaticRestart(reason, {});
  }

  /** What {@link requestAutomaticRestart} would refuse now (undefined: it would restart). */
  automaticRestartRefusal(): RestartRefusal | undefined {
    return this.refusal({});
  }

  /** The one restart budget: automatic restarts in the last hour, the cap, the breaker. */
  restartBudget(): RestartBudgetStatus {
    return this.budget.status();
  }

  /** Resolves once the gateway is logged in or has failed in a way waiting will not fix; at most `seconds`. */
  async waitForOutcome(seconds: number): Promise<void> {
    const settled = (state: GatewayState) =>
      state === 'logged-in' ||
      state === 'stopped' ||
      state === 'error' ||
      LOGIN_BLOCKING_STATES.includes(state);
    if (seconds <= 0 || settled(this.current)) return;
    const elapsed = new Observable<void>((subscriber) => {
      const timer = this.clock.setTimeout(() => subscriber.next(), seconds * 1000);
      return () => this.clock.clearTimeout(timer);
    });
    const outcome = this.changes.pipe(filter((change) => settled(change.to)));
    await firstValueFrom(race(outcome, elapsed), { defaultValue: undefined });
  }

  status(): z.infer<typeof GatewayStatus> {
    const runtime = this.runtime.status();
    const startedAt = runtime.startedAt;
    const attached = this.runtime.mode === 'address';
    const endpoint = this.runtime.apiEndpoint();
    return {
      name: this.config.gateway.name,
      mode: this.runtime.mode,
      address: attached && endpoint ? `${endpoint.host}:${endpoint.port}` : null,
      controls: { lifecycle: !attached, logs: !attached, vnc: runtime.ports.vnc !== undefined },
      state: this.current,
      since: this.since.toISOString(),
      reason: this.reason,
      loginBlocked: this.loginBlocked,
      loginAttempts: runtime.loginAttempts,
      image: runtime.image ?? null,
      container: runtime.container
        ? {
            id: runtime.container.id.slice(0, 12),
            name: runtime.container.name,
            state: runtime.container.state,
          }
        : null,
      uptimeSeconds:
        startedAt && this.runtime.isRunning
          ? Math.max(0, Math.floor((this.clock.now() - startedAt.getTime()) / 1000))
          : null,
      restartCount: this.restarts,
      automaticRestartsLastHour: this.budget.restartsInLastHour(),
      nextAutomaticRestartAt: this.nextRestartAt?.toISOString() ?? null,
      ports: { api: runtime.ports.api ?? null, vnc: runtime.ports.vnc ?? null },
      lastError: this.lastError
        ? { message: this.lastError.message, at: this.lastError.at.toISOString() }
        : null,
    };
  }

  /** The gateway's most recent log lines with every credential value redacted. */
  async logs(lines: number): Promise<z.infer<typeof GatewayLogs>> {
    const raw = await this.runtime.logs(lines);
    const redactor = Redactor.fromConfig(this.config); // the service's one redactor of this config
    return {
      mode: this.runtime.mode,
      container: this.runtime.status().container?.name ?? null,
      lines: raw.map((line) => redactor.redact(line)),
    };
  }

  /** Stops the gateway, or leaves it running for the next supervisor when gateway.keepRunning is set. */
  async shutdown(): Promise<void> {
    this.shutdownPromise ??= this.exclusive(async () => {
      this.cancelAutomaticRestart();
      this.clearStartTimeout();
      if (this.runtime.mode === 'simulator' || this.runtime.mode === 'address') {
        // The in-process simulator belongs to whoever started it (startService, or a test that reuses it);
        // a gateway at an address to whoever runs it.
        await this.runtime.detach();
      } else if (this.config.gateway.keepRunning) {
        if (this.runtime.isRunning)
          this.log.info('Leaving the gateway running (keepRunning); the next start adopts it');
        await this.runtime.detach();
      } else {
        if (this.runtime.isRunning) await this.runtime.stop();
        await this.runtime.detach();
      }
      this.changes.complete();
    });
    return this.shutdownPromise;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  // ---- state ----

  private onRuntimeEvent(event: RuntimeEvent): void {
    if (this.shutdownPromise) return;
    if (event.kind === 'observed') {
      this.observe(event.observation);
      return;
    }
    const message = `The gateway container exited unexpectedly (exit code ${event.exitCode})`;
    this.lastError = { message, at: dateOf(this.clock) };
    this.clearStartTimeout();
    if (this.blockedBecause !== undefined) {
      // Keep "login failed" as the state: that is what a human must act on.
      this.log.warn(`${message}; not restarting it: ${this.blockedBecause}`);
      return;
    }
    this.transition('error', message);
    this.scheduleAutomaticRestart(`the container exited with code ${event.exitCode}`);
  }

  private observe(observation: GatewayObservation): void {
    // A halted gateway's last lines must not overwrite why it was halted.
    if (this.blockedBecause !== undefined && !LOGIN_BLOCKING_STATES.includes(observation.state)) return;
    this.transition(observation.state, observation.reason);
    if (observation.state === 'logged-in') {
      this.budget.recovered();
      this.clearStartTimeout();
    }
    if (LOGIN_BLOCKING_STATES.includes(observation.state)) this.blockLogin(observation.reason);
  }

  private blockLogin(reason: string): void {
    if (this.blockedBecause !== undefined) return;
    this.blockedBecause = reason;
    this.lastError = { message: reason, at: dateOf(this.clock) };
    this.cancelAutomaticRestart();
    this.clearStartTimeout();
    this.log.warn(`Login blocked: ${reason}`);
    void this.exclusive(async () => this.runtime.haltLogin()).catch((error: unknown) =>
      this.log.error(`Could not halt the gateway after the failed login: ${String(error)}`),
    );
  }

  private unblock(why: string): void {
    if (this.blockedBecause === undefined) return;
    this.log.info(`Login block lifted: ${why}`);
    this.blockedBecause = undefined;
  }

  private transition(to: GatewayState, reason: string): void {
    if (to === this.current && reason === this.reason) return;
    const from = this.current;
    this.reason = reason;
    if (to === from) return;
    this.current = to;
    this.since = dateOf(this.clock);
    this.log.info(`Gateway ${from} -> ${to}: ${reason}`);
    this.changes.next({ at: this.since, from, to, reason });
  }

  private fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.lastError = { message, at: dateOf(this.clock) };
    this.transition('error', message);
  }

  // ---- supervision: the one restart policy ----

  /** Restarts through the runtime; the caller holds the lifecycle lock (exclusive). */
  private async restartNow(reason: string): Promise<void> {
    this.cancelAutomaticRestart();
    this.restarts++;
    this.transition('starting', `Restarting: ${reason}`);
    try {
      await this.runtime.restart();
    } catch (error) {
      this.fail(error);
      throw error;
    }
    this.armStartTimeout();
  }

  /**
   * An automatic restart, decided when its turn in the lifecycle lock comes (a stop or a login rejection
   * queued before it counts). `scheduled`: a crash restart whose timer already waited the backoff.
   */
  private async automaticRestart(reason: string, options: { scheduled?: boolean }): Promise<RestartAnswer> {
    return this.exclusive(async (): Promise<RestartAnswer> => {
      const refused = this.refusal({ ignoreBackoff: options.scheduled });
      if (refused) return { outcome: 'refused', ...refused };
      this.budget.take({ ignoreBackoff: options.scheduled });
      try {
        await this.restartNow(reason);
        return { outcome: 'restarted' };
      } catch (error) {
        return { outcome: 'failed', message: error instanceof Error ? error.message : String(error) };
      }
    });
  }

  private refusal(options: { ignoreBackoff?: boolean }): RestartRefusal | undefined {
    if (this.shutdownPromise) {
      return { reason: 'shutting-down', message: 'The supervisor is shutting down' };
    }
    if (this.runtime.mode === 'address') {
      const at = this.runtime.apiEndpoint();
      return {
        reason: 'not-managed',
        message: `the gateway at ${at ? `${at.host}:${at.port}` : 'its address'} runs outside the supervisor: a human must restart it`,
      };
    }
    if (this.blockedBecause !== undefined) {
      return {
        reason: 'login-blocked',
        message: `Automatic restarts are stopped until a human starts or restarts the gateway: ${this.blockedBecause}`,
      };
    }
    return this.budget.refusal(options);
  }

  /**
   * Brings a crashed gateway back: after the backoff's next step, and once the hourly budget allows it
   * (when its oldest restarts age out). With automatic restarts disabled (cap 0) a human must start it.
   */
  private scheduleAutomaticRestart(why: string): void {
    this.cancelAutomaticRestart();
    const at = this.budget.crashRestartAt();
    if (!at) {
      this.fail(`Not restarting the gateway (${why}): automatic restarts are disabled; start it by hand`);
      return;
    }
    const delayMs = Math.max(0, at.getTime() - this.clock.now());
    const spent = this.budget.refusal({ ignoreBackoff: true });
    if (spent) this.fail(`Restarting the gateway (${why}) at ${at.toISOString()}: ${spent.message}`);
    this.nextRestartAt = at;
    this.log.warn(`Restarting the gateway in ${delayMs / 1000} s: ${why}`);
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      this.nextRestartAt = undefined;
      void this.automaticRestart(`automatic, ${why}`, { scheduled: true }).then((answer) =>
        this.afterScheduledRestart(answer, why),
      );
    }, delayMs);
  }

  private afterScheduledRestart(answer: RestartAnswer, why: string): void {
    if (answer.outcome === 'restarted' || this.shutdownPromise || this.blockedBecause !== undefined) return;
    // A human started or stopped the gateway meanwhile: nothing left to bring back.
    if (this.current !== 'error') return;
    if (answer.outcome === 'failed') this.log.error(`Automatic restart failed: ${answer.message}`);
    else this.log.warn(`Automatic restart not done yet: ${answer.message}`);
    this.scheduleAutomaticRestart(why);
  }

  private cancelAutomaticRestart(): void {
    this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.nextRestartAt = undefined;
  }

  /** A gateway that neither logs in nor fails within gateway.startTimeoutSeconds is reported as an error. */
  private armStartTimeout(): void {
    this.clearStartTimeout();
    const seconds = this.config.gateway.startTimeoutSeconds;
    this.startTimer = this.clock
      .setTimeout(() => {
        this.startTimer = undefined;
        if (this.current === 'starting' || this.current === 'logging-in') {
          const message = `The gateway did not finish logging in within ${seconds} s (gateway.startTimeoutSeconds); see get_gateway_logs or the VNC screen`;
          this.lastError = { message, at: dateOf(this.clock) };
          this.transition('error', message);
        }
      }, seconds * 1000)
      .unref();
  }

  private clearStartTimeout(): void {
    this.clock.clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  /** One lifecycle operation at a time: a stop must not interleave with a restart. */
  private async exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.operations.then(operation, operation);
    this.operations = run.catch(() => undefined);
    return run;
  }
}
