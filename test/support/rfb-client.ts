import { createCipheriv } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A minimal RFB (VNC) client for tests: the 3.3/3.7/3.8 handshake with None or VNC Authentication,
 * SetPixelFormat, SetEncodings, FramebufferUpdateRequest, and Raw-encoded updates decoded into an
 * RGB framebuffer. Written from RFC 6143, independently of the simulator's server.
 */

export interface RfbPixelFormat {
  bitsPerPixel: 8 | 16 | 32;
  depth: number;
  bigEndian: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** What noVNC asks for: 32-bit little-endian, red in the lowest byte. */
export const NOVNC_PIXEL_FORMAT: RfbPixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 0,
  greenShift: 8,
  blueShift: 16,
};

export const RGB565_BIG_ENDIAN: RfbPixelFormat = {
  bitsPerPixel: 16,
  depth: 16,
  bigEndian: true,
  redMax: 31,
  greenMax: 63,
  blueMax: 31,
  redShift: 11,
  greenShift: 5,
  blueShift: 0,
};

/** Roughly what noVNC 1.x announces: real encodings it would prefer, Raw, and pseudo-encodings. */
export const NOVNC_LIKE_ENCODINGS = [7, 16, 5, 2, 1, 0, -223, -224, -239, -258, -307, -308, -309, -312, -313];

export interface RfbClientOptions {
  port: number;
  host?: string;
  password?: string;
  /** The protocol version the client answers with; default 3.8. */
  version?: '3.3' | '3.7' | '3.8';
  /** Sent as SetPixelFormat after ServerInit; 'server' keeps the server's own format. */
  pixelFormat?: RfbPixelFormat | 'server';
  encodings?: number[];
  /** The security type to choose (3.7 and later), offered or not; default: what the password implies. */
  securityType?: number;
  timeoutMs?: number;
  /** Sends every byte in a write of its own, a millisecond apart (tests of partial reads). */
  trickle?: boolean;
}

export interface ServerInit {
  width: number;
  height: number;
  name: string;
  pixelFormat: RfbPixelFormat & { trueColour: boolean };
}

export interface RfbRect {
  x: number;
  y: number;
  width: number;
  height: number;
  encoding: number;
}

export interface RfbUpdate {
  rects: RfbRect[];
}

/** The server refused the handshake: SecurityResult and, from 3.8 on, its reason. */
export class RfbHandshakeError extends Error {
  constructor(
    readonly securityResult: number | undefined,
    readonly reason: string,
    /** Whether the server closed the connection after refusing. */
    readonly serverClosed: boolean,
  ) {
    super(`RFB handshake refused (${securityResult ?? 'no result'}): ${reason}`);
  }
}

