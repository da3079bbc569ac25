import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { z } from 'zod';
import { DomainError } from '../common/domain-error';
import { MetricsRegistry } from '../common/metrics';
import { formatZodIssues } from '../common/zod-json-schema';
import { GatewayRouter } from '../gateway/gateway-router';
import { listOf, MAX_STREAM_SYMBOLS, StreamQuotesInput } from '../market-data/market-data.schemas';
import { MarketDataService, type QuoteFeed } from '../market-data/market-data.service';
import type { AccessLevel } from '../security/access-tokens';
import { EVENT_HUB, EventHub, type HubSubscription, type ResumeGap } from './event-hub';
import {
  EVENT_TOPICS,
  isEventTopic,
  topicVisibleTo,
  type EventFilter,
  type EventTopic,
  type LiveEvent,
} from './live-event';

/** Unsent bytes beyond which a client is told it lags behind. */
export const LAGGING_BYTES = 256 * 1024;
/** Unsent bytes beyond which a client is disconnected: memory stays bounded whatever a client does. */
export const MAX_UNSENT_BYTES = 1024 * 1024;
/** A comment (SSE) or a ping (WebSocket) this often keeps proxies from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;

export const EventsQuery = z.strictObject({
  topics: z
    .string()
    .trim()
    .regex(/^[a-z]+(,[a-z]+)*$/, `must be a comma-separated list of topics: ${EVENT_TOPICS.join(', ')}`)
    .optional()
    .describe(
      `Comma-separated topics: ${EVENT_TOPICS.join(', ')}. Default: every topic the token may see ` +
        '(quotes only when symbols or conIds are given)',
    ),
  symbols: StreamQuotesInput.shape.symbols.describe(
    'Comma-separated symbols: only events about these contracts (events about no contract still come). ' +
      `Needed for quotes, whose streams are opened for the client (at most ${MAX_STREAM_SYMBOLS} with conIds)`,
  ),
  conIds: StreamQuotesInput.shape.conIds.describe('Comma-separated IB contract ids to stream quotes of'),
  accounts: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$/, 'must be a comma-separated list of account ids')
    .optional()
    .describe(
      'Comma-separated accounts: only events about these accounts (events about no account still come)',
    ),
  gateway: z
    .string()
    .min(1)
    .max(32)
    .optional()
    .describe(
      'Only events of this gateway (list_gateways); quotes stream from it (default: the data gateway)',
    ),
  marketDataType: StreamQuotesInput.shape.marketDataType,
  lastEventId: z
    .string()
    .max(64)
    .optional()
    .describe('Resume after this event id (the Last-Event-ID header does the same; the header wins)'),
});
export type EventsQuery = z.infer<typeof EventsQuery>;

/** What one client asked for, checked. */
export interface EventRequest {
  filter: EventFilter;
  /** The quote streams to hold while the client is connected. */
  quotes: StreamQuotesInput | undefined;
  lastEventId: string | undefined;
}

/** A notice to the client beside the events: a resume gap, or that it falls behind. */
export type EventNotice =
  | ({ type: 'gap' } & ResumeGap)
  | { type: 'lagging'; unsentBytes: number; limitBytes: number; message: string };

/** How a transport (SSE, WebSocket) sends to one client. */
export interface EventSink {
  readonly transport: 'sse' | 'websocket';
  /** Bytes handed to the connection but not yet to the network. */
  unsentBytes(): number;
  send(event: LiveEvent): void;
  notify(notice: EventNotice): void;
  heartbeat(): void;
  /** Ends the connection at once, without flushing what is queued. */
  drop(reason: string): void;
}

