import { vncAuthResponse, VNC_CHALLENGE_LENGTH } from './vnc-auth-response';
import type { ByteQueue } from './byte-queue';

/** One side of the proxied RFB connection during the handshake (RFC 6143 §7.1-7.2). */
export interface RfbPeer {
  input: ByteQueue;
  write(bytes: Buffer): void;
}

/** The handshake failed; the message is written for the person at the viewer (it never holds a secret). */
export class RfbHandshakeError extends Error {
  override readonly name = 'RfbHandshakeError';
}

const VERSION_LENGTH = 12;
const SecurityType = { INVALID: 0, NONE: 1, VNC_AUTH: 2 } as const;
const MAX_REASON_LENGTH = 4096;

type MinorVersion = 3 | 7 | 8;

function versionBytes(minor: MinorVersion): Buffer {
  return Buffer.from(`RFB 003.00${minor}\n`, 'latin1');
}

/** The RFB 3.x version both ends can speak: 3.8, 3.7 or 3.3. */
function parseVersion(bytes: Buffer, who: string): MinorVersion {
  const match = /^RFB (\d{3})\.(\d{3})\n$/.exec(bytes.toString('latin1'));
  if (!match) throw new RfbHandshakeError(`${who} does not speak the VNC protocol (RFB)`);
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major > 3 || minor >= 8) return 8;
  if (major === 3 && minor === 7) return 7;
  if (major === 3 && minor >= 3) return 3;
  throw new RfbHandshakeError(`${who} speaks RFB ${major}.${minor}, which is not supported`);
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}

async function readU32(peer: RfbPeer): Promise<number> {
  return (await peer.input.read(4)).readUInt32BE(0);
}

async function readReason(peer: RfbPeer): Promise<string> {
  const length = await readU32(peer);
  if (length === 0) return '';
  const shown = Math.min(length, MAX_REASON_LENGTH);
  const text = (await peer.input.read(shown)).toString('utf8');
  return length > shown ? `${text}...` : text;
}

function reasonBytes(reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8');
  return Buffer.concat([u32(text.length), text]);
}

/**
 * The proxy logs in to the gateway's VNC server as a client: it answers VNC Authentication with the password
 * the service holds, so that the browser never needs (or sees) it. Resolves once the server accepted; the
 * next bytes the server expects are the viewer's ClientInit, which the viewer itself sends.
 */
export async function authenticateToServer(server: RfbPeer, password: string | undefined): Promise<void> {
  const minor = parseVersion(await server.input.read(VERSION_LENGTH), "The gateway's VNC server");
  server.write(versionBytes(minor));
  let type: number;
  if (minor === 3) {
    type = await readU32(server);
    if (type === SecurityType.INVALID) throw refusedByServer(await readReason(server));
  } else {
    const count = (await server.input.read(1))[0] ?? 0;
    if (count === 0) throw refusedByServer(await readReason(server));
    const offered = [...(await server.input.read(count))];
    type = chooseSecurityType(offered, password);
    server.write(Buffer.from([type]));
  }
  if (type === SecurityType.VNC_AUTH) {
    if (password === undefined) throw missingPassword();
    const challenge = await server.input.read(VNC_CHALLENGE_LENGTH);
    server.write(vncAuthResponse(password, challenge));
  } else if (type !== SecurityType.NONE) {
    throw new RfbHandshakeError(
      `The gateway's VNC server wants security type ${type}, which the proxy does not speak`,
    );
  }
  // RFB 3.8 always sends a SecurityResult; 3.3 and 3.7 only after VNC Authentication.
  if (minor === 8 || type === SecurityType.VNC_AUTH) {
    const result = await readU32(server);
    if (result !== 0) {
      const reason = minor === 8 ? await readReason(server) : '';
      throw new RfbHandshakeError(
        type === SecurityType.VNC_AUTH
          ? `The gateway's VNC server refused the VNC password the service has (gateway.vncPassword)${reason ? `: ${reason}` : ''}`
          : `The gateway's VNC server refused the connection${reason ? `: ${reason}` : ''}`,
      );
    }
  }
}

function chooseSecurityType(offered: number[], password: string | undefined): number {
  if (password !== undefined && offered.includes(SecurityType.VNC_AUTH)) return SecurityType.VNC_AUTH;
  if (offered.includes(SecurityType.NONE)) return SecurityType.NONE;
  if (offered.includes(SecurityType.VNC_AUTH)) throw missingPassword();
  throw new RfbHandshakeError(
    `The gateway's VNC server offers only security types ${offered.join(', ')}, which the proxy does not speak`,
  );
}

function missingPassword(): RfbHandshakeError {
  return new RfbHandshakeError(
    "The gateway's VNC server asks for a password and the service has none: set gateway.vncPassword (--vnc-password-file)",
  );
}

function refusedByServer(reason: string): RfbHandshakeError {
  return new RfbHandshakeError(
    `The gateway's VNC server refused the connection${reason ? `: ${reason}` : ''}`,
  );
}

/**
 * The proxy greets the browser as a VNC server that needs no authentication: the service already checked
 * the API token before the websocket opened, and did the gateway's VNC Authentication itself.
 */
export async function acceptViewer(viewer: RfbPeer): Promise<void> {
  viewer.write(versionBytes(8));
  const minor = parseVersion(await viewer.input.read(VERSION_LENGTH), 'The viewer');
  if (minor === 3) {
    viewer.write(u32(SecurityType.NONE));
    return;
  }
  viewer.write(Buffer.from([1, SecurityType.NONE]));
  const chosen = (await viewer.input.read(1))[0];
  if (chosen !== SecurityType.NONE) {
    throw new RfbHandshakeError(`The viewer chose security type ${chosen ?? '?'} instead of None`);
  }
  if (minor === 8) viewer.write(u32(0));
}

/** Tells the browser's viewer why there is no screen, in the handshake's own words (noVNC shows the reason). */
export async function refuseViewer(viewer: RfbPeer, reason: string): Promise<void> {
  viewer.write(versionBytes(8));
  const minor = parseVersion(await viewer.input.read(VERSION_LENGTH), 'The viewer');
  viewer.write(
    Buffer.concat([minor === 3 ? u32(SecurityType.INVALID) : Buffer.from([0]), reasonBytes(reason)]),
  );
}
