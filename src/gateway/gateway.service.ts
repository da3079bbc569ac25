import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { filter, firstValueFrom, Subject, timeout, type Observable } from 'rxjs';
import type { z } from 'zod';
import { DomainError } from '../common/domain-error';
import { scrubSecrets } from '../common/redacting-logger';
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

export type { GatewayState, GatewayStateChange } from './gateway-state';

export interface GatewayLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface RestartOptions {
  /**
   * True when the supervisor itself restarts (watchdog, recovery ladder): refused while the login is
   * blocked or the hourly restart budget is spent. A human's restart (the API) clears the block.
   */
  automatic?: boolean;
}

const HOUR_MS = 3_600_000;

/**
 * The gateway's lifecycle and the one truth about its state: starts, adopts, stops and restarts it through a
 * runtime (a Docker container, or the in-process simulator), turns what the runtime observes into state
 * changes, brings a crashed container back with backoff and an hourly cap, and never retries a login IB has
 * rejected until a human asks.
 */
@Injectable()
export class GatewayService implements OnApplicationShutdown {
  private current: GatewayState = 'stopped';
  private since = new Date();
  private reason = 'Not started yet';
  private readonly changes = new Subject<GatewayStateChange>();
  private blockedBecause: string | undefined;
  private lastError: { message: string; at: Date } | undefined;
  private restarts = 0;
  private automaticRestartTimes: number[] = [];
  private backoffSeconds: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private nextRestartAt: Date | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private operations: Promise<unknown> = Promise.resolve();
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly runtime: GatewayRuntime,
    private readonly log: GatewayLog,
  ) {
    this.backoffSeconds = config.watchdog.backoffInitialSeconds;
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
      this.transition(
        'starting',
        this.runtime.mode === 'container'
          ? 'Starting the gateway container'
          : 'Starting the simulated gateway',
      );
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
   * Restarts the gateway (a new login; a real gateway may ask for 2FA again). A human's restart lifts a
   * login block; an automatic one ({@link RestartOptions.automatic}) is refused while blocked or over budget.
   */
  async restart(reason: string, options: RestartOptions = {}): Promise<void> {
    return this.exclusive(async () => {
      if (options.automatic) {
        this.assertAutomaticRestartAllowed();
        this.automaticRestartTimes.push(Date.now());
      } else {
        this.unblock('the gateway was restarted by request');
      }
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
    });
  }

  /** Resolves once the gateway is logged in or has failed in a way waiting will not fix; at most `seconds`. */
  async waitForOutcome(seconds: number): Promise<void> {
    const settled = (state: GatewayState) =>
      state === 'logged-in' ||
      state === 'stopped' ||
      state === 'error' ||
      LOGIN_BLOCKING_STATES.includes(state);
    if (seconds <= 0 || settled(this.current)) return;
    await firstValueFrom(
      this.changes.pipe(
        filter((change) => settled(change.to)),
        timeout({ first: seconds * 1000 }),
      ),
    ).catch(() => undefined);
  }

  status(): z.infer<typeof GatewayStatus> {
    const runtime = this.runtime.status();
    const startedAt = runtime.startedAt;
    return {
      mode: this.runtime.mode,
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
          ? Math.max(0, Math.floor((Date.now() - startedAt.getTime()) / 1000))
          : null,
      restartCount: this.restarts,
      automaticRestartsLastHour: this.automaticRestartsInLastHour(),
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
    const secrets = [
      this.config.ib.password,
      this.config.gateway.vncPassword,
      this.config.ib.username,
    ].filter((secret): secret is string => secret !== undefined && secret.length >= 3);
    return {
      mode: this.runtime.mode,
      container: this.runtime.status().container?.name ?? null,
      lines: raw.map((line) => scrubSecrets(line, secrets)),
    };
  }

  /** Stops the gateway, or leaves it running for the next supervisor when gateway.keepRunning is set. */
  async shutdown(): Promise<void> {
    this.shutdownPromise ??= this.exclusive(async () => {
      this.cancelAutomaticRestart();
      this.clearStartTimeout();
      if (this.runtime.mode === 'simulator') {
        // The in-process simulator belongs to whoever started it (startService, or a test that reuses it).
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
    this.lastError = { message, at: new Date() };
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
      this.backoffSeconds = this.config.watchdog.backoffInitialSeconds;
      this.clearStartTimeout();
    }
    if (LOGIN_BLOCKING_STATES.includes(observation.state)) this.blockLogin(observation.reason);
  }

  private blockLogin(reason: string): void {
    if (this.blockedBecause !== undefined) return;
    this.blockedBecause = reason;
    this.lastError = { message: reason, at: new Date() };
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
    this.since = new Date();
    this.log.info(`Gateway ${from} -> ${to}: ${reason}`);
    this.changes.next({ at: this.since, from, to, reason });
  }

  private fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.lastError = { message, at: new Date() };
    this.transition('error', message);
  }

  // ---- supervision ----

  private automaticRestartsInLastHour(): number {
    const cutoff = Date.now() - HOUR_MS;
    this.automaticRestartTimes = this.automaticRestartTimes.filter((at) => at > cutoff);
    return this.automaticRestartTimes.length;
  }

  private assertAutomaticRestartAllowed(): void {
    if (this.blockedBecause !== undefined) {
      throw new DomainError(
        'CONFLICT',
        `Automatic restarts are stopped until a human starts or restarts the gateway: ${this.blockedBecause}`,
      );
    }
    const cap = this.config.watchdog.maxRestartsPerHour;
    if (this.automaticRestartsInLastHour() >= cap) {
      throw new DomainError(
        'CONFLICT',
        `The gateway was restarted automatically ${cap} times in the last hour (watchdog.maxRestartsPerHour); waiting for a human`,
      );
    }
  }

  private scheduleAutomaticRestart(why: string): void {
    try {
      this.assertAutomaticRestartAllowed();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.lastError = { message, at: new Date() };
      this.transition('error', message);
      return;
    }
    const delay = this.backoffSeconds;
    this.backoffSeconds = Math.min(this.backoffSeconds * 2, this.config.watchdog.backoffMaxSeconds);
    this.nextRestartAt = new Date(Date.now() + delay * 1000);
    this.log.warn(`Restarting the gateway in ${delay} s: ${why}`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.nextRestartAt = undefined;
      this.restart(`automatic, ${why}`, { automatic: true }).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.log.error(`Automatic restart failed: ${message}`);
        if (!this.shutdownPromise && this.blockedBecause === undefined) this.scheduleAutomaticRestart(why);
      });
    }, delay * 1000);
  }

  private cancelAutomaticRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.nextRestartAt = undefined;
  }

  /** A gateway that neither logs in nor fails within gateway.startTimeoutSeconds is reported as an error. */
  private armStartTimeout(): void {
    this.clearStartTimeout();
    const seconds = this.config.gateway.startTimeoutSeconds;
    this.startTimer = setTimeout(() => {
      this.startTimer = undefined;
      if (this.current === 'starting' || this.current === 'logging-in') {
        const message = `The gateway did not finish logging in within ${seconds} s (gateway.startTimeoutSeconds); see get_gateway_logs or the VNC screen`;
        this.lastError = { message, at: new Date() };
        this.transition('error', message);
      }
    }, seconds * 1000);
    this.startTimer.unref();
  }

  private clearStartTimeout(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  /** One lifecycle operation at a time: a stop must not interleave with a restart. */
  private async exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.operations.then(operation, operation);
    this.operations = run.catch(() => undefined);
    return run;
  }
}