/** Checks a client's query (400) and its access to the topics (403). */
export function parseEventRequest(
  query: Record<string, unknown>,
  level: AccessLevel,
  lastEventIdHeader: string | undefined,
): EventRequest {
  const parsed = EventsQuery.safeParse(query);
  if (!parsed.success) throw new DomainError('INVALID_INPUT', formatZodIssues(parsed.error));
  const input = parsed.data;
  const symbols = listOf(input.symbols);
  const conIds = listOf(input.conIds);
  const named = [...new Set(listOf(input.topics))];
  const unknown = named.filter((topic) => !isEventTopic(topic));
  if (unknown.length > 0) {
    throw new DomainError(
      'INVALID_INPUT',
      `[topics]: unknown topic ${unknown.join(', ')}; the topics: ${EVENT_TOPICS.join(', ')}`,
    );
  }
  const asked = named.filter(isEventTopic);
  const hidden = asked.filter((topic) => !topicVisibleTo(topic, level));
  if (hidden.length > 0) {
    throw new DomainError(
      'FORBIDDEN',
      `The ${hidden.join(', ')} topic needs the full API token: the read-only token sees ${EVENT_TOPICS.filter((topic) => topicVisibleTo(topic, level)).join(', ')}`,
      { topics: hidden },
    );
  }
  const wantsQuotes = symbols.length > 0 || conIds.length > 0;
  const topics: EventTopic[] =
    asked.length > 0
      ? asked
      : EVENT_TOPICS.filter((topic) => topicVisibleTo(topic, level) && (topic !== 'quotes' || wantsQuotes));
  const quotes = topics.includes('quotes') ? quoteInput(input, symbols.length + conIds.length) : undefined;
  const lastEventId = lastEventIdHeader ?? input.lastEventId;
  return {
    filter: {
      topics: new Set(topics),
      symbols: symbols.length > 0 ? new Set(symbols) : undefined,
      accounts: input.accounts === undefined ? undefined : new Set(listOf(input.accounts)),
      gateways: input.gateway === undefined ? undefined : new Set([input.gateway]),
    },
    quotes,
    lastEventId: lastEventId === '' ? undefined : lastEventId,
  };
}

function quoteInput(input: EventsQuery, count: number): StreamQuotesInput {
  if (count === 0) {
    throw new DomainError(
      'INVALID_INPUT',
      '[symbols]: the quotes topic needs symbols or conIds, e.g. topics=quotes&symbols=AAPL,MSFT',
    );
  }
  if (count > MAX_STREAM_SYMBOLS) {
    throw new DomainError('INVALID_INPUT', `[symbols]: at most ${MAX_STREAM_SYMBOLS} symbols and conIds`);
  }
  return {
    symbols: input.symbols,
    conIds: input.conIds,
    marketDataType: input.marketDataType,
    gateway: input.gateway,
  };
}

/** A client's request with its quote streams open: ready to attach to a connection. */
export interface PreparedEvents {
  request: EventRequest;
  feed: QuoteFeed | undefined;
  /** The contract ids of the client's quote streams: quotes of other contracts of the same symbol stay out. */
  quoteConIds: ReadonlySet<number> | undefined;
}

/** One connected client: its hub subscription, its quote streams, and how far behind it is. */
export class EventSession {
  private subscription: HubSubscription | undefined;
  private lagging = false;
  /** A resume's replay may exceed the bounds at once: it is allowed for until the client caught up once. */
  private replayAllowance = 0;
  private closed = false;

  constructor(
    private readonly hub: EventHub,
    private readonly prepared: PreparedEvents,
    readonly sink: EventSink,
    private readonly onEnd: (session: EventSession, dropped: boolean) => void,
  ) {}

  start(): void {
    const replay: LiveEvent[] = [];
    let replaying = true;
    this.subscription = this.hub.subscribe(
      this.prepared.request.filter,
      (event) => {
        if (!this.wanted(event)) return;
        if (replaying) replay.push(event);
        else this.deliver(event);
      },
      {
        ...(this.prepared.request.lastEventId === undefined
          ? {}
          : { after: this.prepared.request.lastEventId }),
      },
    );
    replaying = false;
    const gap = this.subscription.gap;
    if (gap) this.sink.notify({ type: 'gap', ...gap });
    for (const event of replay) this.sink.send(event);
    this.replayAllowance = this.sink.unsentBytes();
  }

