import type { Socket } from 'node:net';
import { changedRegion, clipToFrame, isEmptyRect, type Frame, type Rect } from './frame';
import {
  encodeRaw,
  PIXEL_FORMAT_LENGTH,
  rawLength,
  readPixelFormat,
  SERVER_PIXEL_FORMAT,
  writePixelFormat,
  type PixelFormat,
} from './pixel-format';
import { isValidVncAuthResponse, VNC_CHALLENGE_LENGTH, vncChallenge } from './vnc-auth';

export interface RfbSessionOptions {
  socket: Socket;
  title: string;
  /** VNC Authentication when set, no authentication otherwise. */
  password: string | undefined;
  /** The screen as it is now; the same object until it changes. */
  screen: () => Frame;
  /** Frames to one client are at least this far apart. */
  minFrameIntervalMs: number;
  log: (line: string) => void;
  onClose: () => void;
}

const SERVER_VERSION = 'RFB 003.008\n';
const VERSION_LENGTH = SERVER_VERSION.length;

const SecurityType = { NONE: 1, VNC_AUTH: 2 } as const;
const SecurityResult = { OK: 0, FAILED: 1 } as const;

const ClientMessage = {
  SET_PIXEL_FORMAT: 0,
  SET_ENCODINGS: 2,
  FRAMEBUFFER_UPDATE_REQUEST: 3,
  KEY_EVENT: 4,
  POINTER_EVENT: 5,
  CLIENT_CUT_TEXT: 6,
} as const;

const ServerMessage = { FRAMEBUFFER_UPDATE: 0 } as const;
/** A client that has not finished the handshake by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long a refused client gets to read the reason before the connection is cut. */
const REFUSAL_LINGER_MS = 1000;
const RAW_ENCODING = 0;

type Phase = 'version' | 'security-type' | 'vnc-auth' | 'client-init' | 'ready' | 'closed';

interface UpdateRequest {
  incremental: boolean;
  area: Rect;
}

/**
 * One VNC client, from the version handshake to the end (RFC 6143). Input is buffered and parsed
 * message by message, so any split of the byte stream works; anything malformed closes the client.
 * Frames go out only as answers to FramebufferUpdateRequests, Raw-encoded, rate-limited.
 */
export class RfbSession {
  private phase: Phase = 'version';
  /** 3, 7 or 8: the RFB 3.x minor version the client chose. */
  private minorVersion = 8;
  private input: Buffer = Buffer.alloc(0);
  /** Bytes of a ClientCutText still to be thrown away as they arrive. */
  private cutTextToSkip = 0;
  private challenge: Buffer | undefined;
  private pixelFormat: PixelFormat = SERVER_PIXEL_FORMAT;
  private pendingRequest: UpdateRequest | undefined;
  /** The screen as this client last saw it; incremental updates send what differs from it. */
  private clientScreen: Frame | undefined;
  private lastFrameAt = Number.NEGATIVE_INFINITY;
  private sendTimer: NodeJS.Timeout | undefined;
  private awaitingDrain = false;
  private closeReported = false;

