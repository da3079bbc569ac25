import { fontCharacters, GLYPH_HEIGHT, glyphFor } from '../../../../src/simulator/vnc/bitmap-font';
import {
  accentOf,
  renderStatusScreen,
  SCREEN_COLOURS,
  type Rgb,
} from '../../../../src/simulator/vnc/status-screen';
import type { Frame } from '../../../../src/simulator/vnc/frame';

function countColour(frame: Frame, colour: Rgb, fromRow = 0, toRow = frame.height): number {
  let count = 0;
  for (let at = fromRow * frame.width * 4; at < toRow * frame.width * 4; at += 4) {
    if (
      frame.pixels[at] === colour[0] &&
      frame.pixels[at + 1] === colour[1] &&
      frame.pixels[at + 2] === colour[2]
    ) {
      count++;
    }
  }
  return count;
}

describe('bitmap font', () => {
  it('has a distinct glyph for every printable ASCII character', () => {
    const printable = Array.from({ length: 0x7f - 0x20 }, (_, index) => String.fromCharCode(0x20 + index));
    expect(fontCharacters().sort()).toEqual(printable.sort());
    const shapes = new Set(printable.map((char) => glyphFor(char).join(',')));
    expect(shapes.size).toBe(printable.length);
    for (const char of printable) expect(glyphFor(char)).toHaveLength(GLYPH_HEIGHT);
    expect(glyphFor(' ').every((row) => row === 0)).toBe(true);
  });

  it('draws anything else as a question mark', () => {
    expect(glyphFor('é')).toEqual(glyphFor('?'));
    expect(glyphFor('\t')).toEqual(glyphFor('?'));
  });
});

describe('status screen', () => {
  it.each([
    ['Logged in', 'ok'],
    ['Logging in...', 'pending'],
    ['Waiting for second factor authentication', 'pending'],
    ['Starting IB Gateway...', 'pending'],
    ['Login failed: unrecognized username or password', 'failure'],
    ['FARM DOWN', 'failure'],
    ['FROZEN', 'pending'],
    ['FLOWING', 'ok'],
    ['DU1234567', undefined],
  ])('reads %j as %s', (value, accent) => {
    expect(accentOf(value)).toBe(accent);
  });

  it('draws the title in the header and the lines below it', () => {
    const frame = renderStatusScreen('Title', ['HELLO'], 800, 480);
    expect(frame.pixels).toHaveLength(800 * 480 * 4);
    expect(countColour(frame, SCREEN_COLOURS.title, 0, 64)).toBeGreaterThan(100);
    expect(countColour(frame, SCREEN_COLOURS.text, 68)).toBeGreaterThan(100);
    const withoutLines = renderStatusScreen('Title', [], 800, 480);
    expect(countColour(withoutLines, SCREEN_COLOURS.text)).toBe(0);
  });

  it.each([
    ['STATE: Logged in', SCREEN_COLOURS.ok],
    ['STATE: Logging in...', SCREEN_COLOURS.pending],
    ['STATE: Waiting for second factor authentication', SCREEN_COLOURS.pending],
    ['STATE: Login failed: unrecognized username or password', SCREEN_COLOURS.failure],
  ])('colours %j and the stripe under the header by the state', (line, colour) => {
    const frame = renderStatusScreen('Gateway', ['IB GATEWAY', line], 800, 480);
    // The stripe under the header is the accent colour across the whole width...
    expect(countColour(frame, colour, 64, 68)).toBe(800 * 4);
    // ...and so are the value's letters and the marker beside the line.
    expect(countColour(frame, colour, 68)).toBeGreaterThan(300);
    for (const other of [SCREEN_COLOURS.ok, SCREEN_COLOURS.pending, SCREEN_COLOURS.failure]) {
      if (other !== colour) expect(countColour(frame, other)).toBe(0);
    }
  });

  it('differs when a line changes and is identical when nothing does', () => {
    const lines = ['STATE: Logged in', 'API CLIENTS: 1'];
    const first = renderStatusScreen('Gateway', lines);
    expect(renderStatusScreen('Gateway', [...lines]).pixels.equals(first.pixels)).toBe(true);
    expect(
      renderStatusScreen('Gateway', ['STATE: Logged in', 'API CLIENTS: 2']).pixels.equals(first.pixels),
    ).toBe(false);
  });

  it('clips what does not fit instead of failing', () => {
    const long = 'X'.repeat(500);
    const many = Array.from({ length: 100 }, (_, index) => `LINE ${index}: ${long}`);
    expect(() => renderStatusScreen(long, many, 800, 480)).not.toThrow();
    expect(() => renderStatusScreen('tiny', many, 10, 10)).not.toThrow();
  });
});
