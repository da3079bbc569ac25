import type { Instrument } from './instrument';
import type { OptionComputation } from './market-data-messages';
import { fromWall } from './trading-hours';
import { blackScholes, YEAR_MS } from './universe';

const DAY_MS = 86_400_000;
/** US equity options expire at 16:00 New York time on their last trade date. */
const EXPIRY_HOUR_MS = 16 * 3_600_000;

/** Epoch ms an option expires, from its YYYYMMDD last trade date. */
export function optionExpiry(instrument: Instrument): number | undefined {
  const date = instrument.lastTradeDate;
  if (!date || !/^\d{8}$/.test(date)) return undefined;
  const wallMidnight = Date.UTC(
    Number(date.slice(0, 4)),
    Number(date.slice(4, 6)) - 1,
    Number(date.slice(6, 8)),
  );
  return fromWall(instrument.timeZoneId, wallMidnight + EXPIRY_HOUR_MS);
}

/**
 * What TWS's option model reports for an option priced at `optionPrice` with the underlying at `spot`:
 * the implied volatility that reproduces the price, and Black-Scholes greeks at that volatility
 * (vega per volatility point, theta per calendar day), so the numbers agree with the quotes sent.
 */
export function computeOption(
  instrument: Instrument,
  optionPrice: number,
  spot: number,
  atMs: number,
): OptionComputation | undefined {
  const expiry = optionExpiry(instrument);
  const strike = instrument.strike;
  const right = instrument.right;
  if (expiry === undefined || strike === undefined || right === undefined) return undefined;
  const years = (expiry - atMs) / YEAR_MS;
  if (years <= 0 || spot <= 0 || optionPrice <= 0) return undefined;
  const price = (s: number, t: number, v: number): number => blackScholes(right, s, strike, t, v);
  const volatility = impliedVolatility((v) => price(spot, years, v), optionPrice);
  const step = spot * 1e-3;
  const model = price(spot, years, volatility);
  const up = price(spot + step, years, volatility);
  const down = price(spot - step, years, volatility);
  const dayLater = Math.max(0, years - DAY_MS / YEAR_MS);
  return {
    impliedVolatility: round(volatility, 6),
    delta: round((up - down) / (2 * step), 6),
    optionPrice: round(model, 4),
    pvDividend: 0,
    gamma: round((up - 2 * model + down) / (step * step), 6),
    vega: round(price(spot, years, volatility + 0.005) - price(spot, years, volatility - 0.005), 6),
    theta: round(price(spot, dayLater, volatility) - model, 6),
    underlyingPrice: spot,
  };
}

/** Bisection on the volatility: the option price rises monotonically with it. */
function impliedVolatility(priceAt: (volatility: number) => number, target: number): number {
  let low = 0.001;
  let high = 5;
  if (priceAt(low) >= target) return low;
  if (priceAt(high) <= target) return high;
  for (let i = 0; i < 60; i++) {
    const middle = (low + high) / 2;
    if (priceAt(middle) < target) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}
