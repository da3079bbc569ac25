import type { Instrument, Quote } from '../market/instrument';
import { roundToTick } from '../market/tick-rounding';
import type { OrderState } from './broker-state';
import type { OrderIdentity, OrderStatus } from './order-messages';
import type { OrderTicket } from './order-ticket';
import { goodTillMs, ON_CLOSE_TYPES, TOUCH_TYPES } from './order-types';

/** Order types the simulated broker works; anything else is refused with 387. */
export const SUPPORTED_ORDER_TYPES: readonly string[] = [
  'MKT',
  'LMT',
  'STP',
  'STP LMT',
  'TRAIL',
  'TRAIL LIMIT',
  'MOC',
  'LOC',
  'MIT',
  'LIT',
  'REL',
];

const STOP_TYPES: readonly string[] = ['STP', 'STP LMT', 'TRAIL', 'TRAIL LIMIT', ...TOUCH_TYPES];
const TRAILING_TYPES: readonly string[] = ['TRAIL', 'TRAIL LIMIT'];

export interface Fill {
  quantity: number;
  price: number;
}

/** One order the broker knows: its latest ticket and how far it has come. */
export class Order implements OrderIdentity {
  status: OrderStatus = 'PreSubmitted';
  filled = 0;
  /** Σ fill price × quantity, for the average fill price. */
  filledValue = 0;
  lastFillPrice = 0;
  /** What the order has traded so far, for IB's per-order commission minimum. */
  tradedValue = 0;
  /** transmit=0: stored but not working until its group is transmitted. */
  held: boolean;
  /**
   * A stop-type order whose stop was hit: it now works as a market or limit order. For MOC and LOC: the
   * regular session the order waits to close has been seen.
   */
  triggered = false;
  trailStop: number | undefined;
  /** Epoch ms the order was filled or cancelled (completed orders report it). */
  completedTime: number | undefined;

  constructor(
    public ticket: OrderTicket,
    readonly instrument: Instrument,
    readonly account: string,
    readonly clientId: number,
    readonly permId: number,
  ) {
    this.held = !ticket.transmit;
    this.trailStop = ticket.trailStopPrice;
  }

  /** An order as the state file kept it, working again where it stood. */
  static fromState(state: OrderState, instrument: Instrument): Order {
    const order = new Order(state.ticket, instrument, state.account, state.clientId, state.permId);
    order.status = state.status;
    order.filled = state.filled;
    order.filledValue = state.filledValue;
    order.lastFillPrice = state.lastFillPrice;
    order.tradedValue = state.tradedValue;
    order.held = state.held;
    order.triggered = state.triggered;
    order.trailStop = state.trailStop;
    order.completedTime = state.completedTime;
    return order;
  }

  toState(): OrderState {
    return {
      ticket: this.ticket,
      conId: this.instrument.conId,
      account: this.account,
      clientId: this.clientId,
      permId: this.permId,
      status: this.status,
      filled: this.filled,
      filledValue: this.filledValue,
      lastFillPrice: this.lastFillPrice,
      tradedValue: this.tradedValue,
      held: this.held,
      triggered: this.triggered,
      trailStop: this.trailStop,
      completedTime: this.completedTime,
    };
  }

  get orderId(): number {
    return this.ticket.orderId;
  }

  get totalQuantity(): number {
    return this.ticket.totalQuantity ?? 0;
  }

  get remaining(): number {
    return Math.max(0, this.totalQuantity - this.filled);
  }

  get isBuy(): boolean {
    return this.ticket.action === 'BUY';
  }

  get avgFillPrice(): number {
    return this.filled > 0 ? this.filledValue / this.filled : 0;
  }

  /** Not yet filled or cancelled. */
  get isOpen(): boolean {
    return this.status !== 'Filled' && this.status !== 'Cancelled';
  }

  get isStopType(): boolean {
    return STOP_TYPES.includes(this.ticket.orderType);
  }

  /** A BAG order: its price is its legs' net, which may be zero or negative (a credit). */
  get isCombo(): boolean {
    return this.instrument.secType === 'BAG';
  }

  get isOnClose(): boolean {
    return ON_CLOSE_TYPES.includes(this.ticket.orderType);
  }

  /** Whether a GTD order's time has come (IB cancels it then). */
  isExpired(nowMs: number): boolean {
    const expiry = goodTillMs(this.ticket);
    return expiry !== undefined && nowMs >= expiry;
  }

  /** MOC fills at the close at the last price; LOC too when the limit allows it, else nothing. */
  closingFill(quote: Quote): Fill | undefined {
    const price = quote.last > 0 ? quote.last : this.isBuy ? quote.ask : quote.bid;
    if (!(price > 0) || this.remaining <= 0) return undefined;
    const limit = this.ticket.orderType === 'LOC' ? this.ticket.lmtPrice : undefined;
    if (limit !== undefined && (this.isBuy ? price > limit : price < limit)) return undefined;
    return { quantity: this.remaining, price };
  }

  /** Filled or cancelled: the order stops working. */
  complete(status: 'Filled' | 'Cancelled', epochMs: number): void {
    this.status = status;
    this.completedTime = epochMs;
  }

