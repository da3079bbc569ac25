import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { CLOCK, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import {
  HistoricalDataPacer,
  IB_HISTORICAL_DATA_LIMITS,
  RequestRateGate,
  SingleFlight,
} from '../common/pacing';
import type { ContractQuery } from '../contracts/contracts.schemas';
import { ContractsService, type IbContract } from '../contracts/contracts.service';
import { MarketDataStreams, type StreamLease } from './market-data-streams';
import { MarketDataRepository } from './market-data.repository';
import {
  listOf,
  type GetHeadTimestampInput,
  type GetHistogramInput,
  type GetHistoricalBarsInput,
  type GetHistoricalTicksInput,
  type GetQuoteInput,
  type HeadTimestamp,
  type Histogram,
  type HistoricalBars,
  type HistoricalTicks,
  type MarketDataTypeName,
  type Quote,
  type StreamQuotesInput,
} from './market-data.schemas';
import { quoteFromTicks } from './quote-ticks';

/**
 * Messages per second this module sends for quotes and new streams. @stoqey/ib caps the whole session at
 * 40 (IB allows 50); staying below leaves room for the other modules, and a request waits here, untimed,
 * instead of in the library's queue, where its IB timeout would already run.
 */
export const MARKET_DATA_MESSAGES_PER_SECOND = 30;
/** A request whose turn is further away is refused with RATE_LIMITED rather than queued. */
export const MAX_PACING_WAIT_MS = 10_000;
/** How long opening a quote stream waits for the first quote, to answer a refusal (e.g. 354) as an error. */
const FIRST_QUOTE_WAIT_MS = 5_000;
/** A contract's earliest data does not move: its head timestamp is asked of IB once an hour at most. */
const HEAD_TIMESTAMP_TTL_MS = 3_600_000;

/** The streams of one SSE client, and the contracts they are for. */
export interface QuoteFeed {
  streams: { contract: IbContract; lease: StreamLease }[];
  /** Gives every stream back; safe to call more than once. */
  close(): void;
}

/**
 * Quotes, historical bars and quote streams, inside IB's pacing: identical concurrent requests share one
 * IB request, a quote for a contract that streams comes from the stream, and IB's historical data rules
 * hold whatever the callers do.
 */
@Injectable()
export class MarketDataService {
  private readonly snapshots = new SingleFlight<Quote>();
  private readonly barRequests = new SingleFlight<HistoricalBars>();
  /** IB refuses an identical historical request within 15 s; the answer of the first one still holds. */
  private readonly recentBars = new LRUCache<string, HistoricalBars>({
    max: 500,
    ttl: IB_HISTORICAL_DATA_LIMITS.identicalWindowMs,
  });
  /** Head timestamps, histograms and ticks: each one IB request at a time, and answers kept like bars'. */
  private readonly queries = new SingleFlight<HeadTimestamp | Histogram | HistoricalTicks>();
  private readonly recentQueries = new LRUCache<string, HeadTimestamp | Histogram | HistoricalTicks>({
    max: 500,
    ttl: IB_HISTORICAL_DATA_LIMITS.identicalWindowMs,
  });
  private readonly historicalPacer: HistoricalDataPacer;
  private readonly messageGate: RequestRateGate;

  constructor(
    private readonly contracts: ContractsService,
    private readonly repository: MarketDataRepository,
    private readonly streams: MarketDataStreams,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.historicalPacer = new HistoricalDataPacer(MAX_PACING_WAIT_MS, clock);
    this.messageGate = new RequestRateGate(
      'market data',
      MARKET_DATA_MESSAGES_PER_SECOND,
      MAX_PACING_WAIT_MS,
      clock,
    );
  }

  /**
   * The quote of a contract this service streams and has already resolved, at once (no IB request, no
   * waiting); undefined otherwise, when getQuote has to do the work.
   */
  streamedQuote(input: GetQuoteInput): Quote | undefined {
    const { marketDataType, ...query } = input;
    const qualified = this.contracts.resolvedContract(query);
    return qualified && this.streams.latestQuote(qualified.contract.conId, marketDataType);
  }

  async getQuote(input: GetQuoteInput): Promise<Quote> {
    const { marketDataType, ...query } = input;
    const { contract } = await this.contracts.resolveContract(query);
    const live = this.streams.latestQuote(contract.conId, marketDataType);
    if (live) return live;
    return this.snapshots.run(`${contract.conId}:${marketDataType}`, async () => {
      await this.messageGate.take(messagesFor(marketDataType));
      const subject = subjectOf(contract);
      const update = await this.repository.snapshot(contract, marketDataType, subject);
      if (!update?.hasQuoteValues) {
        throw new DomainError(
          'IB_TIMEOUT',
          `IB ended the quote for ${subject} without any values: no market data arrived from its data farm`,
        );
      }
      return quoteFromTicks(update, contract, 'snapshot', this.clock);
    });
  }

  /**
   * Waits for the turn of `messages` market data messages in this gateway's one budget (quotes, streams,
   * option analytics share it), or throws RATE_LIMITED when it is too far away.
   */
  async paceMessages(messages: number): Promise<void> {
    await this.messageGate.take(messages);
  }

  async getHistoricalBars(input: GetHistoricalBarsInput): Promise<HistoricalBars> {
    const { duration, barSize, whatToShow, regularHoursOnly, end, ...query } = input;
    const { contract } = await this.contracts.resolveContract(query);
    // Two requests are identical to IB when they end in the same second.
    const endSecond = end === undefined ? '' : Math.floor(Date.parse(end) / 1000);
    const identity = [
      contract.conId,
      contract.exchange,
      endSecond,
      duration,
      barSize,
      whatToShow,
      regularHoursOnly,
    ].join('|');
    const recent = this.recentBars.get(identity);
    if (recent) return recent;
    return this.barRequests.run(identity, async () => {
      await this.historicalPacer.admit({
        identity,
        scope: [contract.conId, contract.exchange, whatToShow].join('|'),
        weight: whatToShow === 'BID_ASK' ? 2 : 1,
      });
      const subject = subjectOf(contract);
      const bars = await this.repository.historicalBars(
        contract,
        { end, duration, barSize, whatToShow, regularHoursOnly },
        subject,
      );
      const result: HistoricalBars = {
        symbol: contract.symbol ?? subject,
        conId: contract.conId,
        duration,
        barSize,
        whatToShow,
        regularHoursOnly,
        bars,
      };
      this.recentBars.set(identity, result);
      return result;
    });
  }

  /** The earliest time IB has data of a kind for a contract (reqHeadTimestamp). */
  async getHeadTimestamp(input: GetHeadTimestampInput): Promise<HeadTimestamp> {
    const { whatToShow, regularHoursOnly, ...query } = input;
    const { contract } = await this.contracts.resolveContract(query);
    const identity = ['head', contract.conId, contract.exchange, whatToShow, regularHoursOnly].join('|');
    return this.historicalQuery(identity, whatToShow, HEAD_TIMESTAMP_TTL_MS, contract, async (subject) => {
      const head = await this.repository.headTimestamp(contract, whatToShow, regularHoursOnly, subject);
      return {
        symbol: contract.symbol ?? subject,
        conId: contract.conId,
        whatToShow,
        regularHoursOnly,
        headTimestamp: new Date(head).toISOString(),
      };
    });
  }

  /** Time & Sales (reqHistoricalTicks): trades, bid/ask quotes or midpoints from a start or before an end. */
  async getHistoricalTicks(input: GetHistoricalTicksInput): Promise<HistoricalTicks> {
    const { type, start, end, count, regularHoursOnly, ...query } = input;
    if (start !== undefined && end !== undefined) {
      throw new DomainError('INVALID_INPUT', 'Invalid parameters: give start or end, not both');
    }
    const { contract } = await this.contracts.resolveContract(query);
    // IB needs one of them: without a start, the ticks up to now.
    const until = start === undefined ? (end ?? new Date(this.clock.now()).toISOString()) : undefined;
    const second = (iso: string | undefined) => (iso === undefined ? '' : Math.floor(Date.parse(iso) / 1000));
    const identity = [
      'ticks',
      contract.conId,
      contract.exchange,
      second(start),
      second(until),
      count,
      type,
      regularHoursOnly,
    ].join('|');
    const ttl = IB_HISTORICAL_DATA_LIMITS.identicalWindowMs;
    return this.historicalQuery(identity, type, ttl, contract, async (subject) => ({
      symbol: contract.symbol ?? subject,
      conId: contract.conId,
      type,
      regularHoursOnly,
      ticks: await this.repository.historicalTicks(
        contract,
        { type, start, end: until, count, regularHoursOnly },
        subject,
      ),
    }));
  }

  /** How many trades printed at each price level over a period back from now (reqHistogramData). */
  async getHistogram(input: GetHistogramInput): Promise<Histogram> {
    const { period, regularHoursOnly, ...query } = input;
    const { contract } = await this.contracts.resolveContract(query);
    const identity = ['histogram', contract.conId, contract.exchange, period, regularHoursOnly].join('|');
    const ttl = IB_HISTORICAL_DATA_LIMITS.identicalWindowMs;
    return this.historicalQuery(identity, 'TRADES', ttl, contract, async (subject) => ({
      symbol: contract.symbol ?? subject,
      conId: contract.conId,
      period,
      regularHoursOnly,
      buckets: await this.repository.histogram(contract, period, regularHoursOnly, subject),
    }));
  }

  /**
   * One historical request to IB inside its pacing (shared with the bars): an identical one running joins it,
   * one answered within `ttlMs` gets that answer again.
   */
  private async historicalQuery<T extends HeadTimestamp | Histogram | HistoricalTicks>(
    identity: string,
    whatToShow: string,
    ttlMs: number,
    contract: IbContract,
    ask: (subject: string) => Promise<T>,
  ): Promise<T> {
    const recent = this.recentQueries.get(identity);
    if (recent) return recent as T;
    const answer = await this.queries.run(identity, async () => {
      await this.historicalPacer.admit({
        identity,
        scope: [contract.conId, contract.exchange, whatToShow].join('|'),
        weight: whatToShow === 'BID_ASK' ? 2 : 1,
      });
      const result = await ask(subjectOf(contract));
      this.recentQueries.set(identity, result, { ttl: ttlMs });
      return result;
    });
    return answer as T;
  }

  /**
   * Opens the live streams of an SSE client: 404 for an unknown symbol, and an error instead of a silent
   * stream when IB refuses one (no subscription) within the first seconds.
   */
  async openQuoteFeed(input: StreamQuotesInput): Promise<QuoteFeed> {
    const queries: ContractQuery[] = [
      ...listOf(input.symbols).map((symbol) => ({ symbol })),
      ...listOf(input.conIds).map((conId) => ({ conId: Number(conId) })),
    ];
    const resolved = await Promise.all(queries.map(async (query) => this.contracts.resolveContract(query)));
    const contracts = [...new Map(resolved.map(({ contract }) => [contract.conId, contract])).values()];
    const streams: QuoteFeed['streams'] = [];
    const feed: QuoteFeed = {
      streams,
      close: () => {
        for (const { lease } of streams.splice(0)) lease.release();
      },
    };
    try {
      for (const contract of contracts) {
        if (!this.streams.latestQuote(contract.conId, input.marketDataType)) {
          await this.messageGate.take(messagesFor(input.marketDataType));
        }
        streams.push({ contract, lease: this.streams.open(contract, input.marketDataType) });
      }
      await Promise.all(streams.map(async ({ lease }) => lease.firstQuote(FIRST_QUOTE_WAIT_MS)));
    } catch (error) {
      feed.close();
      throw error;
    }
    return feed;
  }
}

/** A request of another type than real-time sets the session's market data type before and after it. */
function messagesFor(type: MarketDataTypeName): number {
  return type === 'real-time' ? 1 : 3;
}

/** How messages name a contract: "AAPL", "EUR.USD", or an option's local symbol. */
export function subjectOf(contract: IbContract): string {
  const secType = String(contract.secType ?? '');
  if (secType === 'CASH') {
    return contract.localSymbol ?? `${contract.symbol ?? ''}.${contract.currency ?? ''}`;
  }
  const derivative = secType === 'OPT' || secType === 'FUT' || secType === 'FOP';
  return (derivative ? contract.localSymbol : undefined) ?? contract.symbol ?? `conId ${contract.conId}`;
}
