import type { Instrument } from '../market/instrument';

/** What an order has traded so far: the basis of its commission. */
export interface TradedAmount {
  quantity: number;
  /** Σ price × quantity × multiplier, in the instrument's currency. */
  value: number;
}

/**
 * IB's fixed-rate pricing, in the instrument's currency (the model's dollar amounts are used as is,
 * which is exact for the USD instruments that make up most of the universe):
 * stocks $0.005 a share, at least $1 and at most 1% of the trade value; options $0.65 a contract
 * (at least $1); futures $0.85 a contract; FX 0.2 basis points of the value, at least $2.
 * IB applies the minimum per order, so the commission of a partial fill is the difference between the
 * order's commission after the fill and before it.
 */
export function orderCommission(instrument: Instrument, traded: TradedAmount): number {
  const quantity = Math.abs(traded.quantity);
  const value = Math.abs(traded.value);
  if (quantity === 0) return 0;
  switch (instrument.secType) {
    case 'OPT':
      return roundCents(Math.max(1, 0.65 * quantity));
    case 'FUT':
      return roundCents(0.85 * quantity);
    case 'CASH':
      return roundCents(Math.max(2, value * 0.00002));
    default:
      return roundCents(Math.min(Math.max(1, 0.005 * quantity), Math.max(0.01 * value, 0.01)));
  }
}

/** Commission of one fill of an order that had already traded `before`. */
export function fillCommission(instrument: Instrument, before: TradedAmount, fill: TradedAmount): number {
  const after = { quantity: before.quantity + fill.quantity, value: before.value + fill.value };
  return roundCents(orderCommission(instrument, after) - orderCommission(instrument, before));
}

function roundCents(amount: number): number {
  return Math.round(amount * 100) / 100;
}
