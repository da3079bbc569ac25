import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ApiExtension, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { toOpenApiSchema } from '../common/zod-json-schema';
import { MAX_STREAM_SYMBOLS } from '../market-data/market-data.schemas';
import { AccessTokens } from '../security/access-tokens';
import { EVENT_HUB, EventHub } from './event-hub';
import {
  EventsQuery,
  EventStreams,
  LAGGING_BYTES,
  MAX_UNSENT_BYTES,
  type EventNotice,
  type EventSink,
} from './event-subscriber';
import { EVENT_TOPICS, type LiveEvent } from './live-event';
import { GapNotice, LaggingNotice, liveEventSchema } from './live-event.schemas';

const queryParameters = toOpenApiSchema(EventsQuery, 'input').properties ?? {};

/** Each event's SSE frame, built once however many clients send it. */
const frames = new WeakMap<LiveEvent, string>();

/**
 * Writes one client's server-sent events. What comes within one round of the event loop (the ticks of the
 * IB messages read in it) goes out as one write: one chunk, one system call.
 */
class SseSink implements EventSink {
  readonly transport = 'sse';
  private pending = '';

  constructor(
    private readonly response: Response,
    private readonly hub: EventHub,
  ) {}

  unsentBytes(): number {
    return this.response.writableLength + this.pending.length;
  }

  send(event: LiveEvent): void {
    let frame = frames.get(event);
    if (frame === undefined) {
      frame = `id: ${event.id}\nevent: ${event.topic}\ndata: ${this.hub.json(event)}\n\n`;
      frames.set(event, frame);
    }
    this.write(frame);
  }

  notify({ type, ...notice }: EventNotice): void {
    this.write(`event: ${type}\ndata: ${JSON.stringify(notice)}\n\n`);
  }

  heartbeat(): void {
    this.write(': keep-alive\n\n');
  }

  drop(): void {
    this.response.destroy();
  }

  private write(text: string): void {
    if (this.response.writableEnded || this.response.destroyed) return;
    if (this.pending === '') setImmediate(this.flush);
    this.pending += text;
  }

  private readonly flush = (): void => {
    const text = this.pending;
    this.pending = '';
    if (!this.response.writableEnded && !this.response.destroyed) this.response.write(text);
  };
}

/**
 * The live events over server-sent events: GET /events?topics=orders,executions. A stream, not a tool, so
 * REST only (x-rest-only, like stream_quotes). It writes the events itself rather than through @Sse(), so
 * that a refused request (400, 403, unknown symbol 404) is still a JSON answer.
 */
@ApiTags('events')
@Controller('events')
export class EventsController {
  constructor(
    private readonly streams: EventStreams,
    private readonly tokens: AccessTokens,
    @Inject(EVENT_HUB) private readonly hub: EventHub,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'stream_events',
    summary: 'Live events (server-sent events; WebSocket on the same path)',
    description:
      "A text/event-stream of the service's live events, e.g. GET /events?topics=orders,executions. Each event " +
      'is "id: <id>", "event: <topic>", "data: <the event as JSON>". Topics: orders, executions, positions, ' +
      'account, pnl, quotes, news, gateway, health, approvals (the last needs the full API token: 403 for the ' +
      'read-only one). Filters: symbols, accounts, gateway. quotes needs symbols or conIds (at most ' +
      `${MAX_STREAM_SYMBOLS}); their streams are held while the client is connected (unknown symbol: 404). ` +
      'Resume with the Last-Event-ID header (or lastEventId): the events kept since are sent first; an event ' +
      '"gap" says which topics lost events (reason window, restarted or unknown-id). A client that reads too ' +
      `slowly gets an event "lagging" past ${LAGGING_BYTES / 1024} KiB unsent and is disconnected past ` +
      `${MAX_UNSENT_BYTES / 1024} KiB. A WebSocket upgrade of /events takes the same query and sends each ` +
      'event as one JSON text message, notices as {type: "gap" | "lagging", ...}. REST only.',
  })
  @ApiExtension('x-rest-only', true)
  @ApiQuery({ name: 'topics', required: false, schema: queryParameters.topics ?? { type: 'string' } })
  @ApiQuery({ name: 'symbols', required: false, schema: queryParameters.symbols ?? { type: 'string' } })
  @ApiQuery({ name: 'conIds', required: false, schema: queryParameters.conIds ?? { type: 'string' } })
  @ApiQuery({ name: 'accounts', required: false, schema: queryParameters.accounts ?? { type: 'string' } })
  @ApiQuery({ name: 'gateway', required: false, schema: queryParameters.gateway ?? { type: 'string' } })
  @ApiQuery({
    name: 'marketDataType',
    required: false,
    schema: queryParameters.marketDataType ?? { type: 'string' },
  })
  @ApiQuery({
    name: 'lastEventId',
    required: false,
    schema: queryParameters.lastEventId ?? { type: 'string' },
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description:
      'Events named by their topic (data: the event as JSON: id, topic, type, at, gateway, symbol, account, ' +
      'data), and the notices "gap" and "lagging", until the client leaves',
    content: {
      'text/event-stream': {
        schema: {
          oneOf: [
            ...EVENT_TOPICS.map((topic) => toOpenApiSchema(liveEventSchema(topic), 'output')),
            toOpenApiSchema(GapNotice, 'output'),
            toOpenApiSchema(LaggingNotice, 'output'),
          ],
        },
      },
    },
  })
  async stream(@Req() request: Request, @Res() response: Response): Promise<void> {
    const level = this.tokens.levelOfRequest(request) ?? 'read-only';
    const header = request.headers['last-event-id'];
    // Errors up to here (bad query 400, topic not allowed 403, unknown symbol 404) are answered as JSON.
    const prepared = await this.streams.prepare(
      request.query,
      level,
      typeof header === 'string' ? header : undefined,
    );
    if (request.socket.destroyed) {
      prepared.feed?.close(); // the client left while the streams opened
      return;
    }
    response.status(200).set({
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    response.flushHeaders();
    request.socket.setNoDelay(true);
    const session = this.streams.attach(prepared, new SseSink(response, this.hub));
    response.on('close', () => session.close());
  }
}
