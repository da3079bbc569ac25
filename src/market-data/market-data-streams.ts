import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  firstValueFrom,
  of,
  ReplaySubject,
  Subject,
  timeout,
  type Observable,
  type Subscription,
} from 'rxjs';
import { CLOCK, dateOf, type Clock, type ClockTimer } from '../common/clock';
import type { IbContract } from '../contracts/contracts.service';
import { MarketDataRepository, type TickUpdate } from './market-data.repository';
import type { MarketDataTypeName, Quote } from './market-data.schemas';
import { quoteFromTicks } from './quote-ticks';

/** A live stream as the stale-data watchdog sees it. */
export interface LiveStreamInfo {
  key: string;
  symbol: string;
  conId?: number;
  /** When the last tick arrived; undefined until the first one. */
  lastTickAt: Date | undefined;
  marketDataType: MarketDataTypeName;
  /** How many holders (SSE clients, the watchdog, ...) share it. */
  holders: number;
}

/** One holder's share of a live stream. */
export interface StreamLease {
  readonly key: string;
  /** The latest quote at once (when there is one), then every update; errors when the stream fails for good. */
  readonly quotes: Observable<Quote>;
  /** The same as IB's values (an option's greeks too): the latest at once, then every update. */
  readonly updates: Observable<TickUpdate>;
  /** The first quote; undefined when none came within `timeoutMs`; rejects when the stream failed first. */
  firstQuote(timeoutMs: number): Promise<Quote | undefined>;
  /** Gives the share back; the last one cancels the IB subscription. Safe to call twice. */
  release(): void;
}

interface LiveStream {
  key: string;
  contract: IbContract;
  type: MarketDataTypeName;
  symbol: string;
  holders: number;
  quotes: ReplaySubject<Quote>;
  latest: Quote | undefined;
  updates: ReplaySubject<TickUpdate>;
  latestUpdate: TickUpdate | undefined;
  lastTickAt: Date | undefined;
  upstream: Subscription | undefined;
  /** The IB session the stream was requested on (opaque). */
  session: object | undefined;
  /** Failed re-requests in a row (reset by data). */
  retries: number;
  retryTimer: ClockTimer | undefined;
}

/** Re-requests of a stream that had data, before it is given up: after 1, 2, 4, 8 and 16 s. */
const MAX_RETRIES = 5;

/**
 * The live market data subscriptions the service holds for its clients: one IB subscription per contract
 * and market data type, shared by every holder, cancelled when the last one leaves. Streams are
 * re-requested on every (re)connection of the IB session, and on demand by the stale-data watchdog.
 */
@Injectable()
export class MarketDataStreams implements OnModuleDestroy {
  private readonly logger = new Logger(MarketDataStreams.name);
  private readonly live = new Map<string, LiveStream>();
  private readonly reconnections: Subscription;
  private readonly allQuotes = new Subject<Quote>();
  /** Every quote of every live stream, as it arrives (pushed to /events for the contracts streamed). */
  readonly quotes: Observable<Quote> = this.allQuotes.asObservable();

  constructor(
    private readonly repository: MarketDataRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.reconnections = repository.reconnected.subscribe(() => this.reconnect());
  }

  onModuleDestroy(): void {
    this.reconnections.unsubscribe();
    for (const stream of this.live.values()) this.close(stream);
    this.live.clear();
    this.allQuotes.complete();
  }

  /** The live client subscriptions, for the stale-data watchdog. */
  streams(): LiveStreamInfo[] {
    return [...this.live.values()].map((stream) => ({
      key: stream.key,
      symbol: stream.symbol,
      conId: stream.contract.conId,
      lastTickAt: stream.lastTickAt,
      marketDataType: stream.type,
      holders: stream.holders,
    }));
  }

  /** Cancels and re-requests every live stream; returns how many. */
  resubscribeAll(): number {
    for (const stream of this.live.values()) this.request(stream);
    return this.live.size;
  }

