import type { AccessLevel } from '../security/access-tokens';

/** What a client can ask to be told about. Each topic's events carry one payload shape (live-event.schemas). */
export const EVENT_TOPICS = [
  'orders',
  'executions',
  'positions',
  'account',
  'pnl',
  'quotes',
  'news',
  'gateway',
  'health',
  'approvals',
] as const;
export type EventTopic = (typeof EVENT_TOPICS)[number];

/** Topics only the full token sees: an approval is a decision about money, not a read. */
const FULL_ACCESS_TOPICS: ReadonlySet<EventTopic> = new Set(['approvals']);

export function topicVisibleTo(topic: EventTopic, level: AccessLevel): boolean {
  return level === 'full' || !FULL_ACCESS_TOPICS.has(topic);
}

export function isEventTopic(value: string): value is EventTopic {
  return (EVENT_TOPICS as readonly string[]).includes(value);
}

/** One pushed event, as every transport sends it. */
export interface LiveEvent {
  /** `<run>.<sequence>`: increasing within one run of the service; a resume names the last one it saw. */
  id: string;
  topic: EventTopic;
  /** What happened within the topic: 'order', 'execution', 'quote', 'transition', ... */
  type: string;
  /** When the service published it (ISO 8601). */
  at: string;
  /** The gateway it concerns. */
  gateway: string;
  /** The contract's symbol, for events about one contract (quotes, orders, executions, positions). */
  symbol?: string;
  /** The account, for events about one account (orders, executions, positions, account values, PnL). */
  account?: string;
  data: unknown;
}

/** What a publisher supplies; the hub stamps id and time. */
export type LiveEventInput = Omit<LiveEvent, 'id' | 'at'>;

/** Which events a subscriber wants: its topics, narrowed by symbol, account and gateway when given. */
export interface EventFilter {
  topics: ReadonlySet<EventTopic>;
  symbols?: ReadonlySet<string> | undefined;
  accounts?: ReadonlySet<string> | undefined;
  gateways?: ReadonlySet<string> | undefined;
}

/**
 * Whether `event` passes `filter`. A symbol (account) filter applies to events that name a symbol
 * (account); an event about no symbol (a gateway transition) is not hidden by a symbol filter.
 */
export function matches(filter: EventFilter, event: LiveEvent): boolean {
  if (!filter.topics.has(event.topic)) return false;
  if (filter.gateways !== undefined && !filter.gateways.has(event.gateway)) return false;
  if (filter.symbols !== undefined && event.symbol !== undefined && !filter.symbols.has(event.symbol)) {
    return false;
  }
  if (filter.accounts !== undefined && event.account !== undefined && !filter.accounts.has(event.account)) {
    return false;
  }
  return true;
}
