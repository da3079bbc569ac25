import { randomBytes } from 'node:crypto';
import { isValidVncAuthResponse } from '../../../src/simulator/vnc/vnc-auth';
import { vncAuthResponse, VNC_CHALLENGE_LENGTH } from '../../../src/vnc/vnc-auth-response';

describe("the proxy's VNC Authentication answer", () => {
  it("is what the simulator's VNC server accepts, for any password and challenge", () => {
    for (const password of ['', 'a', 'secret', 'exactly8', 'longer than eight bytes', 'pässwörd']) {
      const challenge = randomBytes(VNC_CHALLENGE_LENGTH);
      expect(isValidVncAuthResponse(password, challenge, vncAuthResponse(password, challenge))).toBe(true);
    }
  });

  it('differs for another password', () => {
    const challenge = randomBytes(VNC_CHALLENGE_LENGTH);
    expect(isValidVncAuthResponse('right', challenge, vncAuthResponse('wrong', challenge))).toBe(false);
  });

  it('refuses a challenge that is not whole DES blocks', () => {
    expect(() => vncAuthResponse('secret', Buffer.alloc(5))).toThrow(/whole number of DES blocks/);
  });
});
