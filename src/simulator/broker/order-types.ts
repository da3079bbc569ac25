import type { Instrument } from '../market/instrument';
import { MARKET_RULES } from '../market/market-rules';
import type { MarketView } from './market-view';
import type { OrderTicket } from './order-ticket';

// The timing rules of the order types beyond plain limit and stop: market/limit if touched, on close, and
// good-till-date. The order (order.ts) prices them; the broker asks these when it evaluates and validates.

/** Market and limit if touched: work once the last price touches the trigger (auxPrice) from the other side. */
export const TOUCH_TYPES: readonly string[] = ['MIT', 'LIT'];
/** Market and limit on close: fill at the close of the regular session. */
export const ON_CLOSE_TYPES: readonly string[] = ['MOC', 'LOC'];

/** How long before the close of the regular session MOC and LOC orders stop being accepted (NYSE: 15:50 ET). */
export const ON_CLOSE_CUTOFF_MS = 10 * 60_000;

/**
 * A GTD order's expiry in epoch ms, from IB's forms: "20250611-15:00:00" (UTC), "20250611 15:00:00" with an
 * optional UTC/GMT suffix (read as UTC: the simulator runs in UTC), or a bare date (the end of that day).
 * Undefined when the ticket has none or it cannot be read.
 */
export function goodTillMs(ticket: Pick<OrderTicket, 'tif' | 'goodTillDate'>): number | undefined {
  if (ticket.tif !== 'GTD' || ticket.goodTillDate === '') return undefined;
  const match = /^(\d{4})(\d{2})(\d{2})(?:[- ](\d{2}):(\d{2}):(\d{2})(?: (?:UTC|GMT|Etc\/UTC))?)?$/.exec(
    ticket.goodTillDate.trim(),
  );
  if (!match) return undefined;
  const [, year, month, day, hours, minutes, seconds] = match;
  if (hours === undefined) return Date.UTC(Number(year), Number(month) - 1, Number(day) + 1) - 1;
  return Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hours),
    Number(minutes),
    Number(seconds),
  );
}

/** IB's refusals of the new types' timing, or undefined. (Codes and texts assumed, see broker-codes.) */
export function timingRefusal(
  ticket: OrderTicket,
  conId: number,
  market: Pick<MarketView, 'isRegularHours'>,
  nowMs: number,
): 'gtdMissing' | 'gtdPast' | 'onCloseCutoff' | undefined {
  if (ticket.tif === 'GTD') {
    const expiry = goodTillMs(ticket);
    if (expiry === undefined) return 'gtdMissing';
    if (expiry <= nowMs) return 'gtdPast';
  }
  if (
    ON_CLOSE_TYPES.includes(ticket.orderType) &&
    market.isRegularHours(conId, nowMs) &&
    !market.isRegularHours(conId, nowMs + ON_CLOSE_CUTOFF_MS)
  ) {
    return 'onCloseCutoff';
  }
  return undefined;
}

/** The tick size at `price` under the instrument's first market rule (its minTick without one). */
export function tickSizeAt(instrument: Pick<Instrument, 'minTick' | 'marketRuleIds'>, price: number): number {
  const ruleId = Number((instrument.marketRuleIds ?? '').split(',')[0]);
  const rule = MARKET_RULES.get(ruleId);
  if (!rule) return instrument.minTick;
  let tick = instrument.minTick;
  for (const step of rule) if (price >= step.lowEdge) tick = step.increment;
  return tick;
}

/** Whether a limit or trigger price of the ticket is off the contract's tick grid (IB answers 110). */
export function offTick(
  ticket: OrderTicket,
  instrument: Pick<Instrument, 'minTick' | 'marketRuleIds'>,
): boolean {
  const prices: (number | undefined)[] = [];
  if (ticket.orderType !== 'REL') prices.push(ticket.lmtPrice);
  if (!['TRAIL', 'TRAIL LIMIT', 'REL'].includes(ticket.orderType)) prices.push(ticket.auxPrice);
  return prices.some((price) => {
    if (price === undefined || !(price > 0)) return false;
    const steps = price / tickSizeAt(instrument, price);
    return Math.abs(steps - Math.round(steps)) > 1e-6;
  });
}