  /** The connection ended (the client left, or was dropped): give everything back. Safe to call twice. */
  close(dropped = false): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription?.unsubscribe();
    this.prepared.feed?.close();
    this.onEnd(this, dropped);
  }

  private wanted(event: LiveEvent): boolean {
    const conIds = this.prepared.quoteConIds;
    if (event.topic !== 'quotes' || conIds === undefined) return true;
    return conIds.has((event.data as { conId?: number }).conId ?? -1);
  }

  /** Sends at once, never waiting: a client that stops reading is told, then dropped. */
  private deliver(event: LiveEvent): void {
    if (this.closed) return;
    const unsent = this.sink.unsentBytes();
    if (unsent < LAGGING_BYTES) {
      this.replayAllowance = 0;
      this.lagging = false;
    }
    if (unsent > MAX_UNSENT_BYTES + this.replayAllowance) {
      this.sink.drop(`the client read too slowly: ${unsent} bytes of events were waiting`);
      this.close(true);
      return;
    }
    if (!this.lagging && unsent > LAGGING_BYTES + this.replayAllowance) {
      this.lagging = true;
      this.sink.notify({
        type: 'lagging',
        unsentBytes: unsent,
        limitBytes: MAX_UNSENT_BYTES,
        message: `The client reads too slowly: ${unsent} bytes of events wait; it is disconnected beyond ${MAX_UNSENT_BYTES}`,
      });
    }
    this.sink.send(event);
  }
}

/**
 * The /events clients of both transports: checks what each asks, holds its quote streams open while it is
 * connected, and keeps it alive with heartbeats. Nothing here waits for a client: the hub delivers to each
 * session synchronously, and a session that cannot take more is dropped alone.
 */
@Injectable()
export class EventStreams implements OnModuleDestroy {
  private readonly sessions = new Set<EventSession>();
  private readonly heartbeats: NodeJS.Timeout;

  constructor(
    @Inject(EVENT_HUB) private readonly hub: EventHub,
    private readonly router: GatewayRouter,
    private readonly metrics: MetricsRegistry,
  ) {
    this.heartbeats = setInterval(() => {
      for (const session of this.sessions) session.sink.heartbeat();
    }, HEARTBEAT_MS);
    this.heartbeats.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeats);
    for (const session of [...this.sessions]) {
      session.sink.drop('the service stops');
      session.close();
    }
  }

  get clientCount(): number {
    return this.sessions.size;
  }

  /**
   * Checks the request (400, also for an unknown gateway; 403; 404 for an unknown symbol) and opens its quote
   * streams. The caller must attach the result to a connection, or close its feed.
   */
  async prepare(
    query: Record<string, unknown>,
    level: AccessLevel,
    lastEventIdHeader: string | undefined,
  ): Promise<PreparedEvents> {
    const request = parseEventRequest(query, level, lastEventIdHeader);
    const gateway = request.filter.gateways === undefined ? undefined : [...request.filter.gateways][0];
    if (gateway !== undefined) this.router.named({ gateway }); // 400 for a gateway that does not exist
    if (request.quotes === undefined) return { request, feed: undefined, quoteConIds: undefined };
    const feed = await this.router.forData({ gateway }).get(MarketDataService).openQuoteFeed(request.quotes);
    const contracts = feed.streams.map(({ contract }) => contract);
    const symbols = new Set([
      ...(request.filter.symbols ?? []),
      ...contracts.flatMap(({ symbol }) => (symbol === undefined ? [] : [symbol])),
    ]);
    return {
      request: { ...request, filter: { ...request.filter, symbols } },
      feed,
      quoteConIds: new Set(contracts.map(({ conId }) => conId)),
    };
  }

  /** Connects a prepared request to its client: the resume (gap, replay) first, then live events. */
  attach(prepared: PreparedEvents, sink: EventSink): EventSession {
    const session = new EventSession(this.hub, prepared, sink, (ended, dropped) => {
      this.sessions.delete(ended);
      this.metrics.eventClients.dec({ transport: sink.transport });
      if (dropped) this.metrics.eventClientsDropped.inc({ transport: sink.transport });
    });
    this.sessions.add(session);
    this.metrics.eventClients.inc({ transport: sink.transport });
    session.start();
    return session;
  }
}
