import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphFor } from './bitmap-font';
import { BYTES_PER_FRAME_PIXEL, type Frame } from './frame';

export type Rgb = readonly [red: number, green: number, blue: number];

export const SCREEN_WIDTH = 800;
export const SCREEN_HEIGHT = 480;

export const SCREEN_COLOURS = {
  background: [0x14, 0x18, 0x1f],
  header: [0x1d, 0x3b, 0x63],
  title: [0xff, 0xff, 0xff],
  label: [0x8c, 0x98, 0xab],
  text: [0xe8, 0xec, 0xf2],
  ok: [0x3c, 0xc8, 0x6b],
  pending: [0xf5, 0xaa, 0x35],
  failure: [0xe8, 0x4a, 0x4a],
} as const satisfies Record<string, Rgb>;

export type Accent = 'ok' | 'pending' | 'failure';

const HEADER_HEIGHT = 64;
const STRIPE_HEIGHT = 4;
const MARGIN = 24;
const TITLE_SCALE = 3;
const TEXT_SCALE = 2;
const LINE_SPACING = 36;
const MARKER_WIDTH = 8;
const TEXT_INDENT = MARGIN + MARKER_WIDTH + 12;

const FAILURE = /fail|error|denied|down|lost|disconnected|refus/i;
const PENDING = /logging in|waiting|second factor|2fa|starting|frozen|connecting/i;
const OK = /logged in|flowing|connected|\bok\b/i;

/** How a status value reads at a glance; failure wins over pending over ok. */
export function accentOf(value: string): Accent | undefined {
  if (FAILURE.test(value)) return 'failure';
  if (PENDING.test(value)) return 'pending';
  if (OK.test(value)) return 'ok';
  return undefined;
}

/** "LABEL: value" lines get a muted label and an accented value; anything else is plain text. */
function splitLabel(line: string): { label: string; value: string } | undefined {
  const match = /^([A-Z][A-Z0-9 /_-]*:)(.*)$/.exec(line);
  return match ? { label: match[1] ?? '', value: match[2] ?? '' } : undefined;
}

/**
 * Draws the gateway's status screen: a header bar with the title, a stripe coloured by the
 * STATE line, then one text line per status line with state-coloured values.
 */
export function renderStatusScreen(
  title: string,
  lines: readonly string[],
  width = SCREEN_WIDTH,
  height = SCREEN_HEIGHT,
): Frame {
  const canvas = new Canvas(width, height, SCREEN_COLOURS.background);
  canvas.fillRect(0, 0, width, HEADER_HEIGHT, SCREEN_COLOURS.header);
  const titleTop = Math.floor((HEADER_HEIGHT - GLYPH_HEIGHT * TITLE_SCALE) / 2) + TITLE_SCALE;
  canvas.drawText(title, MARGIN, titleTop, TITLE_SCALE, SCREEN_COLOURS.title);

  const stateLine = lines.find((line) => line.startsWith('STATE:'));
  const stateAccent = stateLine === undefined ? undefined : accentOf(stateLine.slice('STATE:'.length));
  canvas.fillRect(
    0,
    HEADER_HEIGHT,
    width,
    STRIPE_HEIGHT,
    stateAccent ? SCREEN_COLOURS[stateAccent] : SCREEN_COLOURS.label,
  );

  let top = HEADER_HEIGHT + STRIPE_HEIGHT + MARGIN;
  for (const line of lines) {
    if (top + GLYPH_HEIGHT * TEXT_SCALE > height) break;
    const labelled = splitLabel(line);
    if (labelled) {
      const accent = accentOf(labelled.value);
      const x = canvas.drawText(labelled.label, TEXT_INDENT, top, TEXT_SCALE, SCREEN_COLOURS.label);
      canvas.drawText(
        labelled.value,
        x,
        top,
        TEXT_SCALE,
        accent ? SCREEN_COLOURS[accent] : SCREEN_COLOURS.text,
      );
      if (accent)
        canvas.fillRect(MARGIN, top - 4, MARKER_WIDTH, GLYPH_HEIGHT * TEXT_SCALE + 2, SCREEN_COLOURS[accent]);
    } else {
      canvas.drawText(line, TEXT_INDENT, top, TEXT_SCALE, SCREEN_COLOURS.text);
    }
    top += LINE_SPACING;
  }
  return canvas.frame;
}

class Canvas {
  readonly frame: Frame;

  constructor(width: number, height: number, background: Rgb) {
    const pixels = Buffer.alloc(width * height * BYTES_PER_FRAME_PIXEL);
    pixels.fill(Buffer.from([...background, 0]));
    this.frame = { width, height, pixels };
  }

  fillRect(x: number, y: number, width: number, height: number, colour: Rgb): void {
    const { frame } = this;
    const left = Math.max(0, x);
    const right = Math.min(frame.width, x + width);
    if (left >= right) return;
    const pattern = Buffer.from([...colour, 0]);
    for (let row = Math.max(0, y); row < Math.min(frame.height, y + height); row++) {
      const start = (row * frame.width + left) * BYTES_PER_FRAME_PIXEL;
      frame.pixels.fill(pattern, start, start + (right - left) * BYTES_PER_FRAME_PIXEL);
    }
  }

  /** Draws `text` with its top-left corner at (x, y); returns the x after the last character. */
  drawText(text: string, x: number, y: number, scale: number, colour: Rgb): number {
    const advance = (GLYPH_WIDTH + 1) * scale;
    let cursor = x;
    for (const char of text) {
      if (cursor + GLYPH_WIDTH * scale > this.frame.width - MARGIN) break;
      const glyph = glyphFor(char);
      glyph.forEach((rowMask, row) => {
        for (let column = 0; column < GLYPH_WIDTH; column++) {
          if (rowMask & (1 << (GLYPH_WIDTH - 1 - column))) {
            this.fillRect(cursor + column * scale, y + row * scale, scale, scale, colour);
          }
        }
      });
      cursor += advance;
    }
    return cursor;
  }
}