  constructor(private readonly options: RfbSessionOptions) {
    const { socket } = options;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.options.log(`VNC client ${this.peer}: ${error.message}`));
    socket.on('close', () => this.closed());
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => this.fail('handshake timed out'));
    socket.write(SERVER_VERSION);
  }

  /** The screen changed: answer a waiting incremental request. */
  screenChanged(): void {
    this.sendWhenDue();
  }

  destroy(): void {
    this.options.socket.destroy();
    this.closed();
  }

  private get peer(): string {
    return `${this.options.socket.remoteAddress ?? '?'}:${this.options.socket.remotePort ?? '?'}`;
  }

  private receive(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    try {
      while (this.consumeNext()) {
        // each round consumed one message (or part of a cut text to skip)
      }
    } catch (error) {
      this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  /** Handles the next complete unit of input; false when more bytes are needed. */
  private consumeNext(): boolean {
    if (this.cutTextToSkip > 0) {
      const skipped = Math.min(this.cutTextToSkip, this.input.length);
      this.cutTextToSkip -= skipped;
      this.take(skipped);
      return skipped > 0;
    }
    switch (this.phase) {
      case 'version':
        return (
          this.input.length >= VERSION_LENGTH && this.onVersion(this.take(VERSION_LENGTH).toString('latin1'))
        );
      case 'security-type':
        return this.input.length >= 1 && this.onSecurityType(this.take(1).readUInt8(0));
      case 'vnc-auth':
        return (
          this.input.length >= VNC_CHALLENGE_LENGTH && this.onAuthResponse(this.take(VNC_CHALLENGE_LENGTH))
        );
      case 'client-init':
        // The shared flag does not matter: every client sees the same status screen.
        return this.skip(1) && this.sendServerInit();
      case 'ready':
        return this.onClientMessage();
      case 'closed':
        return false;
    }
  }

  /** Drops the next `length` bytes if they have all arrived. */
  private skip(length: number): boolean {
    if (this.input.length < length) return false;
    this.take(length);
    return true;
  }

  private take(length: number): Buffer {
    const taken = this.input.subarray(0, length);
    this.input = this.input.subarray(length);
    return taken;
  }

  // ---- Handshake ----

  private onVersion(version: string): boolean {
    const match = /^RFB (\d{3})\.(\d{3})\n$/.exec(version);
    if (!match) return this.fail(`not an RFB protocol version: ${JSON.stringify(version)}`);
    const major = Number(match[1]);
    const minor = Number(match[2]);
    if (major < 3) return this.fail(`unsupported RFB version ${major}.${minor}`);
    // RFC 6143 §7.1.1: any other 3.x is treated as 3.3; later majors get what we offered.
    this.minorVersion = major > 3 || minor >= 8 ? 8 : minor === 7 ? 7 : 3;
    const securityType = this.options.password === undefined ? SecurityType.NONE : SecurityType.VNC_AUTH;
    if (this.minorVersion === 3) {
      // 3.3: the server decides and announces the type as a U32.
      this.write(u32(securityType));
      if (securityType === SecurityType.VNC_AUTH) this.sendChallenge();
      else this.phase = 'client-init';
    } else {
      this.write(Buffer.from([1, securityType]));
      this.phase = 'security-type';
    }
    return true;
  }

  private onSecurityType(chosen: number): boolean {
    const offered = this.options.password === undefined ? SecurityType.NONE : SecurityType.VNC_AUTH;
    if (chosen !== offered) return this.rejectSecurity(`security type ${chosen} was not offered`);
    if (chosen === SecurityType.VNC_AUTH) {
      this.sendChallenge();
      return true;
    }
    // 3.8 confirms even "None" with a SecurityResult; 3.7 goes straight on.
    if (this.minorVersion >= 8) this.write(u32(SecurityResult.OK));
    this.phase = 'client-init';
    return true;
  }

  private sendChallenge(): void {
    this.challenge = vncChallenge();
    this.write(this.challenge);
    this.phase = 'vnc-auth';
  }

  private onAuthResponse(response: Buffer): boolean {
    const { password } = this.options;
    if (
      password === undefined ||
      !this.challenge ||
      !isValidVncAuthResponse(password, this.challenge, response)
    ) {
      return this.rejectSecurity('Authentication failed');
    }
    this.write(u32(SecurityResult.OK));
    this.phase = 'client-init';
    return true;
  }

  /** SecurityResult "failed", with the reason from 3.8 on, then the end of the connection. */
  private rejectSecurity(reason: string): boolean {
    const parts = [u32(SecurityResult.FAILED)];
    if (this.minorVersion >= 8) parts.push(u32(Buffer.byteLength(reason)), Buffer.from(reason));
    this.options.log(`VNC client ${this.peer}: ${reason}`);
    this.phase = 'closed';
    const { socket } = this.options;
    socket.end(Buffer.concat(parts));
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
    return false;
  }

  private sendServerInit(): boolean {
    const screen = this.options.screen();
    const name = Buffer.from(this.options.title, 'utf8');
    const header = Buffer.alloc(4);
    header.writeUInt16BE(screen.width, 0);
    header.writeUInt16BE(screen.height, 2);
    this.write(Buffer.concat([header, writePixelFormat(SERVER_PIXEL_FORMAT), u32(name.length), name]));
    this.phase = 'ready';
    // A viewer may sit idle for hours; only the handshake has a deadline.
    this.options.socket.setTimeout(0);
    return true;
  }

  // ---- Normal operation ----

  private onClientMessage(): boolean {
    const input = this.input;
    if (input.length < 1) return false;
    const type = input.readUInt8(0);
    switch (type) {
      case ClientMessage.SET_PIXEL_FORMAT: {
        if (input.length < 4 + PIXEL_FORMAT_LENGTH) return false;
        const format = readPixelFormat(this.take(4 + PIXEL_FORMAT_LENGTH), 4);
        if (typeof format === 'string') return this.fail(format);
        this.pixelFormat = format;
        // Whatever the client holds was drawn in the old format.
        this.clientScreen = undefined;
        return true;
      }
      case ClientMessage.SET_ENCODINGS: {
        if (input.length < 4) return false;
        const length = 4 + 4 * input.readUInt16BE(2);
        if (input.length < length) return false;
        // Raw needs no permission (RFC 6143 §7.5.2) and is all this server sends; pseudo-encodings
        // such as DesktopSize are never needed because the screen never changes size.
        this.take(length);
        return true;
      }
      case ClientMessage.FRAMEBUFFER_UPDATE_REQUEST: {
        if (input.length < 10) return false;
        const request = this.take(10);
        this.onUpdateRequest({
          incremental: request.readUInt8(1) !== 0,
          area: {
            x: request.readUInt16BE(2),
            y: request.readUInt16BE(4),
            width: request.readUInt16BE(6),
            height: request.readUInt16BE(8),
          },
        });
        return true;
      }
      // A status screen has nothing to type into or click on.
      case ClientMessage.KEY_EVENT:
        return this.skip(8);
      case ClientMessage.POINTER_EVENT:
        return this.skip(6);
      case ClientMessage.CLIENT_CUT_TEXT: {
        if (input.length < 8) return false;
        this.cutTextToSkip = this.take(8).readUInt32BE(4);
        return true;
      }
      default:
        return this.fail(`unknown client message type ${type}`);
    }
  }

  private onUpdateRequest(request: UpdateRequest): void {
    const pending = this.pendingRequest;
    // A full request is not downgraded by an incremental one that follows before it is answered.
    this.pendingRequest =
      pending && !pending.incremental && request.incremental ? { ...pending, area: request.area } : request;
    this.sendWhenDue();
  }

  private sendWhenDue(): void {
    if (this.phase !== 'ready' || !this.pendingRequest || this.sendTimer || this.awaitingDrain) return;
    if (this.options.socket.writableNeedDrain) {
      // A slow reader gets frames as fast as it takes them, not a growing queue.
      this.awaitingDrain = true;
      this.options.socket.once('drain', () => {
        this.awaitingDrain = false;
        this.sendWhenDue();
      });
      return;
    }
    const wait = this.lastFrameAt + this.options.minFrameIntervalMs - Date.now();
    if (wait > 0) {
      this.sendTimer = setTimeout(() => {
        this.sendTimer = undefined;
        this.sendWhenDue();
      }, wait);
      return;
    }
    this.sendPendingUpdate();
  }

  private sendPendingUpdate(): void {
    const request = this.pendingRequest;
    if (!request) return;
    const screen = this.options.screen();
    let region: Rect;
    if (request.incremental && this.clientScreen) {
      if (this.clientScreen === screen) return;
      region = changedRegion(this.clientScreen, screen, request.area);
      // Nothing the client asked about changed: the request stays open until something does.
      if (isEmptyRect(region)) return;
    } else {
      region = clipToFrame(request.area, screen);
    }
    this.pendingRequest = undefined;
    this.clientScreen = screen;
    this.lastFrameAt = Date.now();
    this.write(this.framebufferUpdate(screen, region));
  }

  private framebufferUpdate(screen: Frame, region: Rect): Buffer {
    const rects = isEmptyRect(region) ? [] : [region];
    const length = 4 + rects.reduce((total, rect) => total + 12 + rawLength(rect, this.pixelFormat), 0);
    const message = Buffer.alloc(length);
    message.writeUInt8(ServerMessage.FRAMEBUFFER_UPDATE, 0);
    message.writeUInt16BE(rects.length, 2);
    let offset = 4;
    for (const rect of rects) {
      offset = message.writeUInt16BE(rect.x, offset);
      offset = message.writeUInt16BE(rect.y, offset);
      offset = message.writeUInt16BE(rect.width, offset);
      offset = message.writeUInt16BE(rect.height, offset);
      offset = message.writeInt32BE(RAW_ENCODING, offset);
      offset = encodeRaw(screen, rect, this.pixelFormat, message, offset);
    }
    return message;
  }

  // ---- Plumbing ----

  private write(data: Buffer): void {
    if (this.phase !== 'closed') this.options.socket.write(data);
  }

  private fail(reason: string): false {
    if (this.phase === 'closed') return false;
    this.options.log(`VNC client ${this.peer} closed: ${reason}`);
    this.destroy();
    return false;
  }

  private closed(): void {
    if (this.sendTimer) clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    this.pendingRequest = undefined;
    this.phase = 'closed';
    this.input = Buffer.alloc(0);
    if (this.closeReported) return;
    this.closeReported = true;
    this.options.onClose();
  }
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value, 0);
  return out;
}
