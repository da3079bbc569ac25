import type { WireContract } from '../protocol/field-reader';
import { wallDate } from './trading-hours';
import { OPTION_CHAINS, optionListing, thirdFriday, type Listing, type OptionChainSpec } from './universe';

const DAY = 86_400_000;
/** How far out options are listed: weekly Fridays (monthly third Fridays among them) for about two years. */
const GRID_DAYS = 2 * 366;
/** Strikes are listed from a quarter to four times the underlying's price (and below 4096, see conIds). */
const MIN_STRIKE_RATIO = 0.25;
const MAX_STRIKE_RATIO = 4;
const MAX_STRIKE = 4_000;

/**
 * The part of the grid reqSecDefOptParams lists, as IB lists a chain: the next weeklies, then monthly
 * (third Friday) expiries for about a year, each with strikes from half to one and a half times the
 * at-the-money one. Every expiry and strike of it resolves in contract details (see {@link gridOptions}).
 */
const LISTED_WEEKLIES = 8;
const LISTED_MONTHLIES = 12;
const LISTED_STRIKE_LOW = 0.5;
const LISTED_STRIKE_HIGH = 1.5;

/** Expirations (YYYYMMDD) and strikes of one underlying's listed grid. */
export interface ListedGrid {
  expirations: string[];
  strikes: number[];
}

/** Wall midnight of a YYYYMMDD date, or undefined when it is not one. */
function wallMidnight(date: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!match) return undefined;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(match[3]) ? undefined : ms;
}

/** The first Friday on or after `day` (wall midnight). */
function fridayFrom(day: number): number {
  return day + ((5 - new Date(day).getUTCDay() + 7) % 7) * DAY;
}

/** The chain layout of an underlying symbol, with its index (part of its options' conIds). */
function chainOf(symbol: string): { spec: OptionChainSpec; chainIndex: number } | undefined {
  const chainIndex = OPTION_CHAINS.findIndex((spec) => spec.symbol.toUpperCase() === symbol.toUpperCase());
  const spec = OPTION_CHAINS[chainIndex];
  return spec && { spec, chainIndex };
}

/** Whether the grid holds `strike` for an underlying priced `center`. */
function onStrikeGrid(spec: OptionChainSpec, strike: number, center: number): boolean {
  const steps = strike / spec.strikeStep;
  if (strike <= 0 || Math.abs(steps - Math.round(steps)) > 1e-9) return false;
  return strike >= center * MIN_STRIKE_RATIO && strike <= center * MAX_STRIKE_RATIO && strike <= MAX_STRIKE;
}

/**
 * The expiries and strikes reqSecDefOptParams lists for the chain `spec` whose first expiry is the Friday
 * `firstFriday` and whose at-the-money strike is `atTheMoney` (the chain's middle strike, which is the
 * underlying's price at midnight rounded to the strike step). Both lie inside the grid
 * {@link gridOptions} synthesizes for any underlying price that rounds to that strike.
 */
export function listedGrid(spec: OptionChainSpec, firstFriday: number, atTheMoney: number): ListedGrid {
  const weeklies = Array.from({ length: LISTED_WEEKLIES }, (_, week) => firstFriday + week * 7 * DAY);
  const expiries = new Set(weeklies);
  const start = new Date(firstFriday);
  for (let months = 0; months <= LISTED_MONTHLIES; months++) {
    const expiry = thirdFriday(start.getUTCFullYear(), start.getUTCMonth() + months);
    if (expiry >= firstFriday) expiries.add(expiry);
  }
  // The grid starts at today (at most six days before the first Friday) and runs GRID_DAYS from there.
  const lastExpiry = firstFriday - 6 * DAY + GRID_DAYS * DAY;
  const expirations = [...expiries]
    .filter((expiry) => expiry <= lastExpiry)
    .sort((a, b) => a - b)
    .map(wallDate);
  // The underlying's price is within half a step of the at-the-money strike: stay on the grid for both.
  const lowCenter = atTheMoney - spec.strikeStep / 2;
  const highCenter = atTheMoney + spec.strikeStep / 2;
  const strikes: number[] = [];
  const first = Math.ceil((atTheMoney * LISTED_STRIKE_LOW) / spec.strikeStep);
  const last = Math.floor((atTheMoney * LISTED_STRIKE_HIGH) / spec.strikeStep);
  for (let step = first; step <= last; step++) {
    const strike = step * spec.strikeStep;
    if (onStrikeGrid(spec, strike, lowCenter) && onStrikeGrid(spec, strike, highCenter)) strikes.push(strike);
  }
  return { expirations, strikes };
}

/** The listed grid of an underlying symbol on `today` (wall midnight ET), or undefined without options. */
export function listedGridOf(symbol: string, today: number, center: number): ListedGrid | undefined {
  const chain = chainOf(symbol);
  if (!chain) return undefined;
  const atTheMoney = Math.round(center / chain.spec.strikeStep) * chain.spec.strikeStep;
  return listedGrid(chain.spec, fridayFrom(today), atTheMoney);
}

/** The chain layout reqSecDefOptParams reports for an underlying symbol, if it has options. */
export function optionChainSpec(symbol: string): OptionChainSpec | undefined {
  return chainOf(symbol)?.spec;
}

/**
 * Options on the listed grid that today's chain summary does not hold: a contract naming the underlying's
 * symbol, a Friday expiry within about two years and a strike on the chain's increment gets that option
 * (both rights without one), built like the chain's own. A contract naming a Friday expiry but no strike
 * gets that expiry's options at every strike reqSecDefOptParams lists (see {@link listedGrid}). `today` is
 * wall midnight ET; `centerPrice` the underlying's price by conId. Anything off the grid gets nothing
 * (IB's 200).
 */
export function gridOptions(
  seed: number,
  contract: WireContract,
  today: number,
  centerPrice: (underlyingConId: number) => number | undefined,
): Listing[] {
  if (contract.secType.toUpperCase() !== 'OPT' || contract.conId > 0 || contract.strike < 0) return [];
  const chain = chainOf(contract.symbol);
  const expiry = wallMidnight(contract.lastTradeDateOrContractMonth);
  if (!chain || expiry === undefined) return [];
  const { spec, chainIndex } = chain;
  if (new Date(expiry).getUTCDay() !== 5 || expiry < today || expiry > today + GRID_DAYS * DAY) return [];
  const center = centerPrice(spec.underlyingConId);
  if (center === undefined) return [];
  const strikes =
    contract.strike > 0
      ? [contract.strike].filter((strike) => onStrikeGrid(spec, strike, center))
      : (listedGridOf(spec.symbol, today, center)?.strikes ?? []);
  const wanted = contract.right.toUpperCase();
  const rights = (['C', 'P'] as const).filter(
    (right) => wanted === '' || wanted === '?' || wanted[0] === right,
  );
  return strikes.flatMap((strike) =>
    rights.map((right) => optionListing(seed, chainIndex, spec, { expiry, strike, right }, center)),
  );
}
