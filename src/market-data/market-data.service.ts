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
  type GetHistoricalBarsInput,
  type GetQuoteInput,
  type HistoricalBars,
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
