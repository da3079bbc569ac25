import { before, fieldsAt, since } from '../../../src/simulator/protocol/framing';
import { negotiateVersion, parseVersionRange, ServerVersion } from '../../../src/simulator/protocol/versions';

describe('protocol version negotiation', () => {
  it('answers the highest version inside the offered range that the simulator speaks', () => {
    expect(negotiateVersion({ min: 100, max: 193 })).toBe(193);
    expect(negotiateVersion({ min: 157, max: 178 })).toBe(178);
    expect(negotiateVersion({ min: 100, max: 151 })).toBe(151);
    expect(negotiateVersion({ min: 157, max: 157 })).toBe(157);
    expect(negotiateVersion({ min: 100, max: 240 })).toBe(ServerVersion.NEWEST);
  });

  it('finds no version when the ranges do not meet', () => {
    expect(negotiateVersion({ min: 100, max: 150 })).toBeUndefined();
    expect(negotiateVersion({ min: 194, max: 200 })).toBeUndefined();
  });

  it('parses the handshake text, refusing reversed or garbled ranges', () => {
    expect(parseVersionRange('v100..193')).toEqual({ min: 100, max: 193 });
    expect(parseVersionRange('v176')).toEqual({ min: 176, max: 176 });
    expect(parseVersionRange('v193..100')).toBeUndefined();
    expect(parseVersionRange('hello')).toBeUndefined();
  });
});

describe('version-gated fields', () => {
  const message = [9, 'AAPL', since(182, '20250620'), before(190, 'rfq'), since(160, 'a', before(170, 'b'))];

  it('keeps a since-field from its version on and a before-field below its version only', () => {
    expect(fieldsAt(193, message)).toEqual([9, 'AAPL', '20250620', 'a']);
    expect(fieldsAt(182, message)).toEqual([9, 'AAPL', '20250620', 'rfq', 'a']);
    expect(fieldsAt(165, message)).toEqual([9, 'AAPL', 'rfq', 'a', 'b']);
    expect(fieldsAt(157, message)).toEqual([9, 'AAPL', 'rfq']);
  });
});
