import { Logger } from '@nestjs/common';
import { dateOf, type Clock } from '../common/clock';
import {
  EVENT_TOPICS,
  matches,
  type EventFilter,
  type EventTopic,
  type LiveEvent,
  type LiveEventInput,
} from './live-event';

/** The provider token of the service's one hub (shared by the HTTP app and every gateway's services). */
export const EVENT_HUB = Symbol('EVENT_HUB');

/**
 * How many recent events of each topic are kept for resuming clients. Quotes come many times a second
 * per contract; the rest a few times a minute at most.
 */
export const RESUME_WINDOW: Readonly<Record<EventTopic, number>> = {
  orders: 2000,
  executions: 2000,
  positions: 1000,
  account: 1000,
  pnl: 1000,
  quotes: 10_000,
  news: 500,
  gateway: 500,
  health: 500,
  approvals: 500,
};

/** What a resume could not give back: events of these topics after the client's last one were let go. */
export interface ResumeGap {
  /** The id the client resumed from. */
  lastEventId: string;
  /** Topics with events missing; every asked topic when the service restarted in between. */
  topics: EventTopic[];
  reason: 'window' | 'restarted' | 'unknown-id';
}

export interface HubSubscription {
  /** Events replayed to the listener before live ones (a resume). */
  replayed: number;
  /** Set when the resume could not be complete: send the client a gap event first. */
  gap: ResumeGap | undefined;
  unsubscribe(): void;
}

type Listener = (event: LiveEvent) => void;

interface ListenerEntry {
  filter: EventFilter;
  listener: Listener;
}

/**
 * A topic's subscribers, indexed so that a quote reaches the hundred subscribers of its symbol without the
 * other thousands being asked: those without a symbol filter, and those of each symbol.
 */
interface TopicListeners {
  all: Set<ListenerEntry>;
  anySymbol: Set<ListenerEntry>;
  bySymbol: Map<string, Set<ListenerEntry>>;
}

/** A topic's last events, oldest first, in a ring. */
class TopicWindow {
  private readonly events: Array<{ sequence: number; event: LiveEvent }> = [];
  private start = 0;
  /** The sequence of the newest event let go (0: none). */
  evictedThrough = 0;

  constructor(private readonly capacity: number) {}

  push(sequence: number, event: LiveEvent): void {
    if (this.events.length - this.start >= this.capacity) {
      const evicted = this.events[this.start];
      if (evicted) this.evictedThrough = evicted.sequence;
      this.start++;
      // Compact now and then rather than shift() on every event.
      if (this.start >= this.capacity) {
        this.events.splice(0, this.start);
        this.start = 0;
      }
    }
    this.events.push({ sequence, event });
  }

  after(sequence: number): Array<{ sequence: number; event: LiveEvent }> {
    const kept = this.events.slice(this.start);
    let low = 0;
    let high = kept.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((kept[middle]?.sequence ?? 0) <= sequence) low = middle + 1;
      else high = middle;
    }
    return kept.slice(low);
  }

  get size(): number {
    return this.events.length - this.start;
  }
}

/**
 * The service's live events: publishers (each gateway's orders, account, market data, news and health) hand
 * them in, subscribers (the /events transports, MCP resource notifications) get them synchronously, in
 * order. A bounded window per topic lets a reconnecting client resume from its last event id, and says
 * plainly (a gap) when that is no longer possible. The hub never waits for a subscriber: a slow one is the
 * transport's to drop.
 */
export class EventHub {
  /** Tells this run's ids from an earlier run's: a resume across a restart is a gap, not a silent miss. */
  readonly run: string;
  private sequence = 0;
  private readonly windows = new Map<EventTopic, TopicWindow>();
  private readonly listeners = new Set<ListenerEntry>();
  private readonly byTopic = new Map<EventTopic, TopicListeners>();
  private readonly encoded = new WeakMap<LiveEvent, string>();
  private readonly logger = new Logger('EventHub');

  constructor(
    private readonly clock: Clock,
    windows: Readonly<Record<EventTopic, number>> = RESUME_WINDOW,
  ) {
    this.run = clock.now().toString(36);
    for (const topic of EVENT_TOPICS) this.windows.set(topic, new TopicWindow(windows[topic]));
  }

  /** The id of the newest event ('' before the first). */
  get lastEventId(): string {
    return this.sequence === 0 ? '' : `${this.run}.${this.sequence}`;
  }

  /** How many subscribers are attached (transports and MCP notifications alike). */
  get subscriberCount(): number {
    return this.listeners.size;
  }

