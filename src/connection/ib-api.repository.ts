import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ConnectionState, IBApiNext, type IBApiNextError, type Logger as IbLogger } from '@stoqey/ib';
import { BehaviorSubject, filter, firstValueFrom, Subject, timeout, type Observable } from 'rxjs';
import { DomainError } from '../common/domain-error';

/** Where the IB API session connects: the in-process simulator or the gateway container's API port. */
export interface IbApiTarget {
  host: string;
  port: number;
  clientId: number;
}

export const IB_API_TARGET = Symbol('IB_API_TARGET');

/** Requests that IB leaves unanswered must not hang a caller forever. */
export const IB_REQUEST_TIMEOUT_MS = 10_000;
const RECONNECT_INTERVAL_MS = 2_000;

/** The only place that touches @stoqey/ib: one IBApiNext session, its state and its errors. */
@Injectable()
export class IbApiRepository implements OnModuleDestroy {
  private readonly logger = new Logger(IbApiRepository.name);
  private ib: IBApiNext | undefined;
  private readonly stateSubject = new BehaviorSubject<ConnectionState>(ConnectionState.Disconnected);
  private readonly errorSubject = new Subject<IBApiNextError>();

  /** @stoqey/ib logs to the console by default; route its lines into the service's structured log. */
  private readonly clientLogger: IbLogger = {
    debug: (tag, ...args) => this.logger.debug(`${tag}: ${args.map(String).join(' ')}`),
    info: (tag, ...args) => this.logger.debug(`${tag}: ${args.map(String).join(' ')}`),
    warn: (tag, ...args) => this.logger.warn(`${tag}: ${args.map(String).join(' ')}`),
    error: (tag, ...args) => this.logger.warn(`${tag}: ${args.map(String).join(' ')}`),
  };

  get state(): ConnectionState {
    return this.stateSubject.value;
  }

  get states(): Observable<ConnectionState> {
    return this.stateSubject.asObservable();
  }

  /** IB errors and client-side errors (connection refused, decode errors) of the session. */
  get errors(): Observable<IBApiNextError> {
    return this.errorSubject.asObservable();
  }

  connect(target: IbApiTarget): void {
    this.disconnect();
    const ib = new IBApiNext({
      host: target.host,
      port: target.port,
      reconnectInterval: RECONNECT_INTERVAL_MS,
    });
    ib.connectionState.subscribe((state) => {
      if (this.ib === ib) this.stateSubject.next(state);
    });
    ib.error.subscribe((error) => {
      if (this.ib === ib) this.errorSubject.next(error);
    });
    this.ib = ib;
    this.logger.log(
      `Connecting the IB API session to ${target.host}:${target.port} as client ${target.clientId}`,
    );
    ib.connect(target.clientId);
  }

  disconnect(): void {
    const ib = this.ib;
    this.ib = undefined;
    if (!ib) return;
    ib.disconnect();
    this.stateSubject.next(ConnectionState.Disconnected);
  }

  async waitUntilConnected(ms: number): Promise<void> {
    await firstValueFrom(
      this.stateSubject.pipe(
        filter((state) => state === ConnectionState.Connected),
        timeout({ first: ms }),
      ),
    );
  }

  /** The gateway's clock, in epoch seconds. */
  async currentTime(): Promise<number> {
    return this.request('current time', async (ib) => ib.getCurrentTime());
  }

  /** The connected session for long-lived streams (market data, order updates); throws when disconnected. */
  connectedSession(what: string): IBApiNext {
    const ib = this.ib;
    if (!ib || this.state !== ConnectionState.Connected) {
      throw new DomainError('NOT_CONNECTED', `The IB API session is not connected; cannot get ${what}`);
    }
    return ib;
  }

  onModuleDestroy(): void {
    this.disconnect();
  }

  /**
   * Runs one request on the connected session, with a timeout and IB's errors made domain errors. Domain
   * services (account, orders, market data, ...) build on this instead of holding the IBApiNext themselves.
   */
  async request<T>(what: string, send: (ib: IBApiNext) => Promise<T>): Promise<T> {
    const ib = this.connectedSession(what);
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DomainError(
              'IB_TIMEOUT',
              `IB did not answer the ${what} request within ${IB_REQUEST_TIMEOUT_MS / 1000} s`,
            ),
          ),
        IB_REQUEST_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([send(ib), expiry]);
    } catch (error) {
      if (error instanceof DomainError) throw error;
      const ibError = error as Partial<IBApiNextError>;
      throw new DomainError(
        'IB_ERROR',
        `IB refused the ${what} request: ${ibError.error?.message ?? String(error)}`,
        {
          ibCode: ibError.code,
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
