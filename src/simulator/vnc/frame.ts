/** A picture of the screen: 4 bytes per pixel (R, G, B, unused), rows top to bottom. */
export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly pixels: Buffer;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const BYTES_PER_FRAME_PIXEL = 4;

export function blankFrame(width: number, height: number): Frame {
  return { width, height, pixels: Buffer.alloc(width * height * BYTES_PER_FRAME_PIXEL) };
}

/** `rect` clipped to the frame; width or height 0 when nothing is left. */
export function clipToFrame(rect: Rect, frame: Frame): Rect {
  const x = Math.min(rect.x, frame.width);
  const y = Math.min(rect.y, frame.height);
  return {
    x,
    y,
    width: Math.max(0, Math.min(rect.x + rect.width, frame.width) - x),
    height: Math.max(0, Math.min(rect.y + rect.height, frame.height) - y),
  };
}

export function isEmptyRect(rect: Rect): boolean {
  return rect.width === 0 || rect.height === 0;
}

/**
 * The part of `within` whose pixels differ between two frames of the same size, as one rectangle
 * spanning the changed rows (the screen is text lines, so whole-row granularity is plenty).
 */
export function changedRegion(before: Frame, after: Frame, within: Rect): Rect {
  const area = clipToFrame(within, after);
  const rowBytes = after.width * BYTES_PER_FRAME_PIXEL;
  const rowChanged = (y: number): boolean => {
    const start = y * rowBytes + area.x * BYTES_PER_FRAME_PIXEL;
    const end = start + area.width * BYTES_PER_FRAME_PIXEL;
    return !before.pixels.subarray(start, end).equals(after.pixels.subarray(start, end));
  };
  let top = area.y;
  const bottom = area.y + area.height;
  while (top < bottom && !rowChanged(top)) top++;
  let last = bottom - 1;
  while (last >= top && !rowChanged(last)) last--;
  return { x: area.x, y: top, width: area.width, height: Math.max(0, last - top + 1) };
}
