import { createServer, type Server, type Socket } from 'node:net';
import type { Frame } from './frame';
import { RfbSession } from './rfb-session';
import { renderStatusScreen, SCREEN_HEIGHT, SCREEN_WIDTH } from './status-screen';

export interface VncServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** VNC Authentication with this password (only its first 8 characters count); none when unset or empty. */
  password?: string | undefined;
  title: string;
  statusLines: () => string[];
  /** Frames to one client are at least this far apart; default 250 ms. */
  minFrameIntervalMs?: number;
  /** How often the screen is redrawn on its own while clients watch (the clock ticks); default 1 s. */
  redrawIntervalMs?: number;
  log?: (line: string) => void;
}

/**
 * A small RFB 3.8 server (RFC 6143) showing the gateway's status screen, so that noVNC (through a
 * websocket proxy) and ordinary VNC viewers have a real screen to look at.
 */
export class VncServer {
  private server: Server | undefined;
  private readonly sessions = new Set<RfbSession>();
  /** The screen all clients share; drawn lazily, replaced only when its pixels change. */
  private screen: Frame | undefined;
  private redrawTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: VncServerOptions) {}

  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    if (this.server) throw new Error('the VNC server is already listening');
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      this.server = undefined;
      throw error;
    });
    server.on('error', (error) => this.log(`VNC server: ${error.message}`));
    this.redrawTimer = setInterval(() => this.refresh(), this.options.redrawIntervalMs ?? 1000);
    this.redrawTimer.unref();
    const port = this.port;
    if (port === undefined) throw new Error('the VNC server has no port');
    this.log(`VNC server listening on ${this.options.host}:${port}`);
    return port;
  }

  async close(): Promise<void> {
    if (this.redrawTimer) clearInterval(this.redrawTimer);
    this.redrawTimer = undefined;
    for (const session of this.sessions) session.destroy();
    this.sessions.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Redraws the status screen and sends the change to every client waiting for one. */
  refresh(): void {
    if (this.sessions.size === 0) {
      // Nobody is watching: draw on demand when someone connects.
      this.screen = undefined;
      return;
    }
    const next = this.render();
    if (this.screen?.pixels.equals(next.pixels)) return;
    this.screen = next;
    for (const session of this.sessions) session.screenChanged();
  }

  private currentScreen(): Frame {
    this.screen ??= this.render();
    return this.screen;
  }

  private render(): Frame {
    let lines: string[];
    try {
      lines = this.options.statusLines();
    } catch (error) {
      // The screen must never take the process down; show what went wrong instead.
      lines = [`STATUS ERROR: ${error instanceof Error ? error.message : String(error)}`];
    }
    return renderStatusScreen(this.options.title, lines, SCREEN_WIDTH, SCREEN_HEIGHT);
  }

  private accept(socket: Socket): void {
    const session: RfbSession = new RfbSession({
      socket,
      title: this.options.title,
      password: this.options.password || undefined,
      screen: () => this.currentScreen(),
      minFrameIntervalMs: this.options.minFrameIntervalMs ?? 250,
      log: (line) => this.log(line),
      onClose: () => this.sessions.delete(session),
    });
    this.sessions.add(session);
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
