import { Subject, type Observable } from 'rxjs';
import type { Clock } from '../../../src/common/clock';
import { AppConfigSchema, CONFIG_DEFAULTS, type AppConfig } from '../../../src/config/config.schema';
import type {
  GatewayMode,
  GatewayRuntime,
  RuntimeEvent,
  RuntimeStatus,
} from '../../../src/gateway/gateway-runtime';
import { GatewayService, type GatewayLog } from '../../../src/gateway/gateway.service';
import type { GatewayState } from '../../../src/gateway/gateway-state';

/**
 * A gateway runtime without a gateway: the test says when it logs in, crashes or fails to restart. With
 * `loginAfterMs`, every (re)start logs in that long later on the clock, like a healthy gateway.
 */
export class FakeGatewayRuntime implements GatewayRuntime {
  readonly mode: GatewayMode = 'container';
  isRunning = false;
  starts = 0;
  restarts = 0;
  stops = 0;
  halts = 0;
  /** The next restart throws this (and is still counted by the policy: it was tried). */
  failNextRestart: Error | undefined;
  private readonly subject = new Subject<RuntimeEvent>();
  private startedAt: Date | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly loginAfterMs: number | undefined = undefined,
  ) {}

  get events(): Observable<RuntimeEvent> {
    return this.subject.asObservable();
  }

  async start(): Promise<'adopted' | 'started'> {
    this.starts++;
    this.running();
    return Promise.resolve('started');
  }

  async stop(): Promise<void> {
    this.stops++;
    this.isRunning = false;
    return Promise.resolve();
  }

  async restart(): Promise<void> {
    this.restarts++;
    const failure = this.failNextRestart;
    this.failNextRestart = undefined;
    if (failure) return Promise.reject(failure);
    this.running();
    return Promise.resolve();
  }

  async haltLogin(): Promise<void> {
    this.halts++;
    return Promise.resolve();
  }

  async detach(): Promise<void> {
    this.subject.complete();
    return Promise.resolve();
  }

  apiEndpoint(): { host: string; port: number } {
    return { host: '127.0.0.1', port: 4002 };
  }

  status(): RuntimeStatus {
    return {
      image: 'fake',
      container: undefined,
      startedAt: this.startedAt,
      ports: { api: 4002, vnc: undefined },
      loginAttempts: 0,
    };
  }

  async logs(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** The gateway's log revealed a state. */
  observe(state: GatewayState, reason = `the gateway is ${state}`): void {
    this.subject.next({ kind: 'observed', observation: { state, reason } });
  }

  /** The container exited by itself. */
  crash(exitCode = 137): void {
    this.isRunning = false;
    this.subject.next({ kind: 'exited', exitCode });
  }

  private running(): void {
    this.isRunning = true;
    this.startedAt = new Date(this.clock.now());
    this.observe('starting');
    const loginAfterMs = this.loginAfterMs;
    if (loginAfterMs !== undefined) this.clock.setTimeout(() => this.observe('logged-in'), loginAfterMs);
  }
}

/** A config for policy tests: the defaults with the given watchdog settings. */
export function policyConfig(watchdog: Partial<AppConfig['watchdog']> = {}): AppConfig {
  return AppConfigSchema.parse({
    ...CONFIG_DEFAULTS,
    dataDir: '/nonexistent/ibgs-unit',
    logLevel: 'silent',
    watchdog: { ...CONFIG_DEFAULTS.watchdog, ...watchdog },
  });
}

/** A log that keeps its lines for the test to read. */
export function memoryLog(): GatewayLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(`info: ${message}`),
    warn: (message) => lines.push(`warn: ${message}`),
    error: (message) => lines.push(`error: ${message}`),
    debug: (message) => lines.push(`debug: ${message}`),
  };
}

/** A GatewayService on a fake runtime and the given clock. */
export function gatewayOnFakeRuntime(
  clock: Clock,
  watchdog: Partial<AppConfig['watchdog']> = {},
  loginAfterMs?: number,
): { gateway: GatewayService; runtime: FakeGatewayRuntime; log: ReturnType<typeof memoryLog> } {
  const runtime = new FakeGatewayRuntime(clock, loginAfterMs);
  const log = memoryLog();
  const gateway = new GatewayService(policyConfig(watchdog), runtime, log, clock);
  return { gateway, runtime, log };
}
