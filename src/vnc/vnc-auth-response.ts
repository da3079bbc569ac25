import { DES } from 'des.js';

/** VNC Authentication's challenge is 16 bytes (RFC 6143 §7.2.2). */
export const VNC_CHALLENGE_LENGTH = 16;
const KEY_LENGTH = 8;

/**
 * The client's side of VNC Authentication, as the proxy answers the gateway's challenge. The simulator's
 * VNC server checks answers with its own copy: it imports nothing of the service, and the service borrows
 * nothing from its test double.
 */
export function vncAuthResponse(password: string, challenge: Buffer): Buffer {
  if (challenge.length % 8 !== 0) throw new Error('a VNC challenge is a whole number of DES blocks');
  // VNC's DES key: the password's first 8 bytes, zero-padded, each byte bit-reversed (d3des took bits
  // least-significant first). Node 20's OpenSSL 3 no longer offers single DES, hence des.js.
  const key = Buffer.alloc(KEY_LENGTH);
  Buffer.from(password, 'latin1').copy(key, 0, 0, KEY_LENGTH);
  const cipher = DES.create({ type: 'encrypt', key: Buffer.from(key.map(reverseBits)) });
  // Whole blocks only, so update() is the complete answer (final() would append a padding block).
  return Buffer.from(cipher.update(challenge));
}

function reverseBits(byte: number): number {
  let reversed = 0;
  for (let bit = 0; bit < 8; bit++) reversed |= ((byte >> bit) & 1) << (7 - bit);
  return reversed;
}
