import { randomBytes } from 'node:crypto';
import { desVncResponse } from '../../../support/rfb-client';
import {
  isValidVncAuthResponse,
  vncAuthResponse,
  vncChallenge,
  vncDesKey,
} from '../../../../src/simulator/vnc/vnc-auth';

describe('VNC Authentication (DES)', () => {
  it('bit-reverses each byte of the zero-padded, truncated password to make the key', () => {
    // "password" = 70 61 73 73 77 6f 72 64; reversed bit by bit.
    expect(vncDesKey('password').toString('hex')).toBe('0e86ceceeef64e26');
    expect(vncDesKey('password and more')).toEqual(vncDesKey('password'));
    expect(vncDesKey('ab').toString('hex')).toBe('8646000000000000');
  });

  it('matches the well-known VNC vectors: passwords stored under the fixed d3des key', () => {
    // vncpasswd stores a password encrypted with the same bit-reversed DES under the fixed key
    // {23, 82, 107, 6, 35, 78, 88, 7}; "password" is famously dbd83cfd727a1458 and "12345678"
    // f0e43164f6c2e373 (e.g. TightVNC's registry value). Two blocks, two vectors.
    const fixedKey = String.fromCharCode(23, 82, 107, 6, 35, 78, 88, 7);
    const response = vncAuthResponse(fixedKey, Buffer.from('password12345678', 'latin1'));
    expect(response.toString('hex')).toBe('dbd83cfd727a1458' + 'f0e43164f6c2e373');
  });

  it('agrees with an independent computation through Node’s own 3DES for random inputs', () => {
    for (let round = 0; round < 20; round++) {
      const password = randomBytes(1 + (round % 10)).toString('latin1');
      const challenge = vncChallenge();
      expect(challenge).toHaveLength(16);
      expect(vncAuthResponse(password, challenge)).toEqual(desVncResponse(password, challenge));
    }
  });

  it('accepts only the right response', () => {
    const challenge = vncChallenge();
    const right = vncAuthResponse('secret', challenge);
    expect(isValidVncAuthResponse('secret', challenge, right)).toBe(true);
    expect(isValidVncAuthResponse('secret', challenge, vncAuthResponse('Secret', challenge))).toBe(false);
    expect(isValidVncAuthResponse('secret', challenge, right.subarray(0, 8))).toBe(false);
    expect(isValidVncAuthResponse('secret', vncChallenge(), right)).toBe(false);
  });
});
