import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  ConnectionState,
  ErrorCode,
  EventName,
  IBApi,
  IBApiNext,
  type IBApiNextCreationOptions,
  type IBApiNextError,
  type Logger as IbLogger,
} from '@stoqey/ib';
import { answerWithin } from '../common/await-reply';
import { BehaviorSubject, filter, firstValueFrom, map, Subject, timeout, type Observable } from 'rxjs';
import { DomainError } from '../common/domain-error';
import { ExponentialBackoff } from './exponential-backoff';
import { IbCode, toDomainError, type IbErrorContext } from './ib-errors';

/** Where the IB API session connects: the in-process simulator or the gateway container's API port. */
export interface IbApiTarget {
  host: string;
  port: number;
  /** The configured client id; the session takes the next free one when IB says it is in use (326). */
  clientId: number;
}

/** Requests that IB leaves unanswered must not hang a caller forever. */
export const IB_REQUEST_TIMEOUT_MS = 10_000;
/** IB allows 50 messages per second per client; @stoqey/ib throttles every outgoing message to this. */
export const MAX_REQUESTS_PER_SECOND = 40;
/** Reconnect backoff of the session: first retry after 0.5 s, doubling up to 30 s. */
export const RECONNECT_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;
/** An attempt that has not reached nextValidId by then is abandoned (a gateway that accepts but hangs). */
const CONNECT_ATTEMPT_TIMEOUT_MS = 10_000;
/** After error 326 the next id is tried at once, up to this many ids above the configured one. */
const CLIENT_ID_PROBES = 32;
const CLIENT_ID_RETRY_MS = 100;
/** How long a closing socket may take to report that it closed. */
const SOCKET_CLOSE_WAIT_MS = 2_000;

/** The session's state in the service's words: connected only once requests flow. */
export type SessionState = 'connected' | 'connecting' | 'disconnected';

const SESSION_STATES: Record<ConnectionState, SessionState> = {
  [ConnectionState.Connected]: 'connected',
  [ConnectionState.Connecting]: 'connecting',
  [ConnectionState.Disconnected]: 'disconnected',
};

/** An error IB (or the client library) reported: reqId is the request's or order's id, -1 for none. */
export interface IbErrorEvent {
  reqId: number;
  code: number;
  message: string;
  at: Date;
}

/** IB's system messages: error id -1 with codes like 1100 (connectivity lost) or 2104 (farm OK). */
export interface IbSystemMessage {
  code: number;
  message: string;
  at: Date;
}

/** What the session is doing about its connection, for the status operation. */
export interface SessionStatus {
  /** Connected only once IB sent nextValidId: before that, requests are queued, not answered. */
  state: SessionState;
  target: IbApiTarget | undefined;
  /** The client id in use, or being tried while connecting. */
  clientId: number | undefined;
  /** How many times IB refused a client id as already in use (326) since the service started. */
  clientIdCollisions: number;
  /** Failed attempts since the session was last connected. */
  failedAttempts: number;
  /** The wait before the next attempt, and when it happens; undefined when none is scheduled. */
  backoffMs: number | undefined;
  nextAttemptAt: Date | undefined;
  /** Why the session is not trying to connect (e.g. the gateway is not logged in), if it is not. */
  holdReason: string | undefined;
}

type Phase = 'idle' | 'attempting' | 'ready';

/**
 * The IB session: ONE IBApiNext for the service's lifetime, so every stream that
 * domain services hold on it is re-requested by IBApiNext itself after a reconnect. IBApiNext's own fixed
 * reconnect loop is off (reconnectInterval 0: no timer survives a disconnect); this class reconnects with
 * exponential backoff, moves to the next client id on 326, and gives up on attempts that hang.
 *
 * Services see states, errors and status only. The client itself is reached through ibClient / ibRequest /
 * ibRawApi, which a lint rule allows in `*.repository.ts` files alone: each domain's repository speaks
 * @stoqey/ib in its own terms.
 */
