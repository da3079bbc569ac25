import { createServer, type Server, type Socket } from 'node:net';
import type { WireScalar, WireValue } from './framing';
import {
  TwsClientSession,
  type ClientSession,
  type RequestHandler,
  type SessionHooks,
} from './client-session';

export interface TwsServerOptions {
  host: string;
  port: number;
  maxMessagesPerSecond: number;
  connectionTime(): string;
  /** When false, connections are accepted and closed at once: the socat relay with no gateway behind it. */
  isAcceptingApiClients(): boolean;
  onSessionStarted(session: ClientSession): void;
  onPacingViolation(session: ClientSession): void;
  log(message: string): void;
}

/** Sees every message as it crossed the wire (outgoing ones after the version gates were applied). */
export type WireTap = (
  direction: 'out' | 'in',
  session: ClientSession,
  fields: readonly WireScalar[],
) => void;

/** The TCP listener: owns the sessions, routes requests to handlers, enforces unique client ids. */
export class TwsServer {
  private server: Server | undefined;
  private readonly sessions = new Set<TwsClientSession>();
  private readonly handlers = new Map<number, RequestHandler>();
  private readonly taps = new Set<WireTap>();
  private nextConnectionId = 1;
  private boundPort: number | undefined;

  constructor(private readonly options: TwsServerOptions) {}

  get port(): number {
    if (this.boundPort === undefined) throw new Error('The simulator is not listening');
    return this.boundPort;
  }

  get isListening(): boolean {
    return this.server?.listening ?? false;
  }

  on(messageId: number, handler: RequestHandler): void {
    if (this.handlers.has(messageId)) throw new Error(`Message ${messageId} already has a handler`);
    this.handlers.set(messageId, handler);
  }

  addTap(tap: WireTap): () => void {
    this.taps.add(tap);
    return () => this.taps.delete(tap);
  }

  /** Sessions that finished START_API and are still connected. */
  connectedSessions(): ClientSession[] {
    return [...this.sessions].filter((session) => session.clientId !== undefined && session.isOpen);
  }

  broadcast(fields: readonly WireValue[]): void {
    for (const session of this.connectedSessions()) session.send(fields);
  }

  async listen(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    const port = this.boundPort ?? this.options.port;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('Unexpected server address');
    this.boundPort = address.port;
    return address.port;
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropAllConnections();
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  dropAllConnections(): void {
    for (const session of this.sessions) session.destroy();
  }

  private accept(socket: Socket): void {
    if (!this.options.isAcceptingApiClients()) {
      socket.destroy();
      return;
    }
    const hooks: SessionHooks = {
      connectionTime: () => this.options.connectionTime(),
      maxMessagesPerSecond: this.options.maxMessagesPerSecond,
      handlerFor: (messageId) => this.handlers.get(messageId),
      onStartApi: (session, clientId) => this.admit(session, clientId),
      onOutgoing: (session, fields) => this.taps.forEach((tap) => tap('out', session, fields)),
      onIncoming: (session, fields) => this.taps.forEach((tap) => tap('in', session, fields)),
      onPacingViolation: (session) => this.options.onPacingViolation(session),
      log: (message) => this.options.log(message),
    };
    const session = new TwsClientSession(this.nextConnectionId++, socket, hooks);
    this.sessions.add(session);
    session.onClose(() => this.sessions.delete(session));
  }

  private admit(session: ClientSession, clientId: number): boolean {
    const inUse = this.connectedSessions().some((other) => other !== session && other.clientId === clientId);
    if (inUse) return false;
    // Defer so the session counts as started before the welcome burst runs.
    queueMicrotask(() => this.options.onSessionStarted(session));
    return true;
  }
}
