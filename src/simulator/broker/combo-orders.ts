import { formatTwsDateTime } from '../control/simulator-clock';
import type { Instrument } from '../market/instrument';
import { BrokerCode, BrokerMessage, ComboMessage } from './broker-codes';
import type { ComboMarket, ResolvedLeg } from './combo-market';
import { fillCommission } from './commission';
import type { Fill, Order } from './order';
import { routedExchange, type ExecutionRecord } from './order-messages';
import type { OrderTicket } from './order-ticket';
import { validateOrder, type OrderVerdict, type ValidationContext } from './order-validation';

/** Order types the simulated broker takes for combos. */
export const COMBO_ORDER_TYPES: readonly string[] = ['MKT', 'LMT'];

export function isComboTicket(ticket: Pick<OrderTicket, 'contract'>): boolean {
  return ticket.contract.secType.toUpperCase() === 'BAG';
}

/**
 * IB's checks of a BAG order: every leg a contract it knows (else 200, as for any unknown contract), a
 * positive ratio and BUY/SELL per leg, MKT or LMT; then the checks of any order, against the combo's own
 * BAG instrument (its price may be negative: a credit).
 */
export function validateComboOrder(
  ticket: OrderTicket,
  context: ValidationContext,
  combos: ComboMarket,
): OrderVerdict {
  const reject = (code: number, text: string): OrderVerdict => ({ accepted: false, code, text });
  const legs = ticket.contract.comboLegs;
  if (legs.length < 2) return reject(BrokerCode.VALIDATION_FAILED, ComboMessage.legCount);
  const resolved = combos.resolveLegs(legs);
  if ('unknownLeg' in resolved) {
    return reject(BrokerCode.NO_SECURITY_DEFINITION, BrokerMessage.noSecurityDefinition);
  }
  const invalid = legs.findIndex((leg) => !(leg.ratio > 0) || !['BUY', 'SELL'].includes(leg.action));
  if (invalid >= 0) return reject(BrokerCode.VALIDATION_FAILED, ComboMessage.invalidLeg(invalid));
  if (!COMBO_ORDER_TYPES.includes(ticket.orderType)) {
    return reject(BrokerCode.UNSUPPORTED_ORDER_TYPE, BrokerMessage.unsupportedOrderType);
  }
  const bag = combos.bagOf(ticket.contract, resolved);
  const market = {
    resolve: () => [bag],
    isRegularHours: (conId: number, atMs?: number) => combos.isRegularHours(conId, atMs),
  };
  return validateOrder(ticket, { ...context, market });
}

/** One leg's part of a combo fill (or a single order's whole fill). */
export interface LegFill {
  instrument: Instrument;
  isBuy: boolean;
  quantity: number;
  price: number;
  commission: number;
  /** The leg's quantity filled so far, this fill included, and its average price. */
  cumQty: number;
  avgPrice: number;
}

/**
 * What one fill of an order trades, leg by leg: a single order trades its instrument; a combo trades each
 * leg, quantity × ratio, on the leg's side (the leg's action, reversed when the combo is sold), at the
 * leg's touch (a bought leg at its ask, a sold one at its bid): the prices the combo's net price was made
 * of. Called before the fill is recorded on the order.
 */
export function legFillsOf(
  order: Order,
  fill: Fill,
  legs: ResolvedLeg[] | undefined,
  quoteOf: (conId: number) => { bid: number; ask: number },
): LegFill[] {
  if (!legs) {
    const instrument = order.instrument;
    const before = { quantity: order.filled, value: order.tradedValue };
    const value = fill.quantity * fill.price * instrument.multiplier;
    const cumQty = order.filled + fill.quantity;
    return [
      {
        instrument,
        isBuy: order.isBuy,
        quantity: fill.quantity,
        price: fill.price,
        commission: fillCommission(instrument, before, { quantity: fill.quantity, value }),
        cumQty,
        avgPrice: (order.filledValue + fill.quantity * fill.price) / cumQty,
      },
    ];
  }
  const prices = legTouchPrices(legs, order.isBuy, quoteOf);
  return legs.map(({ leg, instrument, sign }) => {
    const isBuy = sign > 0 === order.isBuy;
    const quantity = fill.quantity * leg.ratio;
    const price = prices.get(instrument.conId) ?? 0;
    const value = quantity * price * instrument.multiplier;
    return {
      instrument,
      isBuy,
      quantity,
      price,
      commission: fillCommission(instrument, { quantity: 0, value: 0 }, { quantity, value }),
      cumQty: (order.filled + fill.quantity) * leg.ratio,
      avgPrice: price,
    };
  });
}

/** The touch prices each leg trades at when the combo is bought (isBuy) or sold now. */
export function legTouchPrices(
  legs: ResolvedLeg[],
  isBuy: boolean,
  quoteOf: (conId: number) => { bid: number; ask: number },
): Map<number, number> {
  const prices = new Map<number, number>();
  for (const { instrument, sign } of legs) {
    const quote = quoteOf(instrument.conId);
    prices.set(instrument.conId, sign > 0 === isBuy ? quote.ask : quote.bid);
  }
  return prices;
}

/**
 * The execution of one instrument's part of a fill. A combo's legs report their own contract and SMART
 * routing; a single order the exchange it was routed to (SMART orders: the one that executed them).
 */
export function executionRecordOf(
  order: Order,
  leg: LegFill,
  at: { execId: string; now: number; combo: boolean },
): Omit<ExecutionRecord, 'realizedPnl'> {
  const routed = at.combo ? 'SMART' : routedExchange(order.ticket, leg.instrument);
  return {
    execId: at.execId,
    orderId: order.orderId,
    clientId: order.clientId,
    permId: order.permId,
    instrument: leg.instrument,
    exchange:
      routed.toUpperCase() === 'SMART' && leg.instrument.primaryExchange !== ''
        ? leg.instrument.primaryExchange
        : routed,
    account: order.account,
    side: leg.isBuy ? 'BOT' : 'SLD',
    shares: leg.quantity,
    price: leg.price,
    time: at.now,
    timeText: formatTwsDateTime(at.now),
    cumQty: leg.cumQty,
    avgPrice: leg.avgPrice,
    orderRef: order.ticket.orderRef,
    commission: leg.commission,
    commissionCurrency: leg.instrument.currency,
  };
}
