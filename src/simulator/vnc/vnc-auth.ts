import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DES } from 'des.js';

export const VNC_CHALLENGE_LENGTH = 16;
const KEY_LENGTH = 8;

export function vncChallenge(): Buffer {
  return randomBytes(VNC_CHALLENGE_LENGTH);
}

function reverseBits(byte: number): number {
  let reversed = 0;
  for (let bit = 0; bit < 8; bit++) reversed |= ((byte >> bit) & 1) << (7 - bit);
  return reversed;
}

/**
 * The DES key VNC derives from a password: its first 8 bytes (zero-padded), each byte bit-reversed,
 * because the original VNC's d3des took bits least-significant first.
 */
export function vncDesKey(password: string): Buffer {
  const key = Buffer.alloc(KEY_LENGTH);
  Buffer.from(password, 'latin1').copy(key, 0, 0, KEY_LENGTH);
  return Buffer.from(key.map(reverseBits));
}

/** VNC Authentication's answer to `challenge`: DES-ECB under the password's key (RFC 6143 §7.2.2). */
export function vncAuthResponse(password: string, challenge: Buffer): Buffer {
  if (challenge.length % 8 !== 0) throw new Error('a VNC challenge is a whole number of DES blocks');
  // Node 20's OpenSSL 3 no longer offers single DES, hence des.js.
  const cipher = DES.create({ type: 'encrypt', key: vncDesKey(password) });
  // Whole blocks only, so update() is the complete answer (final() would append a padding block).
  return Buffer.from(cipher.update(challenge));
}

export function isValidVncAuthResponse(password: string, challenge: Buffer, response: Buffer): boolean {
  const expected = vncAuthResponse(password, challenge);
  return response.length === expected.length && timingSafeEqual(response, expected);
}