@Injectable()
export class IbSession implements OnModuleDestroy {
  private readonly logger = new Logger(IbSession.name);
  /** @stoqey/ib reads host and port from this very object on every connect, so a new target needs no new client. */
  private readonly options: IBApiNextCreationOptions;
  private readonly ib: IBApiNext;
  private readonly api: IBApi;
  private readonly stateSubject = new BehaviorSubject<ConnectionState>(ConnectionState.Disconnected);
  private readonly errorSubject = new Subject<IbErrorEvent>();
  private readonly systemMessageSubject = new Subject<IbSystemMessage>();
  private readonly socketClosed = new Subject<void>();
  private readonly backoff = new ExponentialBackoff(RECONNECT_BACKOFF.initialMs, RECONNECT_BACKOFF.maxMs);
  private target: IbApiTarget | undefined;
  private wanted = false;
  private holdReason: string | undefined = 'the service has not started the session yet';
  private phase: Phase = 'idle';
  private socketOpen = false;
  private closing: Promise<void> | undefined;
  private clientIdOffset = 0;
  private attemptClientId: number | undefined;
  private collisionReported = false;
  private collisions = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private attemptTimer: NodeJS.Timeout | undefined;
  private nextAttemptAt: Date | undefined;
  private nextAttemptDelayMs = 0;
  private destroyed = false;

  /** @stoqey/ib logs to the console by default; route its lines into the service's structured log. */
  private readonly clientLogger: IbLogger = {
    debug: (tag, ...args) => this.logger.debug(`${tag}: ${args.map(String).join(' ')}`),
    info: (tag, ...args) => this.logger.debug(`${tag}: ${args.map(String).join(' ')}`),
    warn: (tag, ...args) => this.logger.warn(`${tag}: ${args.map(String).join(' ')}`),
    error: (tag, ...args) => this.logger.warn(`${tag}: ${args.map(String).join(' ')}`),
  };

  constructor() {
    this.options = {
      host: '127.0.0.1',
      reconnectInterval: 0,
      maxReqPerSec: MAX_REQUESTS_PER_SECOND,
      logger: this.clientLogger,
    };
    this.ib = new IBApiNext(this.options);
    this.api = underlyingApi(this.ib);
    this.ib.connectionState.subscribe((state) => this.onClientState(state));
    this.ib.error.subscribe((error: IBApiNextError) =>
      this.errorSubject.next({
        reqId: error.reqId,
        code: Number(error.code),
        message: error.error.message,
        at: new Date(),
      }),
    );
    this.api.on(EventName.nextValidId, () => this.onSessionReady());
    this.api.on(EventName.info, (message, code) => this.onSystemMessage(code, message));
    this.api.on(EventName.disconnected, () => {
      this.socketOpen = false;
      this.socketClosed.next();
    });
  }

  get state(): SessionState {
    return SESSION_STATES[this.stateSubject.value];
  }

  get isConnected(): boolean {
    return this.stateSubject.value === ConnectionState.Connected;
  }

  /** Connected is emitted once requests flow (nextValidId), not at the TCP handshake. */
  get states(): Observable<SessionState> {
    return this.stateSubject.pipe(map((state) => SESSION_STATES[state]));
  }

  /** IB errors and client-side errors (connection refused, decode errors) of the session. */
  get errors(): Observable<IbErrorEvent> {
    return this.errorSubject.asObservable();
  }

  /** IB's system messages (error id -1): connectivity (1100/1101/1102), farms (2103/2104), 326. */
  get systemMessages(): Observable<IbSystemMessage> {
    return this.systemMessageSubject.asObservable();
  }

  status(): SessionStatus {
    return {
      state: this.state,
      target: this.target,
      clientId: this.attemptClientId,
      clientIdCollisions: this.collisions,
      failedAttempts: this.backoff.failures,
      backoffMs: this.nextAttemptAt ? this.nextAttemptDelayMs : undefined,
      nextAttemptAt: this.nextAttemptAt,
      holdReason: this.wanted ? undefined : this.holdReason,
    };
  }

  /** Keeps the session connected to `target` from now on; a no-op when it already is or is trying. */
  connect(target: IbApiTarget): void {
    if (this.destroyed) return;
    const sameTarget =
      this.target?.host === target.host &&
      this.target.port === target.port &&
      this.target.clientId === target.clientId;
    const busy = this.phase !== 'idle' || this.retryTimer !== undefined;
    this.target = target;
    if (sameTarget && this.wanted && busy) return;
    this.wanted = true;
    this.holdReason = undefined;
    if (!sameTarget) {
      this.clientIdOffset = 0;
      this.backoff.reset();
    }
    this.scheduleAttempt(0);
  }