export class RfbClient {
  /** The screen as received: 4 bytes per pixel (R, G, B, 0), scaled back to 8 bits per channel. */
  readonly framebuffer: Buffer;
  /** Resolves when the connection is gone. */
  readonly closed: Promise<void>;
  private readonly updates: RfbUpdate[] = [];
  private updateWaiter: (() => void) | undefined;
  private readError: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly writer: ByteWriter,
    private readonly reader: SocketReader,
    readonly serverInit: ServerInit,
    private pixelFormat: RfbPixelFormat,
    private readonly timeoutMs: number,
  ) {
    this.framebuffer = Buffer.alloc(serverInit.width * serverInit.height * 4);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.readServerMessages();
  }

  static async connect(options: RfbClientOptions): Promise<RfbClient> {
    const socket = connect({ host: options.host ?? '127.0.0.1', port: options.port });
    socket.setNoDelay(true);
    const reader = new SocketReader(socket);
    const writer = new ByteWriter(socket, options.trickle ?? false);
    const timeoutMs = options.timeoutMs ?? 5000;
    const timer = setTimeout(() => socket.destroy(new Error('RFB handshake timed out')), timeoutMs);
    try {
      const serverInit = await handshake(writer, reader, options);
      const client = new RfbClient(socket, writer, reader, serverInit, serverInit.pixelFormat, timeoutMs);
      if (options.pixelFormat !== 'server') client.setPixelFormat(options.pixelFormat ?? NOVNC_PIXEL_FORMAT);
      client.setEncodings(options.encodings ?? NOVNC_LIKE_ENCODINGS);
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get width(): number {
    return this.serverInit.width;
  }

  get height(): number {
    return this.serverInit.height;
  }

  setPixelFormat(format: RfbPixelFormat): void {
    const message = Buffer.alloc(20);
    message.writeUInt8(0, 0);
    message.writeUInt8(format.bitsPerPixel, 4);
    message.writeUInt8(format.depth, 5);
    message.writeUInt8(format.bigEndian ? 1 : 0, 6);
    message.writeUInt8(1, 7);
    message.writeUInt16BE(format.redMax, 8);
    message.writeUInt16BE(format.greenMax, 10);
    message.writeUInt16BE(format.blueMax, 12);
    message.writeUInt8(format.redShift, 14);
    message.writeUInt8(format.greenShift, 15);
    message.writeUInt8(format.blueShift, 16);
    this.writer.write(message);
    this.pixelFormat = format;
  }

  setEncodings(encodings: number[]): void {
    const message = Buffer.alloc(4 + 4 * encodings.length);
    message.writeUInt8(2, 0);
    message.writeUInt16BE(encodings.length, 2);
    encodings.forEach((encoding, index) => message.writeInt32BE(encoding, 4 + 4 * index));
    this.writer.write(message);
  }

  requestUpdate(incremental: boolean, area = { x: 0, y: 0, width: this.width, height: this.height }): void {
    const message = Buffer.alloc(10);
    message.writeUInt8(3, 0);
    message.writeUInt8(incremental ? 1 : 0, 1);
    message.writeUInt16BE(area.x, 2);
    message.writeUInt16BE(area.y, 4);
    message.writeUInt16BE(area.width, 6);
    message.writeUInt16BE(area.height, 8);
    this.writer.write(message);
  }

  sendKey(keysym: number, down: boolean): void {
    const message = Buffer.alloc(8);
    message.writeUInt8(4, 0);
    message.writeUInt8(down ? 1 : 0, 1);
    message.writeUInt32BE(keysym, 4);
    this.writer.write(message);
  }

  sendPointer(x: number, y: number, buttonMask: number): void {
    const message = Buffer.alloc(6);
    message.writeUInt8(5, 0);
    message.writeUInt8(buttonMask, 1);
    message.writeUInt16BE(x, 2);
    message.writeUInt16BE(y, 4);
    this.writer.write(message);
  }

  clientCutTextMessage(text: string): Buffer {
    const body = Buffer.from(text, 'latin1');
    const header = Buffer.alloc(8);
    header.writeUInt8(6, 0);
    header.writeUInt32BE(body.length, 4);
    return Buffer.concat([header, body]);
  }

  /** Sends raw bytes as they are (for tests of split or malformed input). */
  writeRaw(data: Buffer): void {
    this.writer.write(data);
  }

  /** The next FramebufferUpdate (already applied to {@link framebuffer}). */
  async nextUpdate(timeoutMs = this.timeoutMs): Promise<RfbUpdate> {
    const deadline = Date.now() + timeoutMs;
    while (this.updates.length === 0) {
      if (this.readError) throw this.readError;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no framebuffer update within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.updateWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.updateWaiter = undefined;
    }
    const update = this.updates.shift();
    if (!update) throw new Error('unreachable: no update queued');
    return update;
  }

  /** Whether an update arrives within `ms` (for checking that none does). */
  async updateArrivesWithin(ms: number): Promise<boolean> {
    try {
      await this.nextUpdate(ms);
      return true;
    } catch {
      return false;
    }
  }

  /** RGB of the pixel at (x, y). */
  pixel(x: number, y: number): [number, number, number] {
    const at = (y * this.width + x) * 4;
    return [this.framebuffer[at] ?? 0, this.framebuffer[at + 1] ?? 0, this.framebuffer[at + 2] ?? 0];
  }

  close(): void {
    this.socket.destroy();
  }

  private async readServerMessages(): Promise<void> {
    try {
      for (;;) {
        const type = (await this.reader.read(1)).readUInt8(0);
        if (type === 0) this.queueUpdate(await this.readFramebufferUpdate());
        else if (type === 2)
          continue; // Bell
        else if (type === 3) {
          const header = await this.reader.read(7);
          await this.reader.read(header.readUInt32BE(3));
        } else throw new Error(`unexpected server message type ${type}`);
      }
    } catch (error) {
      this.readError = error instanceof Error ? error : new Error(String(error));
      this.updateWaiter?.();
    }
  }

  private queueUpdate(update: RfbUpdate): void {
    this.updates.push(update);
    this.updateWaiter?.();
  }

  private async readFramebufferUpdate(): Promise<RfbUpdate> {
    const header = await this.reader.read(3);
    const count = header.readUInt16BE(1);
    const rects: RfbRect[] = [];
    for (let index = 0; index < count; index++) {
      const rectHeader = await this.reader.read(12);
      const rect: RfbRect = {
        x: rectHeader.readUInt16BE(0),
        y: rectHeader.readUInt16BE(2),
        width: rectHeader.readUInt16BE(4),
        height: rectHeader.readUInt16BE(6),
        encoding: rectHeader.readInt32BE(8),
      };
      if (rect.encoding !== 0) throw new Error(`encoding ${rect.encoding}: only Raw was expected`);
      if (rect.x + rect.width > this.width || rect.y + rect.height > this.height) {
        throw new Error(`rectangle outside the framebuffer: ${JSON.stringify(rect)}`);
      }
      const bytesPerPixel = this.pixelFormat.bitsPerPixel / 8;
      this.applyRaw(rect, await this.reader.read(rect.width * rect.height * bytesPerPixel));
      rects.push(rect);
    }
    return { rects };
  }

  private applyRaw(rect: RfbRect, data: Buffer): void {
    const format = this.pixelFormat;
    const bytesPerPixel = format.bitsPerPixel / 8;
    const red = channelTo8Bits(format.redMax);
    const green = channelTo8Bits(format.greenMax);
    const blue = channelTo8Bits(format.blueMax);
    const { framebuffer, width } = this;
    let at = 0;
    for (let row = 0; row < rect.height; row++) {
      let target = ((rect.y + row) * width + rect.x) * 4;
      for (let column = 0; column < rect.width; column++, target += 4, at += bytesPerPixel) {
        let value: number;
        if (bytesPerPixel === 4) value = format.bigEndian ? data.readUInt32BE(at) : data.readUInt32LE(at);
        else if (bytesPerPixel === 2)
          value = format.bigEndian ? data.readUInt16BE(at) : data.readUInt16LE(at);
        else value = data.readUInt8(at);
        framebuffer[target] = red[(value >>> format.redShift) & format.redMax] ?? 0;
        framebuffer[target + 1] = green[(value >>> format.greenShift) & format.greenMax] ?? 0;
        framebuffer[target + 2] = blue[(value >>> format.blueShift) & format.blueMax] ?? 0;
      }
    }
  }
}

/** Channel value (0..max) to 8 bits, for every possible value. */
function channelTo8Bits(max: number): Uint8Array {
  const table = new Uint8Array(max + 1);
  for (let value = 0; value <= max; value++) table[value] = Math.round((value * 255) / max);
  return table;
}

async function handshake(
  writer: ByteWriter,
  reader: SocketReader,
  options: RfbClientOptions,
): Promise<ServerInit> {
  const serverVersion = (await reader.read(12)).toString('latin1');
  if (!/^RFB \d{3}\.\d{3}\n$/.test(serverVersion)) throw new Error(`bad server version ${serverVersion}`);
  const minor = Number((options.version ?? '3.8').split('.')[1]);
  writer.write(Buffer.from(`RFB 003.00${minor}\n`));

  let securityType: number;
  if (minor === 3) {
    securityType = (await reader.read(4)).readUInt32BE(0);
    if (securityType === 0) throw await refused(reader, undefined);
  } else {
    const count = (await reader.read(1)).readUInt8(0);
    if (count === 0) throw await refused(reader, undefined);
    const offered = [...(await reader.read(count))];
    securityType = options.securityType ?? (options.password === undefined ? 1 : 2);
    if (options.securityType === undefined && !offered.includes(securityType)) {
      throw new Error(`the server offers security types ${offered.join(', ')}, not ${securityType}`);
    }
    writer.write(Buffer.from([securityType]));
  }

  if (securityType === 2) {
    const challenge = await reader.read(16);
    writer.write(desVncResponse(options.password ?? '', challenge));
  }
  // 3.8 always sends a SecurityResult; earlier versions only after VNC Authentication.
  if (minor >= 8 || securityType === 2) {
    const result = (await reader.read(4)).readUInt32BE(0);
    if (result !== 0) throw await refused(reader, result, minor >= 8);
  }

  writer.write(Buffer.from([1])); // ClientInit: shared
  const init = await reader.read(24);
  const name = (await reader.read(init.readUInt32BE(20))).toString('utf8');
  return {
    width: init.readUInt16BE(0),
    height: init.readUInt16BE(2),
    name,
    pixelFormat: {
      bitsPerPixel: init.readUInt8(4) as 8 | 16 | 32,
      depth: init.readUInt8(5),
      bigEndian: init.readUInt8(6) !== 0,
      trueColour: init.readUInt8(7) !== 0,
      redMax: init.readUInt16BE(8),
      greenMax: init.readUInt16BE(10),
      blueMax: init.readUInt16BE(12),
      redShift: init.readUInt8(14),
      greenShift: init.readUInt8(15),
      blueShift: init.readUInt8(16),
    },
  };
}

async function refused(
  reader: SocketReader,
  securityResult: number | undefined,
  hasReason = true,
): Promise<RfbHandshakeError> {
  const reason = hasReason
    ? (await reader.read((await reader.read(4)).readUInt32BE(0))).toString('utf8')
    : '';
  const serverClosed = await reader.endsWithin(2000);
  return new RfbHandshakeError(securityResult, reason, serverClosed);
}

/**
 * The VNC Authentication response, computed with Node's own DES: two-key 3DES-EDE with both keys
 * equal is single DES (encrypt-decrypt-encrypt under one key).
 */
export function desVncResponse(password: string, challenge: Buffer): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let index = 0; index < 8; index++) {
    const byte = key[index] ?? 0;
    let reversed = 0;
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) reversed |= 0x80 >> bit;
    key[index] = reversed;
  }
  const cipher = createCipheriv('des-ede-ecb', Buffer.concat([key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}

/** Writes to the socket, optionally one byte at a time. */
class ByteWriter {
  private readonly queue: number[] = [];
  private pumping = false;

  constructor(
    private readonly socket: Socket,
    private readonly trickle: boolean,
  ) {}

  write(data: Buffer): void {
    if (!this.trickle) {
      this.socket.write(data);
      return;
    }
    this.queue.push(...data);
    if (!this.pumping) this.pump();
  }

  private pump(): void {
    const byte = this.queue.shift();
    this.pumping = byte !== undefined;
    if (byte === undefined || this.socket.destroyed) return;
    this.socket.write(Buffer.from([byte]));
    setTimeout(() => this.pump(), 1);
  }
}

/** Reads exact byte counts from a socket, however the data arrives. */
class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.wake?.();
    });
    socket.on('error', (error) => {
      this.failure = error;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async read(length: number): Promise<Buffer> {
    while (this.buffered < length) {
      if (this.failure) throw this.failure;
      if (this.ended) throw new Error(`connection closed while waiting for ${length} bytes`);
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    const all = this.chunks.length === 1 ? (this.chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(this.chunks);
    this.chunks = all.length > length ? [all.subarray(length)] : [];
    this.buffered -= length;
    return all.subarray(0, length);
  }

  /** Whether the peer closes the connection within `ms`. */
  async endsWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && !this.failure) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return true;
  }
}

/**
 * What a VNC server says first on connect (its RFB version line), collected until a newline, until the server
 * closes the connection (an empty string when it refuses) or until `timeoutMs` passes quietly.
 */
export async function rfbGreeting(port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = connect(port, '127.0.0.1');
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.endsWith('\n')) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}
