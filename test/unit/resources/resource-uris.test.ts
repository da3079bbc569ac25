import type { LiveEvent } from '../../../src/events/live-event';
import { quoteUri, resourceUri, urisChangedBy, type PlainUriOwner } from '../../../src/events/resource-uris';

const event = (fields: Partial<LiveEvent>): LiveEvent => ({
  id: 'r.1',
  topic: 'orders',
  type: 'order',
  at: '2026-01-05T12:00:00.000Z',
  gateway: 'paper',
  data: {},
  ...fields,
});

/** One gateway: plain URIs mean it. Two: only quotes of the gateway for data have a plain URI. */
const single: PlainUriOwner = { plainMeans: (gateway) => gateway === 'paper' };
const several: PlainUriOwner = { plainMeans: (gateway, kind) => kind === 'quotes' && gateway === 'paper' };

describe('which resource URIs an event changes', () => {
  it('names URIs under one scheme, per gateway when one is given', () => {
    expect(resourceUri('account/summary')).toBe('ibgs://account/summary');
    expect(resourceUri('orders/open', 'live 1')).toBe('ibgs://gateways/live%201/orders/open');
    expect(quoteUri('EUR.USD')).toBe('ibgs://quotes/EUR.USD');
    expect(quoteUri('BRK B', 'paper')).toBe('ibgs://gateways/paper/quotes/BRK%20B');
  });

  it('maps a fill to open orders, journal, positions and balances, plain and per gateway', () => {
    expect(urisChangedBy(event({ topic: 'executions', symbol: 'AAPL' }), single).sort()).toEqual(
      [
        'ibgs://orders/open',
        'ibgs://orders/journal',
        'ibgs://account/positions',
        'ibgs://account/summary',
        'ibgs://gateways/paper/orders/open',
        'ibgs://gateways/paper/orders/journal',
        'ibgs://gateways/paper/account/positions',
        'ibgs://gateways/paper/account/summary',
      ].sort(),
    );
  });

  it.each([
    ['orders', ['orders/open', 'orders/journal']],
    ['positions', ['account/positions']],
    ['account', ['account/summary']],
    ['pnl', ['account/positions']],
    ['health', ['health/status']],
    ['gateway', ['health/status', 'gateway/logs']],
  ] as const)('maps %s events to %j', (topic, paths) => {
    expect(urisChangedBy(event({ topic }), several)).toEqual(
      paths.map((path) => `ibgs://gateways/paper/${path}`),
    );
  });

  it('maps a quote to its symbol, plain only on the gateway for data', () => {
    expect(urisChangedBy(event({ topic: 'quotes', symbol: 'AAPL' }), several)).toEqual([
      'ibgs://gateways/paper/quotes/AAPL',
      'ibgs://quotes/AAPL',
    ]);
    expect(urisChangedBy(event({ topic: 'quotes', symbol: 'AAPL', gateway: 'live' }), several)).toEqual([
      'ibgs://gateways/live/quotes/AAPL',
    ]);
  });

  it('changes no resource for news, approvals, or a quote without a symbol', () => {
    expect(urisChangedBy(event({ topic: 'news' }), single)).toEqual([]);
    expect(urisChangedBy(event({ topic: 'approvals' }), single)).toEqual([]);
    expect(urisChangedBy(event({ topic: 'quotes' }), single)).toEqual([]);
  });
});
