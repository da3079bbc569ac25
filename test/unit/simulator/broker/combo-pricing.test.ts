import { bagConId, netQuote, type ResolvedLeg } from '../../../../src/simulator/broker/combo-market';
import type { Instrument, Quote } from '../../../../src/simulator/market/instrument';

const instrument = (conId: number): Instrument => ({ conId }) as Instrument;
const quote = (bid: number, ask: number, size = 10): Quote =>
  ({ bid, ask, last: (bid + ask) / 2, bidSize: size, askSize: size, time: 0, marketOpen: true }) as Quote;

describe('simulated combo pricing', () => {
  const legs: ResolvedLeg[] = [
    { leg: { conId: 1, ratio: 1, action: 'BUY' } as ResolvedLeg['leg'], instrument: instrument(1), sign: 1 },
    {
      leg: { conId: 2, ratio: 2, action: 'SELL' } as ResolvedLeg['leg'],
      instrument: instrument(2),
      sign: -1,
    },
  ];
  const quotes = new Map([
    [1, quote(5, 5.2, 10)],
    [2, quote(1, 1.1, 30)],
  ]);

  it('nets the legs: ask buys at the ask and sells at the bid, bid the other way, last from the mids', () => {
    const net = netQuote(legs, (conId) => quotes.get(conId) as Quote);
    expect(net.ask).toBeCloseTo(5.2 - 2 * 1, 6);
    expect(net.bid).toBeCloseTo(5 - 2 * 1.1, 6);
    expect(net.last).toBeCloseTo(5.1 - 2 * 1.05, 6);
    // 10 of leg 1, 30 / 2 of leg 2.
    expect(net.askSize).toBe(10);
  });

  it('leaves a combo unpriced when a leg has no two-sided book', () => {
    const net = netQuote(legs, (conId) => (conId === 2 ? quote(-1, -1) : (quotes.get(conId) as Quote)));
    expect(Number.isNaN(net.ask)).toBe(true);
  });

  it('gives the same legs the same BAG conId, other legs another', () => {
    const id = bagConId([{ conId: 1, ratio: 1, action: 'BUY' }]);
    expect(bagConId([{ conId: 1, ratio: 1, action: 'BUY' }])).toBe(id);
    expect(bagConId([{ conId: 1, ratio: 1, action: 'SELL' }])).not.toBe(id);
    expect(id).toBeGreaterThanOrEqual(900_000_000);
  });
});