  publish(input: LiveEventInput): LiveEvent {
    const sequence = ++this.sequence;
    const event: LiveEvent = {
      id: `${this.run}.${sequence}`,
      at: dateOf(this.clock).toISOString(),
      ...input,
    };
    this.windows.get(event.topic)?.push(sequence, event);
    const listeners = this.byTopic.get(event.topic);
    if (listeners === undefined) return event;
    if (event.symbol === undefined) {
      this.deliver(listeners.all, event); // an event about no contract passes symbol filters
    } else {
      this.deliver(listeners.anySymbol, event);
      const ofSymbol = listeners.bySymbol.get(event.symbol);
      if (ofSymbol) this.deliver(ofSymbol, event);
    }
    return event;
  }

  /**
   * Attaches `listener` to the events `filter` selects. With `after` (a client's Last-Event-ID), the kept
   * events after it are replayed first, oldest first; nothing published meanwhile can be missed, as both
   * happen in one turn of the event loop.
   */
  subscribe(filter: EventFilter, listener: Listener, options: { after?: string } = {}): HubSubscription {
    let replayed = 0;
    let gap: ResumeGap | undefined;
    if (options.after !== undefined && options.after !== '') {
      const resume = this.resume(filter, options.after);
      gap = resume.gap;
      for (const event of resume.events) listener(event);
      replayed = resume.events.length;
    }
    const entry = { filter, listener };
    this.attach(entry);
    return { replayed, gap, unsubscribe: () => this.detach(entry) };
  }

  private deliver(entries: Set<ListenerEntry>, event: LiveEvent): void {
    for (const entry of entries) {
      if (!matches(entry.filter, event)) continue;
      try {
        entry.listener(event);
      } catch (error) {
        // One failing subscriber must not keep the event from the others, nor fail the publisher.
        this.detach(entry);
        this.logger.error(
          `A subscriber failed on event ${event.id} and was detached: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }

  private attach(entry: ListenerEntry): void {
    this.listeners.add(entry);
    for (const topic of entry.filter.topics) {
      let listeners = this.byTopic.get(topic);
      if (listeners === undefined) {
        listeners = { all: new Set(), anySymbol: new Set(), bySymbol: new Map() };
        this.byTopic.set(topic, listeners);
      }
      listeners.all.add(entry);
      if (entry.filter.symbols === undefined) {
        listeners.anySymbol.add(entry);
        continue;
      }
      for (const symbol of entry.filter.symbols) {
        const ofSymbol = listeners.bySymbol.get(symbol) ?? new Set<ListenerEntry>();
        ofSymbol.add(entry);
        listeners.bySymbol.set(symbol, ofSymbol);
      }
    }
  }

  private detach(entry: ListenerEntry): void {
    if (!this.listeners.delete(entry)) return;
    for (const topic of entry.filter.topics) {
      const listeners = this.byTopic.get(topic);
      if (listeners === undefined) continue;
      listeners.all.delete(entry);
      listeners.anySymbol.delete(entry);
      for (const symbol of entry.filter.symbols ?? []) {
        const ofSymbol = listeners.bySymbol.get(symbol);
        ofSymbol?.delete(entry);
        if (ofSymbol?.size === 0) listeners.bySymbol.delete(symbol);
      }
    }
  }

  /** The event as JSON, computed once however many subscribers send it. */
  json(event: LiveEvent): string {
    let text = this.encoded.get(event);
    if (text === undefined) {
      text = JSON.stringify(event);
      this.encoded.set(event, text);
    }
    return text;
  }

  /** Kept events per topic, for /metrics and tests. */
  windowSizes(): Record<EventTopic, number> {
    const sizes = {} as Record<EventTopic, number>;
    for (const [topic, window] of this.windows) sizes[topic] = window.size;
    return sizes;
  }

  private resume(
    filter: EventFilter,
    lastEventId: string,
  ): { events: LiveEvent[]; gap: ResumeGap | undefined } {
    const topics = [...filter.topics];
    const [run, sequenceText] = lastEventId.split('.');
    const sequence = Number(sequenceText);
    if (run !== this.run) {
      // Another run's id: everything since may be gone. Replay what this run kept, and say so.
      return { events: this.kept(filter, 0), gap: { lastEventId, topics, reason: 'restarted' } };
    }
    if (!Number.isSafeInteger(sequence) || sequence < 0 || sequence > this.sequence) {
      return { events: [], gap: { lastEventId, topics, reason: 'unknown-id' } };
    }
    const missing = topics.filter((topic) => (this.windows.get(topic)?.evictedThrough ?? 0) > sequence);
    return {
      events: this.kept(filter, sequence),
      gap: missing.length > 0 ? { lastEventId, topics: missing, reason: 'window' } : undefined,
    };
  }

  private kept(filter: EventFilter, after: number): LiveEvent[] {
    const found: Array<{ sequence: number; event: LiveEvent }> = [];
    for (const topic of filter.topics) {
      for (const entry of this.windows.get(topic)?.after(after) ?? []) {
        if (matches(filter, entry.event)) found.push(entry);
      }
    }
    return found.sort((a, b) => a.sequence - b.sequence).map((entry) => entry.event);
  }
}
