import type { FieldIssue, OrderPricing, Side } from './order-types.schemas';

// The side rules of a bracket's exits against its entry.

/** The price a bracket's exits are checked against: the entry's limit, else its stop; none for MKT. */
export function entryReferencePrice(order: OrderPricing): number | undefined {
  return order.limitPrice ?? order.stopPrice;
}

/** A BUY bracket takes profit above the entry and stops out below it; a SELL bracket the other way. */
export function bracketIssues(
  side: Side,
  entryPrice: number | undefined,
  entryLabel: string,
  bracket: { takeProfitPrice: number; stopLossPrice: number },
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const above = side === 'BUY';
  const wrongSide = (value: number, reference: number, mustBeAbove: boolean) =>
    mustBeAbove ? value <= reference : value >= reference;
  if (entryPrice !== undefined) {
    if (wrongSide(bracket.takeProfitPrice, entryPrice, above)) {
      issues.push({
        path: ['bracket', 'takeProfitPrice'],
        message: `must be ${above ? 'above' : 'below'} the ${entryLabel} ${entryPrice} for a ${side} bracket (it is ${bracket.takeProfitPrice})`,
      });
    }
    if (wrongSide(bracket.stopLossPrice, entryPrice, !above)) {
      issues.push({
        path: ['bracket', 'stopLossPrice'],
        message: `must be ${above ? 'below' : 'above'} the ${entryLabel} ${entryPrice} for a ${side} bracket (it is ${bracket.stopLossPrice})`,
      });
    }
  } else if (wrongSide(bracket.takeProfitPrice, bracket.stopLossPrice, above)) {
    issues.push({
      path: ['bracket', 'takeProfitPrice'],
      message: `must be ${above ? 'above' : 'below'} bracket.stopLossPrice for a ${side} bracket`,
    });
  }
  return issues;
}
