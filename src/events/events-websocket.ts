import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { errorBody } from '../common/api-exception.filter';
import { AccessTokens } from '../security/access-tokens';
import type { Refusal } from '../security/refusal';
import { RequestOriginPolicy } from '../security/request-origin-policy';
import { VNC_WEBSOCKET_PATH } from '../vnc/vnc-websocket-proxy';
import { EVENT_HUB, EventHub } from './event-hub';
import { EventStreams, type EventNotice, type EventSink } from './event-subscriber';
import type { LiveEvent } from './live-event';

export const EVENTS_WEBSOCKET_PATH = '/events';
/** Clients only listen; anything they send is small. */
const MAX_CLIENT_MESSAGE_BYTES = 4 * 1024;

/** Each event's WebSocket payload, encoded once however many clients send it. */
const payloads = new WeakMap<LiveEvent, Buffer>();

/**
 * Sends one client's events as JSON text messages. Messages within one round of the event loop are corked
 * into one write to the socket; a client that does not answer a ping by the next one is gone.
 */
class WebSocketSink implements EventSink {
  readonly transport = 'websocket';
  private corked = false;
  private alive = true;

  constructor(
    private readonly websocket: WebSocket,
    private readonly socket: Duplex,
    private readonly hub: EventHub,
  ) {
    websocket.on('pong', () => (this.alive = true));
  }

  unsentBytes(): number {
    return this.websocket.bufferedAmount;
  }

  send(event: LiveEvent): void {
    let payload = payloads.get(event);
    if (payload === undefined) {
      payload = Buffer.from(this.hub.json(event));
      payloads.set(event, payload);
    }
    this.write(payload);
  }

  notify(notice: EventNotice): void {
    this.write(Buffer.from(JSON.stringify(notice)));
  }

  heartbeat(): void {
    if (this.websocket.readyState !== WebSocket.OPEN) return;
    if (!this.alive) {
      this.websocket.terminate();
      return;
    }
    this.alive = false;
    this.websocket.ping();
  }

  drop(): void {
    this.websocket.terminate();
  }

  private write(payload: Buffer): void {
    if (this.websocket.readyState !== WebSocket.OPEN) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.websocket.send(payload, { binary: false });
  }
}

/**
 * The live events over WebSocket, on the path of the SSE route (/events) and with its query, topics, filters
 * and access rules. The upgrade is checked like every route (Host/Origin, API token, the page cookie too) and
 * the request like the SSE one (400, 403, unknown symbol 404) before the handshake, so a refusal is an HTTP
 * answer with the API's error body.
 */
@Injectable()
export class EventsWebsocket implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EventsWebsocket');
  private readonly websockets = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  private server: Server | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly tokens: AccessTokens,
    private readonly origins: RequestOriginPolicy,
    private readonly streams: EventStreams,
    @Inject(EVENT_HUB) private readonly hub: EventHub,
  ) {}

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    this.server.on('upgrade', this.onUpgrade);
  }

  onModuleDestroy(): void {
    this.server?.off('upgrade', this.onUpgrade);
    for (const websocket of this.websockets.clients) websocket.terminate();
    this.websockets.close();
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(request.url ?? '/', 'http://service');
    if (url.pathname !== EVENTS_WEBSOCKET_PATH) {
      // The VNC proxy owns its path and answers for no other while another upgrade handler listens.
      if (url.pathname !== VNC_WEBSOCKET_PATH) {
        rejectUpgrade(socket, {
          statusCode: 404,
          code: 'NOT_FOUND',
          message: `No websocket at ${url.pathname}`,
        });
      }
      return;
    }
    const refusal = this.origins.check(request);
    const access = refusal ? { refusal } : this.tokens.authenticate(request, { acceptCookie: true });
    if ('refusal' in access) {
      this.logger.warn(
        `Refused the events websocket from ${request.socket.remoteAddress ?? '?'}: ${access.refusal.message}`,
      );
      rejectUpgrade(socket, access.refusal);
      return;
    }
    const header = request.headers['last-event-id'];
    this.streams
      .prepare(
        Object.fromEntries(url.searchParams),
        access.level,
        typeof header === 'string' ? header : undefined,
      )
      .then(
        (prepared) => {
          if (socket.destroyed) {
            prepared.feed?.close(); // the client left while the streams opened
            return;
          }
          this.websockets.handleUpgrade(request, socket, head, (websocket) => {
            const session = this.streams.attach(prepared, new WebSocketSink(websocket, socket, this.hub));
            websocket.on('close', () => session.close());
            websocket.on('error', () => websocket.terminate());
          });
        },
        (error: unknown) => rejectUpgrade(socket, errorBody(error, this.logger)),
      );
  };
}

function rejectUpgrade(socket: Duplex, refusal: Refusal): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(refusal);
  const headers = [
    `HTTP/1.1 ${refusal.statusCode} ${STATUS_CODES[refusal.statusCode] ?? ''}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(refusal.statusCode === 401 ? ['WWW-Authenticate: Bearer realm="ib-gateway-supervisor"'] : []),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
