// Prices on the tick grid, rounded in decimal so that 0.1 + 0.2 prints as 0.3 on the wire.

// Local bindings: called from hot loops, which must not look up the global `Math` (slow in jest's vm contexts).
const { ceil, floor, round } = Math;

/** Decimals of each tick size seen, so that rounding does not stringify the tick every time. */
const decimalsByTick = new Map<number, number>();
export function decimalsOf(tick: number): number {
  const known = decimalsByTick.get(tick);
  if (known !== undefined) return known;
  const text = String(tick);
  const dot = text.indexOf('.');
  const decimals = dot < 0 ? 0 : text.length - dot - 1;
  decimalsByTick.set(tick, decimals);
  return decimals;
}

export function roundTo(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}

export function roundToTick(value: number, tick: number): number {
  return roundTo(round(value / tick) * tick, decimalsOf(tick));
}

export function floorToTick(value: number, tick: number): number {
  return roundTo(floor(value / tick + 1e-9) * tick, decimalsOf(tick));
}

export function ceilToTick(value: number, tick: number): number {
  return roundTo(ceil(value / tick - 1e-9) * tick, decimalsOf(tick));
}
