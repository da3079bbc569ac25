/** A value as it goes on the wire: undefined and null become empty fields, booleans 1/0. */
export type WireScalar = string | number | boolean | undefined | null;

/**
 * Fields that exist only from one protocol version on (`since`) or only below one (`before`): a message is
 * written once, with its gated fields marked, and each session keeps the ones its negotiated version has.
 */
export interface VersionGate {
  readonly gate: 'since' | 'before';
  readonly version: number;
  readonly fields: readonly WireValue[];
}

export type WireValue = WireScalar | VersionGate;

/** Fields that arrived at `version`: sent to sessions at that version or later. */
export function since(version: number, ...fields: WireValue[]): VersionGate {
  return { gate: 'since', version, fields };
}

/** Fields that were dropped at `version`: sent to sessions below it only. */
export function before(version: number, ...fields: WireValue[]): VersionGate {
  return { gate: 'before', version, fields };
}

/** The fields a session at `version` sends: gates opened or dropped, recursively. */
export function fieldsAt(version: number, fields: readonly WireValue[]): WireScalar[] {
  const out: WireScalar[] = [];
  const add = (values: readonly WireValue[]): void => {
    for (const value of values) {
      if (value === null || typeof value !== 'object') out.push(value);
      else if (value.gate === 'since' ? version >= value.version : version < value.version) add(value.fields);
    }
  };
  add(fields);
  return out;
}

const HANDSHAKE_PREFIX = Buffer.from('API\0', 'latin1');

export function formatField(value: WireScalar): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return '';
    return String(value);
  }
  return value;
}

/** One framed message: uint32 BE length, then every field NUL-terminated. */
export function encodeFrame(fields: readonly WireScalar[]): Buffer {
  const body = Buffer.from(fields.map(formatField).join('\0') + '\0', 'utf8');
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Splits a message body into its fields, dropping the empty piece after the final NUL. */
export function decodeFields(body: Buffer): string[] {
  const fields = body.toString('utf8').split('\0');
  if (fields.length > 0 && fields[fields.length - 1] === '') fields.pop();
  return fields;
}

export class ProtocolViolation extends Error {}

/** The largest frame the client accepts; we refuse to buffer more than that from a client. */
const MAX_FRAME_BYTES = 0xffffff;

/**
 * Reads the client side of the connection: first the handshake ("API\0" + framed version range),
 * then length-framed messages. Bytes may arrive in any chunking.
 */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);
  private handshakeDone = false;

  /** Feeds bytes; returns the handshake version range (once) and every complete message. */
  push(chunk: Buffer): { versionRange?: string; messages: string[][] } {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const messages: string[][] = [];
    let versionRange: string | undefined;
    if (!this.handshakeDone) {
      if (this.buffered.length < HANDSHAKE_PREFIX.length) return { messages };
      if (!this.buffered.subarray(0, HANDSHAKE_PREFIX.length).equals(HANDSHAKE_PREFIX)) {
        throw new ProtocolViolation('Expected the API handshake prefix');
      }
      const body = this.takeFrame(HANDSHAKE_PREFIX.length);
      if (body === undefined) return { messages };
      versionRange = body.toString('utf8').replace(/\0+$/, '');
      this.handshakeDone = true;
    }
    for (;;) {
      const body = this.takeFrame(0);
      if (body === undefined) break;
      messages.push(decodeFields(body));
    }
    return versionRange === undefined ? { messages } : { versionRange, messages };
  }

  private takeFrame(offset: number): Buffer | undefined {
    if (this.buffered.length < offset + 4) return undefined;
    const length = this.buffered.readUInt32BE(offset);
    if (length > MAX_FRAME_BYTES) throw new ProtocolViolation(`Frame of ${length} bytes is too large`);
    if (this.buffered.length < offset + 4 + length) return undefined;
    const body = this.buffered.subarray(offset + 4, offset + 4 + length);
    this.buffered = this.buffered.subarray(offset + 4 + length);
    return body;
  }
}