  /** Drops the current session (if any) and connects again at once; IBApiNext re-requests every stream. */
  reconnect(): void {
    if (this.destroyed || !this.target) return;
    this.wanted = true;
    this.holdReason = undefined;
    this.backoff.reset();
    // Closing now (not in the attempt) makes the state leave Connected before this returns.
    this.closeSocket().catch((error: unknown) =>
      this.logger.warn(`Closing the session failed: ${String(error)}`),
    );
    this.scheduleAttempt(0);
  }

  /** Closes the session and stops reconnecting until the next connect(); `reason` shows in the status. */
  disconnect(reason = 'the session was disconnected on request'): void {
    this.wanted = false;
    this.holdReason = reason;
    this.cancelTimers();
    if (this.phase !== 'idle' || this.socketOpen) {
      this.closeSocket().catch((error: unknown) =>
        this.logger.warn(`Closing the session failed: ${String(error)}`),
      );
    }
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
    return this.ibRequest('current time', async (ib) => ib.getCurrentTime());
  }

  /**
   * For repositories only: the connected client, for long-lived streams (market data, order updates);
   * throws NOT_CONNECTED when disconnected. Streams opened on it survive reconnects: IBApiNext sends their
   * requests again on every new session.
   */
  ibClient(what: string): IBApiNext {
    if (!this.isConnected) {
      throw new DomainError('NOT_CONNECTED', `The IB API session is not connected; cannot get ${what}`);
    }
    return this.ib;
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    this.wanted = false;
    this.holdReason = 'the service is shutting down';
    this.cancelTimers();
    this.phase = 'idle';
    this.ib.disconnect();
    this.api.disconnect();
    this.socketClosed.next();
    this.stateSubject.next(ConnectionState.Disconnected);
  }

  /**
   * For repositories only: the IBApi inside IBApiNext, for the events IBApiNext does not pass on
   * (nextValidId, system messages, MARKET_DATA_TYPE). @stoqey/ib offers no public way to them; this is
   * the one place that reaches into its private field.
   */
  ibRawApi(): IBApi {
    return this.api;
  }

  /**
   * For repositories only: runs one request on the connected session, with a timeout (failing at once when the
   * session closes), and IB's errors made domain errors by the one mapping (ib-errors.ts) in `context`'s terms.
   */
  async ibRequest<T>(
    what: string,
    send: (ib: IBApiNext) => Promise<T>,
    context: IbErrorContext = { request: 'request', subject: what },
  ): Promise<T> {
    const ib = this.ibClient(what);
    try {
      return await answerWithin(send(ib), {
        timeoutMs: IB_REQUEST_TIMEOUT_MS,
        onTimeout: () =>
          new DomainError(
            'IB_TIMEOUT',
            `IB did not answer the ${what} request within ${IB_REQUEST_TIMEOUT_MS / 1000} s`,
          ),
        abandoned: this.socketClosed,
        onAbandoned: () =>
          new DomainError(
            'NOT_CONNECTED',
            `The IB API session closed before IB answered the ${what} request`,
          ),
      });
    } catch (error) {
      throw toDomainError(error, context);
    }
  }

  // ---- The reconnect loop ----

