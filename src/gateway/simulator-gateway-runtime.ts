import { Subject, type Observable } from 'rxjs';
import { ibcLine, IbcMessage, ImageMessage } from '../simulator/control/ibc-log';
import type { GatewayState as SimulatorLoginState } from '../simulator/control/gateway-login';
import type { IbGatewaySimulator } from '../simulator/simulator';
import type { GatewayMode, GatewayRuntime, RuntimeEvent, RuntimeStatus } from './gateway-runtime';
import { IbcLogStateReader } from './ibc-log-states';

export interface SimulatorRuntimeTimings {
  /** A restart refuses connections this long (the container would be down), then logs in again. */
  restartDownMs: number;
  /** How long a (re)login takes. */
  loginMs: number;
}

const DEFAULT_TIMINGS: SimulatorRuntimeTimings = { restartDownMs: 1000, loginMs: 500 };
/** The log kept in memory; the simulator has no container log. */
const LOG_CAPACITY = 1000;

/**
 * The gateway as the in-process simulator (no credentials: the default mode and the tests). Its states are the
 * simulator's login states; its log is the IBC lines a gateway container would print for the same states, so
 * the state reader is the same one the container runtime uses.
 */
export class SimulatorGatewayRuntime implements GatewayRuntime {
  readonly mode: GatewayMode = 'simulator';
  private readonly eventSubject = new Subject<RuntimeEvent>();
  private readonly reader = new IbcLogStateReader();
  private readonly lines: string[] = [];
  private attached = false;
  private startedOnce = false;
  private stopped = true;
  private startedAt: Date | undefined;
  private readonly listener = (state: SimulatorLoginState) => this.onLoginState(state);

  constructor(
    private readonly simulator: IbGatewaySimulator,
    private readonly timings: SimulatorRuntimeTimings = DEFAULT_TIMINGS,
  ) {}

  get events(): Observable<RuntimeEvent> {
    return this.eventSubject.asObservable();
  }

  get isRunning(): boolean {
    return !this.stopped;
  }

  async start(): Promise<'adopted' | 'started'> {
    if (!this.attached) {
      this.simulator.login.on('state', this.listener);
      this.attached = true;
    }
    const firstStart = !this.startedOnce;
    this.startedOnce = true;
    this.stopped = false;
    this.startedAt = new Date();
    this.record(ImageMessage.banner);
    const state = this.simulator.login.state;
    // The first start mirrors the simulator as it is (tests set it up); a later start is a human asking for a login.
    if (!firstStart && (state === 'starting' || state === 'login-failed'))
      this.simulator.login.slowStart(this.timings.loginMs);
    else this.onLoginState(this.simulator.login.state);
    return Promise.resolve(firstStart ? 'adopted' : 'started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.startedAt = undefined;
    this.simulator.login.set('starting'); // drops every API client and refuses new ones
    this.record(ImageMessage.receivedSignal);
    return Promise.resolve();
  }

  /** Like a container restart: connections drop, the port refuses for a while, then a fresh login. */
  async restart(): Promise<void> {
    this.stopped = false;
    this.record(ImageMessage.receivedSignal);
    this.simulator.login.set('starting');
    await this.simulator.refuseConnections(this.timings.restartDownMs);
    await new Promise((resolve) => setTimeout(resolve, this.timings.restartDownMs));
    this.startedAt = new Date();
    this.simulator.freezeMarketData(false); // a fresh gateway process has no hung feed (like a container restart)
    this.simulator.login.slowStart(this.timings.loginMs);
  }

  /** The simulator never retries a login by itself. */
  async haltLogin(): Promise<void> {
    return Promise.resolve();
  }

  async detach(): Promise<void> {
    this.simulator.login.off('state', this.listener);
    this.attached = false;
    this.eventSubject.complete();
    return Promise.resolve();
  }

  apiEndpoint(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.simulator.port };
  }

  status(): RuntimeStatus {
    return {
      image: undefined,
      container: undefined,
      startedAt: this.startedAt,
      ports: { api: this.simulator.port, vnc: this.simulator.vncPort },
      loginAttempts: this.reader.loginAttempts,
    };
  }

  async logs(lines: number): Promise<string[]> {
    return Promise.resolve(this.lines.slice(-lines));
  }

  private onLoginState(state: SimulatorLoginState): void {
    if (this.stopped && state === 'starting') return; // our own stop, already reported
    if (state !== 'starting') this.stopped = false;
    for (const line of this.ibcLinesFor(state)) this.record(line);
  }

  private ibcLinesFor(state: SimulatorLoginState): string[] {
    switch (state) {
      case 'starting':
        return [ImageMessage.banner];
      case 'logging-in':
        return [ibcLine(IbcMessage.loginAttempt(this.reader.loginAttempts + 1))];
      case 'awaiting-2fa':
        return [ibcLine(IbcMessage.secondFactorInitiated)];
      case 'logged-in':
        return [ibcLine(IbcMessage.loginCompleted)];
      case 'login-failed':
        return [ibcLine(IbcMessage.detectedDialog(IbcMessage.unrecognizedCredentialsTitle, 'Opened'))];
    }
  }

  private record(line: string): void {
    this.lines.push(line);
    if (this.lines.length > LOG_CAPACITY) this.lines.splice(0, this.lines.length - LOG_CAPACITY);
    const observation = this.reader.read(line);
    if (observation) this.eventSubject.next({ kind: 'observed', observation });
  }
}
