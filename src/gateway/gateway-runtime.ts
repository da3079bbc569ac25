import type { Observable } from 'rxjs';
import type { ContainerRunState } from './docker.repository';
import type { GatewayObservation } from './gateway-state';

/** Who runs the gateway: the in-process simulator, a container of the supervisor's, or someone else (address). */
export type GatewayMode = 'simulator' | 'container' | 'address';

/** What the runtime reports on its own: states it observed, and exits nobody asked for. */
export type RuntimeEvent =
  { kind: 'observed'; observation: GatewayObservation } | { kind: 'exited'; exitCode: number };

export interface RuntimeStatus {
  image: string | undefined;
  container: { id: string; name: string; state: ContainerRunState; startedAt: Date | undefined } | undefined;
  /** When the gateway last started (container start, or the simulator runtime's start/restart). */
  startedAt: Date | undefined;
  ports: { api: number | undefined; vnc: number | undefined };
  /** Logins started since the gateway last started (IBC's "Login attempt" lines). */
  loginAttempts: number;
}

/**
 * The mechanism under GatewayService: a gateway container (Docker) or the in-process simulator. Policy
 * (states, restarts, backoff, login blocking) stays in the service.
 */
export interface GatewayRuntime {
  readonly mode: GatewayMode;
  readonly events: Observable<RuntimeEvent>;
  /** True while the gateway runs (even if not logged in). */
  readonly isRunning: boolean;
  /** Brings the gateway up: adopts a running one, else creates/starts it. Resolves once it runs. */
  start(): Promise<'adopted' | 'started'>;
  /** Stops the gateway. */
  stop(): Promise<void>;
  /** Stops and starts the gateway again (a new login). */
  restart(): Promise<void>;
  /** Makes sure no further login is attempted (after IB rejected one) while keeping what a human needs to see. */
  haltLogin(): Promise<void>;
  /** Stops watching, leaving the gateway running for the next supervisor to adopt. */
  detach(): Promise<void>;
  /** Where the gateway's API listens on this machine, logged in or not. */
  apiEndpoint(): { host: string; port: number } | undefined;
  status(): RuntimeStatus;
  /** The last `lines` lines of the gateway's log (unredacted; the service redacts). */
  logs(lines: number): Promise<string[]>;
}