  private scheduleAttempt(delayMs: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.nextAttemptAt = new Date(Date.now() + delayMs);
    this.nextAttemptDelayMs = delayMs;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.nextAttemptAt = undefined;
      this.attempt().catch((error: unknown) =>
        this.logger.warn(`Connection attempt failed: ${String(error)}`),
      );
    }, delayMs);
  }

  private async attempt(): Promise<void> {
    if (this.phase !== 'idle' || this.socketOpen) await this.closeSocket();
    const target = this.target;
    if (!this.wanted || this.destroyed || !target || this.retryTimer) return;
    const clientId = target.clientId + this.clientIdOffset;
    this.options.host = target.host;
    this.options.port = target.port;
    this.phase = 'attempting';
    this.socketOpen = true;
    this.attemptClientId = clientId;
    this.collisionReported = false;
    this.attemptTimer = setTimeout(() => this.abandonAttempt(), CONNECT_ATTEMPT_TIMEOUT_MS);
    this.logger.log(`Connecting the IB API session to ${target.host}:${target.port} as client ${clientId}`);
    this.ib.connect(clientId);
  }

  /** The gateway accepted the socket but never let requests flow: drop it and retry later. */
  private abandonAttempt(): void {
    this.attemptTimer = undefined;
    if (this.phase !== 'attempting') return;
    this.logger.warn(
      `The IB API session did not start within ${CONNECT_ATTEMPT_TIMEOUT_MS / 1000} s; retrying`,
    );
    this.closeSocket()
      .then(() => {
        if (this.wanted && !this.retryTimer) this.scheduleAttempt(this.backoff.fail());
      })
      .catch((error: unknown) => this.logger.warn(`Closing a hung session failed: ${String(error)}`));
  }

  private onClientState(state: ConnectionState): void {
    if (state === ConnectionState.Connecting) {
      if (this.stateSubject.value !== ConnectionState.Connecting)
        this.stateSubject.next(ConnectionState.Connecting);
      return;
    }
    if (state !== ConnectionState.Disconnected) return; // Connected waits for nextValidId
    const phase = this.phase;
    this.phase = 'idle';
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
    if (this.stateSubject.value !== ConnectionState.Disconnected)
      this.stateSubject.next(ConnectionState.Disconnected);
    // An idle phase means this class closed the session itself and decides what comes next.
    if (phase === 'idle' || !this.wanted || this.destroyed || this.retryTimer) return;
    if (this.collisionReported) {
      this.collisions++;
      this.clientIdOffset = (this.clientIdOffset + 1) % CLIENT_ID_PROBES;
      const next = (this.target?.clientId ?? 0) + this.clientIdOffset;
      this.logger.warn(`IB API client id ${this.attemptClientId} is already in use; trying ${next}`);
      // Every id in the range taken: start over, but slowly.
      this.scheduleAttempt(this.clientIdOffset === 0 ? this.backoff.fail() : CLIENT_ID_RETRY_MS);
      return;
    }
    if (phase === 'ready') this.logger.warn('The IB API session dropped; reconnecting');
    this.scheduleAttempt(this.backoff.fail());
  }

  private onSessionReady(): void {
    if (this.phase !== 'attempting' || !this.ib.isConnected) return;
    this.phase = 'ready';
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
    this.backoff.reset();
    this.logger.log(`IB API session connected as client ${this.attemptClientId}`);
    this.stateSubject.next(ConnectionState.Connected);
  }

  private onSystemMessage(code: number, message: string): void {
    if (code === NOT_CONNECTED) return; // "Cannot disconnect if already disconnected": our own close
    if (code === CLIENT_ID_IN_USE) this.collisionReported = true;
    this.systemMessageSubject.next({ code, message, at: new Date() });
  }

  /**
   * Closes the socket and waits until it reports closed, so the next connect cannot be hit by the old
   * socket's late close event. IBApiNext.disconnect() leaves a socket that is still connecting open, so
   * the underlying IBApi closes it too.
   */
  private async closeSocket(): Promise<void> {
    if (this.closing) return this.closing;
    this.phase = 'idle';
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
    const closed = this.socketOpen
      ? firstValueFrom(this.socketClosed.pipe(timeout({ first: SOCKET_CLOSE_WAIT_MS }))).catch(() => {
          this.socketOpen = false;
        })
      : Promise.resolve();
    this.ib.disconnect();
    this.api.disconnect();
    if (this.stateSubject.value !== ConnectionState.Disconnected)
      this.stateSubject.next(ConnectionState.Disconnected);
    this.closing = closed.finally(() => {
      this.closing = undefined;
    });
    return this.closing;
  }

  private cancelTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.retryTimer = undefined;
    this.attemptTimer = undefined;
    this.nextAttemptAt = undefined;
  }
}

/** IB's "client id already in use" (sent with id -1, so it arrives as an info message). */
const CLIENT_ID_IN_USE: number = IbCode.CLIENT_ID_IN_USE;
const NOT_CONNECTED: number = ErrorCode.NOT_CONNECTED;

/**
 * IBApiNext keeps its IBApi private, but only the IBApi reports system messages (326 arrives as one) and
 * nextValidId (the moment requests start to flow). Fail loudly if a @stoqey/ib upgrade moves it.
 */
function underlyingApi(ib: IBApiNext): IBApi {
  const api: unknown = Reflect.get(ib, 'api');
  if (!(api instanceof IBApi)) {
    throw new Error('@stoqey/ib changed: IBApiNext no longer holds an IBApi in its "api" field');
  }
  return api;
}
