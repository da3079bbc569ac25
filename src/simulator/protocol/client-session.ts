import type { Socket } from 'node:net';
import {
  encodeFrame,
  fieldsAt,
  FrameReader,
  ProtocolViolation,
  type WireScalar,
  type WireValue,
} from './framing';
import { FieldReader, InvalidRequest, MalformedRequest } from './field-reader';
import { Request, requestIdPosition } from './message-ids';
import { Code, errorMessage, NO_REQUEST_ID, SystemMessage } from './messages';
import { negotiateVersion, parseVersionRange, ServerVersion } from './versions';

/** What a request handler sees of the connection that sent the request. */
export interface ClientSession {
  /** Serial number of this TCP connection within the server's life. */
  readonly connectionId: number;
  /** The API client id from START_API (undefined before it). */
  readonly clientId: number | undefined;
  /** The protocol version agreed in the handshake: every message is written and read for it. */
  readonly serverVersion: number;
  readonly isOpen: boolean;
  /** Sends one message, keeping the version-gated fields this session's version has. */
  send(fields: readonly WireValue[]): void;
  /** The messages `work` sends leave in one write: a feed cycle costs one system call, not one per tick. */
  batch(work: () => void): void;
  sendError(id: number, code: number, text: string): void;
  onClose(listener: () => void): void;
  /** Flushes what was sent and closes the connection. */
  close(): void;
}

export type RequestHandler = (session: ClientSession, request: FieldReader) => void;

export interface SessionHooks {
  /** Formats the connection time as TWS does ("20240103 10:00:00 GMT"). */
  connectionTime(): string;
  /** START_API arrived: accept (return true) or refuse (e.g. client id in use). */
  onStartApi(session: ClientSession, clientId: number): boolean;
  handlerFor(messageId: number): RequestHandler | undefined;
  /** Every outgoing message as it went out, for fidelity checks and debugging. */
  onOutgoing(session: ClientSession, fields: readonly WireScalar[]): void;
  onIncoming(session: ClientSession, fields: readonly string[]): void;
  /** Requests per second allowed before error 100 and the disconnect. */
  maxMessagesPerSecond: number;
  onPacingViolation(session: ClientSession): void;
  log(message: string): void;
}

/** One TCP connection speaking the TWS API: handshake, START_API, framing, the 50 msg/s limit, dispatch. */
export class TwsClientSession implements ClientSession {
  private readonly reader = new FrameReader();
  private readonly closeListeners: (() => void)[] = [];
  private readonly recentMessageTimes: number[] = [];
  private started = false;
  private closed = false;
  clientId: number | undefined;
  serverVersion: number = ServerVersion.NEWEST;

  constructor(
    readonly connectionId: number,
    private readonly socket: Socket,
    private readonly hooks: SessionHooks,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.markClosed());
  }

  get isOpen(): boolean {
    return !this.closed && !this.socket.destroyed && this.socket.writable;
  }

  send(fields: readonly WireValue[]): void {
    if (!this.isOpen) return;
    const sent = fieldsAt(this.serverVersion, fields);
    this.hooks.onOutgoing(this, sent);
    this.socket.write(encodeFrame(sent));
  }

  batch(work: () => void): void {
    this.socket.cork();
    try {
      work();
    } finally {
      this.socket.uncork();
    }
  }

  sendError(id: number, code: number, text: string): void {
    this.send(errorMessage(id, code, text));
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    if (this.closed) return;
    this.socket.end();
    // A client that never reads must not keep the connection alive.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Drops the connection at once, as a crashed gateway or a network cut would. */
  destroy(): void {
    this.socket.destroy();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let received: ReturnType<FrameReader['push']>;
    try {
      received = this.reader.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      this.hooks.log(`connection ${this.connectionId}: ${error.message}; closing`);
      this.socket.destroy();
      return;
    }
    if (received.versionRange !== undefined) this.answerHandshake(received.versionRange);
    for (const fields of received.messages) {
      if (this.closed) return;
      this.dispatch(fields);
    }
  }

  private answerHandshake(versionRange: string): void {
    const range = parseVersionRange(versionRange);
    const version = range && negotiateVersion(range);
    if (version === undefined) {
      // No version both sides speak: IB Gateway closes the connection without a word.
      this.hooks.log(
        `connection ${this.connectionId}: client offers ${versionRange}; the simulator speaks ` +
          `v${ServerVersion.OLDEST}..${ServerVersion.NEWEST}; closing`,
      );
      this.socket.destroy();
      return;
    }
    this.serverVersion = version;
    this.send([version, this.hooks.connectionTime()]);
  }

  private dispatch(fields: readonly string[]): void {
    this.hooks.onIncoming(this, fields);
    if (this.exceedsMessageRate()) return;
    const messageId = Number(fields[0]);
    const request = new FieldReader(fields, this.serverVersion);
    try {
      request.skip(1);
      if (messageId === Request.START_API) {
        this.startApi(request);
        return;
      }
      if (!this.started) return; // TWS ignores requests before START_API
      const handler = this.hooks.handlerFor(messageId);
      if (!handler) {
        // A message IB does not know has no layout it could find an id in: the refusal goes to -1.
        this.refuse(fields, Code.UNREADABLE_REQUEST, SystemMessage.unknownMessage(fields[0] ?? ''), false);
        return;
      }
      handler(this, request);
    } catch (error) {
      if (error instanceof MalformedRequest) {
        this.refuse(fields, Code.UNREADABLE_REQUEST, SystemMessage.unreadableRequest(error.message));
      } else if (error instanceof InvalidRequest) {
        this.refuse(fields, Code.INVALID_REQUEST, SystemMessage.invalidRequest(error.message));
      } else {
        throw error;
      }
    }
  }

  /** IB answers a request it cannot read or accept with 320/321 for that request's id, never with silence. */
  private refuse(fields: readonly string[], code: number, text: string, known = true): void {
    const id = known ? requestIdOf(fields, this.serverVersion) : NO_REQUEST_ID;
    this.hooks.log(`connection ${this.connectionId}: message ${fields[0] ?? '?'} refused (${code}): ${text}`);
    this.sendError(id, code, text);
  }

  private startApi(request: FieldReader): void {
    if (this.started) return;
    request.skip(1); // version
    const clientId = request.int();
    this.clientId = clientId;
    if (!this.hooks.onStartApi(this, clientId)) {
      this.clientId = undefined;
      this.sendError(NO_REQUEST_ID, Code.CLIENT_ID_IN_USE, SystemMessage.clientIdInUse);
      this.close();
      return;
    }
    this.started = true;
  }

  /** IB allows 50 messages per second per client; the next one gets error 100 and a disconnect. */
  private exceedsMessageRate(): boolean {
    const now = Date.now();
    const times = this.recentMessageTimes;
    times.push(now);
    while (times.length > 0 && (times[0] ?? now) <= now - 1000) times.shift();
    if (times.length <= this.hooks.maxMessagesPerSecond) return false;
    this.hooks.onPacingViolation(this);
    this.sendError(
      NO_REQUEST_ID,
      Code.TOO_MANY_MESSAGES,
      SystemMessage.tooManyMessages(this.hooks.maxMessagesPerSecond, times.length),
    );
    this.close();
    this.markClosed();
    return true;
  }
}

/** Where a request carries its id, so a refusal reaches the caller waiting on it; -1 when unknown. */
function requestIdOf(fields: readonly string[], serverVersion: number): number {
  const position = requestIdPosition(Number(fields[0]), serverVersion);
  const id = position === undefined ? NaN : Number(fields[position]);
  return Number.isInteger(id) ? id : NO_REQUEST_ID;
}
