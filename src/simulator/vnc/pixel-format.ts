import { BYTES_PER_FRAME_PIXEL, type Frame, type Rect } from './frame';

/** RFB PIXEL_FORMAT (RFC 6143 §7.4); only true colour is supported. */
export interface PixelFormat {
  bitsPerPixel: 8 | 16 | 32;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

export const PIXEL_FORMAT_LENGTH = 16;

/** What ServerInit announces: 32-bit little-endian XRGB, the format most VNC servers default to. */
export const SERVER_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
};

export function writePixelFormat(format: PixelFormat): Buffer {
  const out = Buffer.alloc(PIXEL_FORMAT_LENGTH);
  out.writeUInt8(format.bitsPerPixel, 0);
  out.writeUInt8(format.depth, 1);
  out.writeUInt8(format.bigEndian ? 1 : 0, 2);
  out.writeUInt8(format.trueColour ? 1 : 0, 3);
  out.writeUInt16BE(format.redMax, 4);
  out.writeUInt16BE(format.greenMax, 6);
  out.writeUInt16BE(format.blueMax, 8);
  out.writeUInt8(format.redShift, 10);
  out.writeUInt8(format.greenShift, 11);
  out.writeUInt8(format.blueShift, 12);
  return out;
}

/** Parses a PIXEL_FORMAT; a string explains why it cannot be served. */
export function readPixelFormat(data: Buffer, offset: number): PixelFormat | string {
  const bitsPerPixel = data.readUInt8(offset);
  if (bitsPerPixel !== 8 && bitsPerPixel !== 16 && bitsPerPixel !== 32) {
    return `unsupported bits-per-pixel ${bitsPerPixel}`;
  }
  const format: PixelFormat = {
    bitsPerPixel,
    depth: data.readUInt8(offset + 1),
    bigEndian: data.readUInt8(offset + 2) !== 0,
    trueColour: data.readUInt8(offset + 3) !== 0,
    redMax: data.readUInt16BE(offset + 4),
    greenMax: data.readUInt16BE(offset + 6),
    blueMax: data.readUInt16BE(offset + 8),
    redShift: data.readUInt8(offset + 10),
    greenShift: data.readUInt8(offset + 11),
    blueShift: data.readUInt8(offset + 12),
  };
  if (!format.trueColour) return 'colour-map pixel formats are not supported';
  if (Math.max(format.redShift, format.greenShift, format.blueShift) >= bitsPerPixel) {
    return 'a colour shift lies outside the pixel';
  }
  return format;
}

/** For each 8-bit intensity, that channel's bits already scaled to `max` and shifted into place. */
function channelTable(max: number, shift: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let value = 0; value < 256; value++) table[value] = (Math.round((value * max) / 255) << shift) >>> 0;
  return table;
}

/** The pixels of `rect` (inside the frame) in the client's format, as RFB Raw encoding lays them out. */
export function encodeRaw(
  frame: Frame,
  rect: Rect,
  format: PixelFormat,
  out: Buffer,
  offset: number,
): number {
  const red = channelTable(format.redMax, format.redShift);
  const green = channelTable(format.greenMax, format.greenShift);
  const blue = channelTable(format.blueMax, format.blueShift);
  const bytesPerPixel = format.bitsPerPixel / 8;
  const mask = format.bitsPerPixel === 32 ? 0xffffffff : (1 << format.bitsPerPixel) - 1;
  const { pixels } = frame;
  let at = offset;
  for (let row = rect.y; row < rect.y + rect.height; row++) {
    let source = (row * frame.width + rect.x) * BYTES_PER_FRAME_PIXEL;
    for (let column = 0; column < rect.width; column++, source += BYTES_PER_FRAME_PIXEL) {
      const value =
        ((red[pixels[source] ?? 0] ?? 0) |
          (green[pixels[source + 1] ?? 0] ?? 0) |
          (blue[pixels[source + 2] ?? 0] ?? 0)) &
        mask;
      if (bytesPerPixel === 4) {
        if (format.bigEndian) out.writeUInt32BE(value >>> 0, at);
        else out.writeUInt32LE(value >>> 0, at);
      } else if (bytesPerPixel === 2) {
        if (format.bigEndian) out.writeUInt16BE(value, at);
        else out.writeUInt16LE(value, at);
      } else {
        out.writeUInt8(value, at);
      }
      at += bytesPerPixel;
    }
  }
  return at;
}

export function rawLength(rect: Rect, format: PixelFormat): number {
  return rect.width * rect.height * (format.bitsPerPixel / 8);
}
