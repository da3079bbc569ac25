import type { Instrument, Quote } from '../../../../src/simulator/market/instrument';
import { Ledger, STARTING_CASH } from '../../../../src/simulator/broker/account';
import { fillCommission, orderCommission } from '../../../../src/simulator/broker/commission';
import type { MarketView } from '../../../../src/simulator/broker/market-view';

const stock = {
  conId: 1,
  symbol: 'TEST',
  secType: 'STK',
  currency: 'USD',
  multiplier: 1,
  minTick: 0.01,
} as Instrument;
const future = {
  conId: 2,
  symbol: 'ES',
  secType: 'FUT',
  currency: 'USD',
  multiplier: 50,
  minTick: 0.25,
} as Instrument;
const option = {
  conId: 3,
  symbol: 'TEST',
  secType: 'OPT',
  currency: 'USD',
  multiplier: 100,
  minTick: 0.01,
} as Instrument;
const eurUsd = {
  conId: 4,
  symbol: 'EUR',
  secType: 'CASH',
  currency: 'USD',
  multiplier: 1,
  minTick: 0.00005,
} as Instrument;
const usdJpy = {
  conId: 5,
  symbol: 'USD',
  secType: 'CASH',
  currency: 'JPY',
  multiplier: 1,
  minTick: 0.005,
} as Instrument;

/** A market whose prices the test sets. */
function fakeMarket(prices: Map<number, number>): MarketView {
  const instruments = [stock, future, option, eurUsd, usdJpy];
  const quote = (conId: number): Quote => {
    const last = prices.get(conId) ?? 100;
    return {
      bid: last,
      ask: last,
      last,
      bidSize: 100,
      askSize: 100,
      lastSize: 100,
      volume: 0,
      open: last,
      high: last,
      low: last,
      close: last,
      time: 0,
      marketOpen: true,
    };
  };
  return {
    instruments: () => instruments,
    instrument: (conId: number) => instruments.find((instrument) => instrument.conId === conId),
    resolve: () => [],
    quote,
    isTrading: () => true,
    isRegularHours: () => true,
  };
}

describe('Ledger', () => {
  const now = Date.parse('2025-06-11T15:00:00Z');
  let prices: Map<number, number>;
  let ledger: Ledger;

  beforeEach(() => {
    prices = new Map([
      [1, 100],
      [2, 6000],
      [3, 5],
      [4, 1.1],
      [5, 150],
    ]);
    ledger = new Ledger(['DU1'], fakeMarket(prices), () => now);
  });

  it('keeps IB average cost (commission included) and realizes PnL on reductions', () => {
    ledger.applyFill('DU1', stock, true, 100, 100, 1);
    ledger.applyFill('DU1', stock, true, 100, 110, 1);
    const position = ledger.position('DU1', 1);
    expect(position?.quantity).toBe(200);
    expect(position?.averageCost).toBeCloseTo((100 * 100 + 1 + 100 * 110 + 1) / 200, 10);
    const { realizedPnl } = ledger.applyFill('DU1', stock, false, 50, 120, 1);
    expect(realizedPnl).toBeCloseTo(50 * (120 - 105.01) - 1, 10);
    expect(ledger.position('DU1', 1)?.averageCost).toBeCloseTo(105.01, 10);
  });

  it('moves cash by trade value and commission, so net liquidation = cash + market value', () => {
    ledger.applyFill('DU1', stock, true, 100, 100, 1);
    prices.set(1, 103);
    const values = ledger.value('DU1');
    expect(values.totalCash).toBeCloseTo(STARTING_CASH - 10_000 - 1, 10);
    expect(values.netLiquidation).toBeCloseTo(values.totalCash + 100 * 103, 10);
    expect(values.unrealizedPnl).toBeCloseTo(100 * 103 - 10_001, 10);
    expect(values.initMargin).toBeCloseTo(0.5 * 10_300, 10);
  });

  it('flips through zero: the fill closes the long and opens a short with the rest', () => {
    ledger.applyFill('DU1', stock, true, 10, 100, 1);
    const { realizedPnl, position } = ledger.applyFill('DU1', stock, false, 30, 110, 3);
    expect(realizedPnl).toBeCloseTo(10 * (110 - 100.1) - 1, 10);
    expect(position.quantity).toBe(-20);
    // A short's average cost: proceeds net of its share of the commission.
    expect(position.averageCost).toBeCloseTo((20 * 110 - 2) / 20, 10);
  });

  it('settles futures by their PnL, not their notional', () => {
    ledger.applyFill('DU1', future, true, 1, 6000, 0.85);
    expect(ledger.value('DU1').totalCash).toBeCloseTo(STARTING_CASH - 0.85, 10);
    prices.set(2, 6010);
    const values = ledger.value('DU1');
    expect(values.futuresPnl).toBeCloseTo(10 * 50, 10);
    expect(values.netLiquidation).toBeCloseTo(STARTING_CASH - 0.85 + 500, 10);
    const { realizedPnl } = ledger.applyFill('DU1', future, false, 1, 6010, 0.85);
    expect(realizedPnl).toBeCloseTo(500 - 1.7, 10);
    expect(ledger.value('DU1').totalCash).toBeCloseTo(STARTING_CASH + 500 - 1.7, 10);
  });

  it('values foreign-currency cash at the FX pair (USD.JPY inverted)', () => {
    expect(ledger.usdRate('EUR')).toBeCloseTo(1.1, 10);
    expect(ledger.usdRate('JPY')).toBeCloseTo(1 / 150, 10);
    ledger.applyFill('DU1', usdJpy, true, 1000, 150, 300);
    const values = ledger.value('DU1');
    expect(values.cash.get('JPY')).toBeCloseTo(-150_300, 10);
    // 1000 USD bought for 150,000 JPY (+300 JPY commission): worth the same, minus the commission.
    expect(values.netLiquidation).toBeCloseTo(STARTING_CASH - 2, 10);
  });

  it('reports the margin a what-if trade would need', () => {
    const after = ledger.marginAfter('DU1', option, -2, 5);
    expect(after.initMargin).toBeCloseTo(2 * 5 * 100, 10);
  });
});

describe('commission', () => {
  it('charges stocks $0.005 a share, at least $1 and at most 1% of the value', () => {
    expect(orderCommission(stock, { quantity: 100, value: 10_000 })).toBe(1);
    expect(orderCommission(stock, { quantity: 1_000, value: 100_000 })).toBe(5);
    expect(orderCommission(stock, { quantity: 1_000, value: 50 })).toBe(0.5);
  });

  it('charges options, futures and FX their own rates', () => {
    expect(orderCommission(option, { quantity: 3, value: 1_500 })).toBe(1.95);
    expect(orderCommission(future, { quantity: 2, value: 600_000 })).toBe(1.7);
    expect(orderCommission(eurUsd, { quantity: 20_000, value: 22_000 })).toBe(2);
    expect(orderCommission(eurUsd, { quantity: 2_000_000, value: 2_200_000 })).toBe(44);
  });

  it('splits an order commission over its partial fills, the minimum charged once', () => {
    const first = fillCommission(stock, { quantity: 0, value: 0 }, { quantity: 100, value: 10_000 });
    const second = fillCommission(stock, { quantity: 100, value: 10_000 }, { quantity: 300, value: 30_000 });
    expect(first).toBe(1);
    expect(second).toBe(1);
    expect(first + second).toBe(orderCommission(stock, { quantity: 400, value: 40_000 }));
  });
});
