import type { WireContract } from '../protocol/field-reader';
import { OPTION_CHAINS, optionListing, type Listing } from './universe';

const DAY = 86_400_000;
/** How far out options are listed: weekly Fridays (monthly third Fridays among them) for about two years. */
const GRID_DAYS = 2 * 366;
/** Strikes are listed from a quarter to four times the underlying's price (and below 4096, see conIds). */
const MIN_STRIKE_RATIO = 0.25;
const MAX_STRIKE_RATIO = 4;
const MAX_STRIKE = 4_000;

/** Wall midnight of a YYYYMMDD date, or undefined when it is not one. */
function wallMidnight(date: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!match) return undefined;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(match[3]) ? undefined : ms;
}

/**
 * Options on the listed grid that today's chain summary does not hold: a contract naming the underlying's
 * symbol, a Friday expiry within about two years and a strike on the chain's increment gets that option
 * (both rights without one), built like the chain's own. `today` is wall midnight ET; `centerPrice` the
 * underlying's price by conId. Anything off the grid gets nothing (IB's 200).
 */
export function gridOptions(
  seed: number,
  contract: WireContract,
  today: number,
  centerPrice: (underlyingConId: number) => number | undefined,
): Listing[] {
  if (contract.secType.toUpperCase() !== 'OPT' || contract.conId > 0 || contract.strike <= 0) return [];
  const chainIndex = OPTION_CHAINS.findIndex(
    (spec) => spec.symbol.toUpperCase() === contract.symbol.toUpperCase(),
  );
  const spec = OPTION_CHAINS[chainIndex];
  const expiry = wallMidnight(contract.lastTradeDateOrContractMonth);
  if (!spec || expiry === undefined) return [];
  if (new Date(expiry).getUTCDay() !== 5 || expiry < today || expiry > today + GRID_DAYS * DAY) return [];
  const center = centerPrice(spec.underlyingConId);
  const strike = contract.strike;
  const steps = strike / spec.strikeStep;
  if (center === undefined || Math.abs(steps - Math.round(steps)) > 1e-9) return [];
  if (strike < center * MIN_STRIKE_RATIO || strike > center * MAX_STRIKE_RATIO || strike > MAX_STRIKE)
    return [];
  const wanted = contract.right.toUpperCase();
  const rights = (['C', 'P'] as const).filter(
    (right) => wanted === '' || wanted === '?' || wanted[0] === right,
  );
  return rights.map((right) => optionListing(seed, chainIndex, spec, { expiry, strike, right }, center));
}
