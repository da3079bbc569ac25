import { createServer, type Server, type Socket } from 'node:net';
import { createWebSocketStream, WebSocket } from 'ws';

/**
 * A local TCP port whose every connection is carried over a fresh websocket to `url`: lets the plain-TCP
 * test VNC client talk to the service's websocket proxy exactly as noVNC does (binary frames).
 */
export class WebsocketTcpBridge {
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<WebsocketTcpBridge> {
    const server = createServer();
    const bridge = new WebsocketTcpBridge(server);
    server.on('connection', (socket) => bridge.carry(socket, url, headers));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return bridge;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the bridge is not listening');
    return address.port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private carry(socket: Socket, url: string, headers: Record<string, string>): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const websocket = new WebSocket(url, { headers });
    const stream = createWebSocketStream(websocket);
    stream.on('error', () => socket.destroy());
    socket.on('error', () => stream.destroy());
    socket.pipe(stream).pipe(socket);
  }
}