  /** Replaces the ticket of a modified order; the fills so far stay. */
  modify(ticket: OrderTicket): void {
    const trailingChanged =
      ticket.auxPrice !== this.ticket.auxPrice ||
      ticket.trailingPercent !== this.ticket.trailingPercent ||
      ticket.trailStopPrice !== this.ticket.trailStopPrice;
    const stopChanged =
      ticket.orderType !== this.ticket.orderType || ticket.auxPrice !== this.ticket.auxPrice;
    this.ticket = ticket;
    if (!ticket.transmit) this.held = true;
    if (trailingChanged) this.trailStop = ticket.trailStopPrice;
    if (stopChanged) this.triggered = false;
  }

  recordFill(fill: Fill): void {
    this.filled += fill.quantity;
    this.filledValue += fill.quantity * fill.price;
    this.tradedValue += fill.quantity * fill.price * this.instrument.multiplier;
    this.lastFillPrice = fill.price;
  }

  /**
   * One evaluation against the market: ratchets a trailing stop, triggers a stop whose price was
   * crossed, and returns what fills now (at most the size shown at the touch, so a large order fills
   * over several evaluations). Returns whether the stop moved or triggered, for reporting.
   */
  evaluate(quote: Quote): { fill: Fill | undefined; stopChanged: boolean } {
    let stopChanged = false;
    if (TRAILING_TYPES.includes(this.ticket.orderType) && !this.triggered) {
      stopChanged = this.ratchetTrailingStop(quote.last);
    }
    if (this.isStopType && !this.triggered && this.stopCrossed(quote.last)) {
      this.triggered = true;
      stopChanged = true;
    }
    if (this.isStopType && !this.triggered) return { fill: undefined, stopChanged };
    return { fill: this.marketableFill(quote), stopChanged };
  }

  /** The limit an order works at once marketable rules apply; undefined for market orders. */
  workingLimit(quote?: Quote): number | undefined {
    const t = this.ticket;
    switch (t.orderType) {
      case 'LMT':
      case 'STP LMT':
      case 'LIT':
        return t.lmtPrice;
      case 'REL':
        return this.relativeLimit(quote);
      case 'TRAIL LIMIT': {
        if (t.lmtPrice !== undefined && t.lmtPriceOffset === undefined) return t.lmtPrice;
        const stop = this.trailStop;
        if (stop === undefined) return undefined;
        const offset = t.lmtPriceOffset ?? 0;
        return this.isBuy ? stop + offset : stop - offset;
      }
      default:
        return undefined;
    }
  }

  /**
   * REL: pegged to the bid (BUY) or ask (SELL), the offset more aggressive, never beyond limitPrice (a cap when
   * given). Without a quote it does not work (no price to peg to).
   */
  private relativeLimit(quote: Quote | undefined): number {
    const t = this.ticket;
    // The offset is an amount (auxPrice) or a percent of the price pegged to (percentOffset).
    const offsetFrom = (peg: number) => t.auxPrice ?? (peg * (t.percentOffset ?? 0)) / 100;
    const cap = t.lmtPrice !== undefined && t.lmtPrice > 0 ? t.lmtPrice : undefined;
    if (this.isBuy) {
      const bid = quote?.bid ?? 0;
      const pegged = bid > 0 ? bid + offsetFrom(bid) : 0;
      return roundToTick(cap === undefined ? pegged : Math.min(pegged, cap), this.instrument.minTick);
    }
    const ask = quote?.ask ?? 0;
    const pegged = ask > 0 ? ask - offsetFrom(ask) : Infinity;
    return cap === undefined ? pegged : Math.max(pegged, cap);
  }

  private marketableFill(quote: Quote): Fill | undefined {
    const price = this.isBuy ? quote.ask : quote.bid;
    const size = this.isBuy ? quote.askSize : quote.bidSize;
    const priced = this.isCombo ? Number.isFinite(price) : price > 0;
    if (!priced || !(size > 0) || this.remaining <= 0) return undefined;
    const limit = this.workingLimit(quote);
    if (limit !== undefined && (this.isBuy ? price > limit : price < limit)) return undefined;
    return { quantity: Math.min(this.remaining, size), price };
  }

  private trailingOffset(reference: number): number | undefined {
    const t = this.ticket;
    if (t.trailingPercent !== undefined) return (reference * t.trailingPercent) / 100;
    return t.auxPrice;
  }

  /** A sell stop follows the price up, a buy stop follows it down; neither ever moves back. */
  private ratchetTrailingStop(last: number): boolean {
    if (!(last > 0)) return false;
    const offset = this.trailingOffset(last);
    if (offset === undefined) return false;
    const candidate = this.isBuy ? last + offset : last - offset;
    const current = this.trailStop;
    const better = current === undefined || (this.isBuy ? candidate < current : candidate > current);
    if (!better) return false;
    this.trailStop = roundToTick(candidate, this.instrument.minTick);
    return this.trailStop !== current;
  }

  private stopCrossed(last: number): boolean {
    if (!(last > 0)) return false;
    const stop = TRAILING_TYPES.includes(this.ticket.orderType) ? this.trailStop : this.ticket.auxPrice;
    if (stop === undefined) return false;
    // If touched: a buy triggers when the price falls to the trigger, a sell when it rises to it.
    const touched = TOUCH_TYPES.includes(this.ticket.orderType);
    return this.isBuy !== touched ? last >= stop : last <= stop;
  }
}
