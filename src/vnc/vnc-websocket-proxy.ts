import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { AccessTokens } from '../security/access-tokens';
import { vncAccessRefusal } from '../security/http-security';
import type { Refusal } from '../security/refusal';
import { RequestOriginPolicy } from '../security/request-origin-policy';
import { ByteQueue } from './byte-queue';
import {
  acceptViewer,
  authenticateToServer,
  RfbHandshakeError,
  refuseViewer,
  type RfbPeer,
} from './rfb-proxy-handshake';
import { VNC_TARGET, type VncEndpoint, type VncTarget } from './vnc-target';

/** Where noVNC's websocket connects (websockify's conventional name). */
export const VNC_WEBSOCKET_PATH = '/vnc/websockify';
const CONNECT_TIMEOUT_MS = 5_000;
const HANDSHAKE_TIMEOUT_MS = 15_000;
/** Viewer messages are key, pointer and small control messages. */
const MAX_VIEWER_MESSAGE_BYTES = 1024 * 1024;

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RfbHandshakeError(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The websocket-to-TCP bridge between noVNC in the browser and the gateway's VNC server, on the service's
 * own HTTP server. The websocket is checked like every route (Host/Origin, API token, full access only);
 * the proxy then logs in to the VNC server with the service's password and offers the browser a
 * connection without one, so the password never reaches the page.
 */
@Injectable()
export class VncWebsocketProxy implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('VncProxy');
  private readonly websockets = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_VIEWER_MESSAGE_BYTES,
    // noVNC asks for no subprotocol by default; older viewers ask for "binary".
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });
  private readonly connections = new Set<{ websocket: WebSocket; gateway: Socket | undefined }>();
  private server: Server | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly tokens: AccessTokens,
    private readonly origins: RequestOriginPolicy,
    @Inject(VNC_TARGET) private readonly target: VncTarget,
  ) {}

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    this.server.on('upgrade', this.onUpgrade);
  }

  onModuleDestroy(): void {
    this.server?.off('upgrade', this.onUpgrade);
    for (const { websocket, gateway } of this.connections) {
      websocket.terminate();
      gateway?.destroy();
    }
    this.connections.clear();
    this.websockets.close();
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(request.url ?? '/', 'http://service').pathname;
    if (path !== VNC_WEBSOCKET_PATH) {
      // Another upgrade handler may own this path; answer only when there is none.
      if ((this.server?.listenerCount('upgrade') ?? 0) <= 1) {
        rejectUpgrade(socket, { statusCode: 404, code: 'NOT_FOUND', message: `No websocket at ${path}` });
      }
      return;
    }
    const refusal = this.refusalFor(request);
    if (refusal) {
      this.logger.warn(
        `Refused the VNC websocket from ${request.socket.remoteAddress ?? '?'}: ${refusal.message}`,
      );
      rejectUpgrade(socket, refusal);
      return;
    }
    this.websockets.handleUpgrade(request, socket, head, (websocket) => {
      const gateway = new URL(request.url ?? '/', 'http://service').searchParams.get('gateway') ?? undefined;
      this.bridge(websocket, request.socket.remoteAddress ?? '?', gateway).catch((error: unknown) =>
        this.logger.error(`VNC bridge failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    });
  };

  private refusalFor(request: IncomingMessage): Refusal | undefined {
    const originRefusal = this.origins.check(request);
    if (originRefusal) return originRefusal;
    const access = this.tokens.authenticate(request, { acceptCookie: true });
    if ('refusal' in access) return access.refusal;
    return vncAccessRefusal(VNC_WEBSOCKET_PATH, access.level);
  }

  private async bridge(websocket: WebSocket, peer: string, gatewayName: string | undefined): Promise<void> {
    const connection: { websocket: WebSocket; gateway: Socket | undefined } = {
      websocket,
      gateway: undefined,
    };
    this.connections.add(connection);
    const viewer: RfbPeer = { input: new ByteQueue(), write: (bytes) => websocket.send(bytes) };
    websocket.on('message', (data) => viewer.input.push(rawBytes(data)));
    websocket.on('error', (error) => this.logger.warn(`VNC websocket from ${peer}: ${error.message}`));
    websocket.on('close', () => {
      viewer.input.fail(new RfbHandshakeError('The viewer closed the connection'));
      connection.gateway?.destroy();
      this.connections.delete(connection);
    });

    const endpoint = this.target.endpoint(gatewayName);
    if (endpoint === undefined) {
      await this.refuse(
        viewer,
        websocket,
        this.target.unavailableReason?.(gatewayName) ??
          "The gateway's screen is not available: the gateway is not running",
      );
      return;
    }
    let gateway: Socket;
    try {
      gateway = await withTimeout(
        openTcp(endpoint),
        CONNECT_TIMEOUT_MS,
        "Connecting to the gateway's VNC server",
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await this.refuse(viewer, websocket, `Cannot reach the gateway's VNC server (${reason})`);
      return;
    }
    connection.gateway = gateway;
    if (websocket.readyState !== WebSocket.OPEN) {
      gateway.destroy();
      return;
    }
    const server: RfbPeer = { input: new ByteQueue(), write: (bytes) => gateway.write(bytes) };
    gateway.on('data', (chunk: Buffer) => server.input.push(chunk));
    gateway.on('error', (error) => server.input.fail(error));
    let piping = false;
    gateway.on('close', () => {
      server.input.fail(new RfbHandshakeError("The gateway's VNC server closed the connection"));
      // During the handshake the failure is reported to the viewer below; afterwards the screen is gone.
      if (piping) websocket.close(1000, 'The gateway screen closed');
    });

    try {
      await withTimeout(
        authenticateToServer(server, endpoint.password),
        HANDSHAKE_TIMEOUT_MS,
        'The VNC login',
      );
    } catch (error) {
      gateway.destroy();
      await this.refuse(viewer, websocket, error instanceof Error ? error.message : String(error));
      return;
    }
    try {
      await withTimeout(acceptViewer(viewer), HANDSHAKE_TIMEOUT_MS, "The viewer's handshake");
    } catch (error) {
      this.logger.warn(`VNC viewer ${peer}: ${error instanceof Error ? error.message : String(error)}`);
      gateway.destroy();
      websocket.close(1002, 'VNC handshake failed');
      return;
    }
    piping = true;
    if (gateway.destroyed) {
      websocket.close(1000, 'The gateway screen closed');
      return;
    }
    viewer.input.forwardTo((bytes) => gateway.write(bytes));
    server.input.forwardTo((bytes) => websocket.send(bytes));
    this.logger.log(
      `VNC viewer ${peer} connected to the gateway's screen at ${endpoint.host}:${endpoint.port}`,
    );
  }

  private async refuse(viewer: RfbPeer, websocket: WebSocket, reason: string): Promise<void> {
    this.logger.warn(`No gateway screen for a VNC viewer: ${reason}`);
    try {
      await withTimeout(refuseViewer(viewer, reason), HANDSHAKE_TIMEOUT_MS, "The viewer's handshake");
    } catch {
      // the viewer went away first; nothing to tell
    }
    websocket.close(1000, 'No gateway screen');
  }
}

async function openTcp(endpoint: VncEndpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const fail = (error: NodeJS.ErrnoException): void => {
      socket.destroy();
      reject(new Error(error.code ?? error.message));
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.off('error', fail);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

function rejectUpgrade(socket: Duplex, refusal: Refusal): void {
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
