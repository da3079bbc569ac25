import { Subject, type Observable } from 'rxjs';
import { DomainError } from '../common/domain-error';
import type { GatewayMode, GatewayRuntime, RuntimeEvent, RuntimeStatus } from './gateway-runtime';

/**
 * A TWS or IB Gateway that runs outside the supervisor (the address kind): the user's desktop TWS, or a
 * container under their own compose file. The supervisor only attaches to its API port: it is taken as
 * logged in (the API session tells whether it answers), and it is never started, stopped or restarted from
 * here; a restart it needs is a human's (the health state says so).
 */
export class AddressGatewayRuntime implements GatewayRuntime {
  readonly mode: GatewayMode = 'address';
  private readonly eventSubject = new Subject<RuntimeEvent>();
  private attachedAt: Date | undefined;

  constructor(private readonly endpoint: { host: string; port: number }) {}

  get events(): Observable<RuntimeEvent> {
    return this.eventSubject.asObservable();
  }

  get isRunning(): boolean {
    return this.attachedAt !== undefined;
  }

  get address(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }

  async start(): Promise<'adopted'> {
    this.attachedAt ??= new Date();
    this.eventSubject.next({
      kind: 'observed',
      observation: {
        state: 'logged-in',
        reason: `Attached to the gateway at ${this.address}, which runs outside the supervisor (its login is its own; the API session tells whether it answers)`,
      },
    });
    return Promise.resolve('adopted');
  }

  async stop(): Promise<void> {
    return Promise.reject(this.notOurs('stopped'));
  }

  async restart(): Promise<void> {
    return Promise.reject(this.notOurs('restarted'));
  }

  /** Its logins are not the supervisor's to start. */
  async haltLogin(): Promise<void> {
    return Promise.resolve();
  }

  async detach(): Promise<void> {
    this.attachedAt = undefined;
    this.eventSubject.complete();
    return Promise.resolve();
  }

  apiEndpoint(): { host: string; port: number } {
    return this.endpoint;
  }

  status(): RuntimeStatus {
    return {
      image: undefined,
      container: undefined,
      startedAt: this.attachedAt,
      ports: { api: this.endpoint.port, vnc: undefined },
      loginAttempts: 0,
    };
  }

  /** The supervisor sees no log of a gateway it does not run. */
  async logs(): Promise<string[]> {
    return Promise.resolve([]);
  }

  private notOurs(what: string): DomainError {
    return new DomainError(
      'CONFLICT',
      `The gateway at ${this.address} runs outside the supervisor (--gateway-address): it cannot be ${what} from here; do it where it runs (TWS or your own container)`,
    );
  }
}
