import type { Instrument, Quote } from '../../../../src/simulator/market/instrument';
import { Order } from '../../../../src/simulator/broker/order';
import type { OrderTicket } from '../../../../src/simulator/broker/order-ticket';

const stock = { conId: 1, symbol: 'TEST', secType: 'STK', multiplier: 1, minTick: 0.01 } as Instrument;

function ticket(fields: Partial<OrderTicket>): OrderTicket {
  return {
    orderId: 1000,
    action: 'BUY',
    totalQuantity: 100,
    orderType: 'MKT',
    transmit: true,
    parentId: 0,
    ...fields,
  } as OrderTicket;
}

function quote(last: number, sizes = 1_000): Quote {
  return {
    bid: last - 0.01,
    ask: last + 0.01,
    last,
    bidSize: sizes,
    askSize: sizes,
    lastSize: 100,
    volume: 0,
    open: last,
    high: last,
    low: last,
    close: last,
    time: 0,
    marketOpen: true,
  };
}

const order = (fields: Partial<OrderTicket>): Order => new Order(ticket(fields), stock, 'DU1', 1, 1);

describe('Order against the market', () => {
  it('buys at the ask and sells at the bid', () => {
    expect(order({}).evaluate(quote(100)).fill).toEqual({ quantity: 100, price: 100.01 });
    expect(order({ action: 'SELL' }).evaluate(quote(100)).fill).toEqual({ quantity: 100, price: 99.99 });
  });

  it('fills at most the size shown at the touch, so a large order takes several evaluations', () => {
    const large = order({ totalQuantity: 2_500 });
    const fills: number[] = [];
    for (let i = 0; i < 5 && large.remaining > 0; i++) {
      const { fill } = large.evaluate(quote(100, 1_000));
      if (!fill) break;
      large.recordFill(fill);
      fills.push(fill.quantity);
    }
    expect(fills).toEqual([1_000, 1_000, 500]);
  });

  it('fills a limit order only when marketable, at the quote', () => {
    expect(order({ orderType: 'LMT', lmtPrice: 99 }).evaluate(quote(100)).fill).toBeUndefined();
    expect(order({ orderType: 'LMT', lmtPrice: 101 }).evaluate(quote(100)).fill?.price).toBe(100.01);
    expect(order({ orderType: 'LMT', action: 'SELL', lmtPrice: 99 }).evaluate(quote(100)).fill?.price).toBe(
      99.99,
    );
  });

  it('triggers a stop when the last price crosses it, then fills as a market order', () => {
    const stop = order({ orderType: 'STP', action: 'SELL', auxPrice: 95 });
    expect(stop.evaluate(quote(96)).fill).toBeUndefined();
    expect(stop.triggered).toBe(false);
    expect(stop.evaluate(quote(95)).fill?.price).toBe(94.99);
    expect(stop.triggered).toBe(true);
  });

  it('works a triggered stop-limit as a limit order', () => {
    const stopLimit = order({ orderType: 'STP LMT', auxPrice: 105, lmtPrice: 105.5 });
    expect(stopLimit.evaluate(quote(104)).fill).toBeUndefined();
    // Triggered, but the ask is above the limit.
    expect(stopLimit.evaluate(quote(106)).fill).toBeUndefined();
    expect(stopLimit.triggered).toBe(true);
    expect(stopLimit.evaluate(quote(105.2)).fill?.price).toBeCloseTo(105.21, 10);
  });

  it('ratchets a sell trailing stop up with the price, never down, and sells when the price falls to it', () => {
    const trail = order({ orderType: 'TRAIL', action: 'SELL', auxPrice: 2 });
    trail.evaluate(quote(100));
    expect(trail.trailStop).toBe(98);
    trail.evaluate(quote(103));
    expect(trail.trailStop).toBe(101);
    trail.evaluate(quote(102));
    expect(trail.trailStop).toBe(101);
    expect(trail.evaluate(quote(101.5)).fill).toBeUndefined();
    expect(trail.evaluate(quote(101)).fill?.price).toBe(100.99);
  });

  it('trails a buy stop down by a percentage', () => {
    const trail = order({ orderType: 'TRAIL', trailingPercent: 10 });
    trail.evaluate(quote(100));
    expect(trail.trailStop).toBe(110);
    trail.evaluate(quote(90));
    expect(trail.trailStop).toBe(99);
    trail.evaluate(quote(95));
    expect(trail.trailStop).toBe(99);
    expect(trail.evaluate(quote(99)).fill?.price).toBe(99.01);
  });

  it('works a triggered trailing limit at the stop plus its offset', () => {
    const trail = order({ orderType: 'TRAIL LIMIT', action: 'SELL', auxPrice: 1, lmtPriceOffset: 0.5 });
    trail.evaluate(quote(100));
    expect(trail.workingLimit()).toBe(98.5);
    expect(trail.evaluate(quote(99)).fill?.price).toBe(98.99);
  });

  it('keeps its fills and re-arms its stop when modified', () => {
    const stop = order({ orderType: 'STP', auxPrice: 100, totalQuantity: 10 });
    stop.evaluate(quote(101));
    expect(stop.triggered).toBe(true);
    stop.recordFill({ quantity: 4, price: 101 });
    stop.modify(ticket({ orderType: 'STP', auxPrice: 120, totalQuantity: 10 }));
    expect(stop.triggered).toBe(false);
    expect(stop.remaining).toBe(6);
    expect(stop.avgFillPrice).toBe(101);
  });
});