  /** Streams `contract` (a qualified contract: conId and exchange) for one more holder. */
  open(contract: IbContract, type: MarketDataTypeName): StreamLease {
    const key = streamKey(contract, type);
    let stream = this.live.get(key);
    if (!stream) {
      stream = {
        key,
        contract,
        type,
        symbol: contract.symbol ?? String(contract.conId),
        holders: 0,
        quotes: new ReplaySubject<Quote>(1),
        latest: undefined,
        updates: new ReplaySubject<TickUpdate>(1),
        latestUpdate: undefined,
        lastTickAt: undefined,
        upstream: undefined,
        session: undefined,
        retries: 0,
        retryTimer: undefined,
      };
      this.live.set(key, stream);
      this.request(stream);
    }
    stream.holders++;
    const opened = stream;
    let released = false;
    return {
      key,
      quotes: opened.quotes.asObservable(),
      updates: opened.updates.asObservable(),
      firstQuote: async (timeoutMs) =>
        firstValueFrom(opened.quotes.pipe(timeout({ first: timeoutMs, with: () => of(undefined) })), {
          defaultValue: undefined,
        }),
      release: () => {
        if (released) return;
        released = true;
        if (--opened.holders > 0 || this.live.get(key) !== opened) return;
        this.live.delete(key);
        this.close(opened);
      },
    };
  }

  /** The newest full quote of a live stream, if `contract` streams with `type`: no IB request needed. */
  latestQuote(conId: number, type: MarketDataTypeName): Quote | undefined {
    const latest = this.live.get(`${conId}:${type}`)?.latest;
    if (!latest || (latest.bid === null && latest.ask === null && latest.last === null)) return undefined;
    return latest;
  }

  /** The newest values of a live stream of `contract` with `type`, if one has any: no IB request needed. */
  latestUpdate(conId: number, type: MarketDataTypeName): TickUpdate | undefined {
    return this.live.get(`${conId}:${type}`)?.latestUpdate;
  }

  /**
   * On a new gateway session IBApiNext re-requests its streams by itself, at real-time (IB's default).
   * Streams of another type need their type set first, and streams of a replaced IBApiNext are gone: those
   * are requested again here.
   */
  private reconnect(): void {
    const session = this.repository.currentSession();
    let count = 0;
    for (const stream of this.live.values()) {
      if (stream.session === session && stream.type === 'real-time') continue;
      this.request(stream);
      count++;
    }
    if (count > 0) this.logger.log(`Re-requested ${count} market data stream(s) on the new IB session`);
  }

  /** (Re-)requests the stream from IB, dropping the previous request. */
  private request(stream: LiveStream): void {
    this.clock.clearTimeout(stream.retryTimer);
    stream.retryTimer = undefined;
    stream.upstream?.unsubscribe();
    stream.upstream = undefined;
    stream.session = this.repository.currentSession();
    const upstream = this.repository
      .marketData(stream.contract, stream.type, false, stream.symbol)
      .subscribe({
        next: (update) => this.receive(stream, update),
        error: (error: unknown) => this.fail(stream, error),
      });
    // A request refused at once (not connected) has already failed and must not be kept.
    if (!upstream.closed) stream.upstream = upstream;
  }

  private receive(stream: LiveStream, update: TickUpdate): void {
    stream.lastTickAt = dateOf(this.clock);
    stream.retries = 0;
    stream.latest = quoteFromTicks(update, stream.contract, 'stream', this.clock);
    stream.latestUpdate = update;
    stream.updates.next(update);
    stream.quotes.next(stream.latest);
    this.allQuotes.next(stream.latest);
  }

  /**
   * A stream that never had data fails for its holders (e.g. no subscription: they must hear it); one that
   * had data is re-requested with backoff (e.g. IB refused a re-request during a reconnect).
   */
  private fail(stream: LiveStream, error: unknown): void {
    stream.upstream = undefined;
    if (this.live.get(stream.key) !== stream) return;
    if (stream.lastTickAt === undefined || stream.retries >= MAX_RETRIES) {
      this.live.delete(stream.key);
      this.close(stream, error);
      return;
    }
    const delayMs = 1000 * 2 ** stream.retries++;
    this.logger.warn(
      `Market data stream ${stream.key} (${stream.symbol}) failed: ${error instanceof Error ? error.message : String(error)}; re-requesting in ${delayMs / 1000} s`,
    );
    stream.retryTimer = this.clock.setTimeout(() => this.request(stream), delayMs);
  }

  /** Ends the stream for its holders: completed, or failed with `error`. */
  private close(stream: LiveStream, error?: unknown): void {
    this.clock.clearTimeout(stream.retryTimer);
    stream.retryTimer = undefined;
    stream.upstream?.unsubscribe();
    stream.upstream = undefined;
    if (error === undefined) {
      stream.quotes.complete();
      stream.updates.complete();
    } else {
      stream.quotes.error(error);
      stream.updates.error(error);
    }
  }
}

function streamKey(contract: IbContract, type: MarketDataTypeName): string {
  return `${contract.conId}:${type}`;
}
