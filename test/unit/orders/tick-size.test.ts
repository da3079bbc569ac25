import { goodTillDateIssues, orderPricingIssues } from '../../../src/orders/order-types.schemas';
import { roundToTick, tickSizeAt } from '../../../src/orders/tick-size';

const US_STOCKS = [
  { lowEdge: 0, increment: 0.0001 },
  { lowEdge: 1, increment: 0.01 },
];

describe('tick sizes', () => {
  it("takes the increment of the highest low edge at or below the price (IB's market rule)", () => {
    expect(tickSizeAt(US_STOCKS, 0.5)).toBe(0.0001);
    expect(tickSizeAt(US_STOCKS, 1)).toBe(0.01);
    expect(tickSizeAt(US_STOCKS, 187.5)).toBe(0.01);
    expect(tickSizeAt([], 10)).toBeUndefined();
  });

  it('rounds up or down onto the grid, and leaves prices on it alone', () => {
    expect(roundToTick(100.005, 0.01, 'down')).toBe(100);
    expect(roundToTick(100.005, 0.01, 'up')).toBe(100.01);
    expect(roundToTick(100.1, 0.01, 'up')).toBe(100.1);
    expect(roundToTick(1.23456, 0.00005, 'down')).toBe(1.23455);
    expect(roundToTick(4301.1, 0.25, 'up')).toBe(4301.25);
  });
});

describe('order type price rules', () => {
  it('names what each new type needs and refuses what it must not carry', () => {
    expect(orderPricingIssues({ orderType: 'MIT' })).toEqual([
      { path: ['stopPrice'], message: 'is required for MIT orders' },
    ]);
    expect(orderPricingIssues({ orderType: 'MOC', limitPrice: 10 })).toEqual([
      { path: ['limitPrice'], message: 'must not be given for MOC orders' },
    ]);
    expect(
      orderPricingIssues({ orderType: 'TRAIL LIMIT', trailingAmount: 1, limitPriceOffset: 0.1 }),
    ).toEqual([]);
    expect(orderPricingIssues({ orderType: 'TRAIL LIMIT', limitPriceOffset: 0.1 })).toHaveLength(1);
    expect(orderPricingIssues({ orderType: 'REL', pegOffset: 0.01, limitPrice: 10 })).toEqual([]);
  });

  it('wants a goodTillDate in the future with GTD, and none without it', () => {
    const now = Date.parse('2025-06-11T15:00:00Z');
    expect(goodTillDateIssues({ tif: 'GTD', goodTillDate: '2025-06-11T16:00:00Z' }, now)).toEqual([]);
    expect(
      goodTillDateIssues({ tif: 'GTD', goodTillDate: '2025-06-11T14:00:00Z' }, now)[0]?.message,
    ).toContain('must be in the future');
    expect(goodTillDateIssues({ tif: 'GTD' }, now)[0]?.message).toBe('is required for tif GTD');
    expect(goodTillDateIssues({ tif: 'DAY', goodTillDate: '2025-06-11T16:00:00Z' }, now)).toHaveLength(1);
  });
});
