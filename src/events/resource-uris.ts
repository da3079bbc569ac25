import type { EventTopic, LiveEvent } from '../events/live-event';

/** The scheme of every resource of this service. */
export const RESOURCE_SCHEME = 'ibgs';

/** The fixed resources, by their path under the scheme; each is also readable per gateway. */
export const RESOURCE_PATHS = [
  'account/summary',
  'account/positions',
  'orders/open',
  'orders/journal',
  'health/status',
  'gateway/logs',
] as const;
export type ResourcePath = (typeof RESOURCE_PATHS)[number];

/**
 * `ibgs://<path>`, or with a gateway `ibgs://gateways/<gateway>/<path>`. The plain form is the REST route
 * without `gateway`: the only gateway (quotes: the gateway for data), else an error listing the gateways.
 */
export function resourceUri(path: ResourcePath, gateway?: string): string {
  return `${RESOURCE_SCHEME}://${gatewayPrefix(gateway)}${path}`;
}

/** `ibgs://quotes/<symbol>`, or `ibgs://gateways/<gateway>/quotes/<symbol>`. */
export function quoteUri(symbol: string, gateway?: string): string {
  return `${RESOURCE_SCHEME}://${gatewayPrefix(gateway)}quotes/${encodeURIComponent(symbol)}`;
}

function gatewayPrefix(gateway: string | undefined): string {
  return gateway === undefined ? '' : `gateways/${encodeURIComponent(gateway)}/`;
}

/** The URI template of a fixed resource read on a named gateway. */
export const perGatewayTemplate = (path: ResourcePath): string =>
  `${RESOURCE_SCHEME}://gateways/{gateway}/${path}`;

export const QUOTE_TEMPLATE = `${RESOURCE_SCHEME}://quotes/{symbol}`;
export const PER_GATEWAY_QUOTE_TEMPLATE = `${RESOURCE_SCHEME}://gateways/{gateway}/quotes/{symbol}`;

/**
 * Which fixed resources an event of each topic may have changed. A fill moves the open orders, the journal,
 * the positions and the balances; a gateway transition comes with new log lines. Quotes change their own
 * quote resource only: a position's mark moves with every tick, and announcing it that often would be noise
 * (positions are announced on position, PnL and execution events).
 */
export const PATHS_BY_TOPIC: Readonly<Record<EventTopic, readonly ResourcePath[]>> = {
  orders: ['orders/open', 'orders/journal'],
  executions: ['orders/open', 'orders/journal', 'account/positions', 'account/summary'],
  positions: ['account/positions'],
  account: ['account/summary'],
  pnl: ['account/positions'],
  health: ['health/status'],
  gateway: ['health/status', 'gateway/logs'],
  quotes: [],
  news: [],
  approvals: [],
};

/** The topics whose events change a resource. */
export const RESOURCE_TOPICS: readonly EventTopic[] = [
  'orders',
  'executions',
  'positions',
  'account',
  'pnl',
  'health',
  'gateway',
  'quotes',
];

/** Whether a URI without a gateway means this gateway: for quotes the gateway for data, else the only one. */
export interface PlainUriOwner {
  plainMeans(gateway: string, kind: 'quotes' | 'other'): boolean;
}

/** Every URI `event` may have changed: the per-gateway form, and the plain one when it means that gateway. */
export function urisChangedBy(event: LiveEvent, owner: PlainUriOwner): string[] {
  const uris: string[] = [];
  if (event.topic === 'quotes') {
    if (event.symbol === undefined) return uris;
    uris.push(quoteUri(event.symbol, event.gateway));
    if (owner.plainMeans(event.gateway, 'quotes')) uris.push(quoteUri(event.symbol));
    return uris;
  }
  const plain = owner.plainMeans(event.gateway, 'other');
  for (const path of PATHS_BY_TOPIC[event.topic]) {
    uris.push(resourceUri(path, event.gateway));
    if (plain) uris.push(resourceUri(path));
  }
  return uris;
}
