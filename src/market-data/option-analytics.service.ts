import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock, type ClockTimer } from '../common/clock';
import { DomainError } from '../common/domain-error';
import type { ContractQuery } from '../contracts/contracts.schemas';
import { ContractsService, type QualifiedContract } from '../contracts/contracts.service';
import { MarketDataStreams, type StreamLease } from './market-data-streams';
import type { TickUpdate } from './market-data.repository';
import type { MarketDataTypeName } from './market-data.schemas';
import { MarketDataService, subjectOf } from './market-data.service';
import { OptionAnalyticsRepository, type OptionCalculationKind } from './option-analytics.repository';
import {
  MAX_CHAIN_QUOTES,
  type CalculateImpliedVolatilityInput,
  type CalculateOptionPriceInput,
  type GetOptionChainQuotesInput,
  type GetOptionQuoteInput,
  type OptionCalculation,
  type OptionChainQuotes,
  type OptionQuote,
} from './option-quotes.schemas';

/** A short-lived stream waits this long after its first values for the rest (greeks, open interest). */
const SETTLE_MS = 1_500;
/** And gives up on a stream that sends nothing at all after this (IB's own snapshot timeout). */
const VALUES_TIMEOUT_MS = 11_000;
/** Short-lived option streams open at once: a chain never takes more of IB's market data lines. */
export const MAX_CONCURRENT_OPTION_STREAMS = 10;
/** Strikes around the money when a chain request names neither a range nor a count. */
const DEFAULT_STRIKES = 5;

/**
 * Option quotes with IB's greeks, a chain of them, and IB's option calculators. Quotes come from a live
 * stream of this service when one exists, else from a short-lived stream (IB sends option computations,
 * open interest and option volume on streams, never on snapshots with generic ticks) opened through the
 * shared MarketDataStreams and paced by MarketDataService's message budget.
 */
@Injectable()
export class OptionAnalyticsService {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly contracts: ContractsService,
    private readonly marketData: MarketDataService,
    private readonly streams: MarketDataStreams,
    private readonly repository: OptionAnalyticsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async getOptionQuote(input: GetOptionQuoteInput): Promise<OptionQuote> {
    const option = await this.resolveOption(input);
    return this.quote(option, input.marketDataType);
  }

  async getOptionChainQuotes(input: GetOptionChainQuotesInput): Promise<OptionChainQuotes> {
    const underlyingQuery: ContractQuery =
      input.conId === undefined ? { symbol: input.symbol } : { conId: input.conId };
    const chain = await this.contracts.optionChain(underlyingQuery);
    const listed = chain.chains.find((entry) => entry.exchange === 'SMART') ?? chain.chains[0];
    const symbol = chain.underlying.symbol;
    if (!listed) throw new DomainError('NOT_FOUND', `IB lists no options on ${symbol}`);
    // IB lists live expirations only (ascending): the gateway's calendar, not this host's, decides.
    const upcoming = listed.expirations;
    let expirations: string[];
    if (input.expiry === undefined) {
      expirations = upcoming.slice(0, input.expiries);
    } else if (listed.expirations.includes(input.expiry)) {
      expirations = [input.expiry];
    } else {
      throw new DomainError(
        'NOT_FOUND',
        `${symbol} has no options expiring ${input.expiry}; its next expirations: ${upcoming.slice(0, 8).join(', ')}`,
      );
    }
    const ranged = input.strikeMin !== undefined || input.strikeMax !== undefined;
    let underlyingPrice: number | null = null;
    let strikes: number[];
    if (ranged) {
      strikes = listed.strikes.filter(
        (strike) =>
          (input.strikeMin === undefined || strike >= input.strikeMin) &&
          (input.strikeMax === undefined || strike <= input.strikeMax),
      );
    } else {
      const quote = await this.marketData.getQuote({
        ...underlyingQuery,
        marketDataType: input.marketDataType,
      });
      underlyingPrice =
        quote.bid !== null && quote.ask !== null ? (quote.bid + quote.ask) / 2 : (quote.last ?? quote.close);
      if (underlyingPrice === null) {
        throw new DomainError('IB_TIMEOUT', `IB sent no price for ${symbol} to centre the strikes on`);
      }
      const centre = underlyingPrice;
      strikes = [...listed.strikes]
        .sort((a, b) => Math.abs(a - centre) - Math.abs(b - centre))
        .slice(0, input.strikes ?? DEFAULT_STRIKES)
        .sort((a, b) => a - b);
    }
    const rights: ('C' | 'P')[] = input.right === 'both' ? ['C', 'P'] : [input.right];
    const count = expirations.length * strikes.length * rights.length;
    if (count > MAX_CHAIN_QUOTES) {
      throw new DomainError(
        'INVALID_INPUT',
        `The request names ${count} options (${expirations.length} expirations × ${strikes.length} strikes × ` +
          `${rights.length} rights); at most ${MAX_CHAIN_QUOTES} per call keep IB's market data lines and ` +
          'message rate free: narrow the strike range, the strike count, the expirations or the right',
      );
    }
    const terms = expirations.flatMap((expiry) =>
      strikes.flatMap((strike) => rights.map((right) => ({ expiry, strike, right }))),
    );
    const rows = await Promise.all(
      terms.map(async (term) =>
        this.limited(async () => {
          let option: QualifiedContract;
          try {
            option = await this.contracts.resolveContract({
              symbol,
              secType: 'OPT',
              exchange: listed.exchange,
              currency: chain.underlying.currency,
              ...term,
            });
          } catch (error) {
            // A strike of the chain need not be listed for every expiry.
            if (error instanceof DomainError && error.code === 'NOT_FOUND') return undefined;
            throw error;
          }
          return this.quote(option, input.marketDataType);
        }),
      ),
    );
    const quotes = rows.filter((row): row is OptionQuote => row !== undefined);
    return {
      symbol,
      underlyingConId: chain.underlying.conId,
      underlyingPrice:
        underlyingPrice ?? quotes.find((quote) => quote.underlyingPrice !== null)?.underlyingPrice ?? null,
      expirations,
      quotes,
    };
  }

  async calculateOptionPrice(input: CalculateOptionPriceInput): Promise<OptionCalculation> {
    return this.calculate('option-price', input, input.volatility, input.underlyingPrice);
  }

  async calculateImpliedVolatility(input: CalculateImpliedVolatilityInput): Promise<OptionCalculation> {
    return this.calculate('implied-volatility', input, input.optionPrice, input.underlyingPrice);
  }

  private async calculate(
    kind: OptionCalculationKind,
    input: GetOptionQuoteInput | CalculateOptionPriceInput | CalculateImpliedVolatilityInput,
    given: number,
    underlyingPrice: number,
  ): Promise<OptionCalculation> {
    const option = await this.resolveOption(input);
    await this.marketData.paceMessages(2); // the request and its cancel
    const subject = subjectOf(option.contract);
    const values = await this.repository.calculate(kind, option.contract, given, underlyingPrice, subject);
    return {
      symbol: option.contract.symbol ?? '',
      conId: option.contract.conId ?? 0,
      localSymbol: option.contract.localSymbol ?? '',
      ...values,
    };
  }

  /** The option an input names; an expired one is NOT_FOUND saying so, a non-option INVALID_INPUT. */
  private async resolveOption(input: {
    conId?: number;
    symbol?: string;
    expiry?: string;
    strike?: number;
    right?: 'C' | 'P';
    exchange?: string;
    currency?: string;
  }): Promise<QualifiedContract> {
    const query: ContractQuery =
      input.conId === undefined
        ? {
            symbol: input.symbol,
            secType: 'OPT',
            expiry: input.expiry,
            strike: input.strike,
            right: input.right,
            ...(input.exchange === undefined ? {} : { exchange: input.exchange }),
            ...(input.currency === undefined ? {} : { currency: input.currency }),
          }
        : { conId: input.conId };
    let option: QualifiedContract;
    try {
      option = await this.contracts.resolveContract(query);
    } catch (error) {
      if (
        error instanceof DomainError &&
        error.code === 'NOT_FOUND' &&
        input.expiry !== undefined &&
        input.expiry < this.newYorkDate()
      ) {
        throw new DomainError(
          'NOT_FOUND',
          `The ${input.symbol ?? ''} ${input.expiry} ${input.right ?? ''} ${input.strike ?? ''} option expired on ` +
            `${input.expiry.slice(0, 4)}-${input.expiry.slice(4, 6)}-${input.expiry.slice(6, 8)}: IB quotes and ` +
            'calculates live options only',
          { ...error.details, reason: 'OPTION_EXPIRED' },
        );
      }
      throw error;
    }
    const secType = String(option.contract.secType ?? '');
    if (secType !== 'OPT' && secType !== 'FOP') {
      throw new DomainError(
        'INVALID_INPUT',
        `conId ${option.contract.conId ?? ''} is a ${secType} (${option.contract.symbol ?? ''}), not an option`,
      );
    }
    return option;
  }

  /** The option's quote from a live stream with everything, else from a short-lived stream of its own. */
  private async quote(option: QualifiedContract, type: MarketDataTypeName): Promise<OptionQuote> {
    const conId = option.contract.conId ?? 0;
    const live = this.streams.latestUpdate(conId, type);
    if (live && complete(live)) return optionQuoteOf(option, live, 'stream', this.clock);
    if (!live) await this.marketData.paceMessages((type === 'real-time' ? 1 : 3) + 1); // request, cancel
    const lease = this.streams.open(option.contract, type);
    try {
      const update = await this.settledValues(lease, subjectOf(option.contract));
      return optionQuoteOf(option, update, live ? 'stream' : 'short-lived stream', this.clock);
    } finally {
      lease.release();
    }
  }

  /** The stream's values once complete, or SETTLE_MS after the first values, whichever comes first. */
  private async settledValues(lease: StreamLease, subject: string): Promise<TickUpdate> {
    return new Promise<TickUpdate>((resolve, reject) => {
      let latest: TickUpdate | undefined;
      let settle: ClockTimer | undefined;
      let finished = false;
      const finish = (error?: unknown): void => {
        if (finished) return;
        finished = true;
        this.clock.clearTimeout(settle);
        this.clock.clearTimeout(overall);
        holder.subscription?.unsubscribe();
        if (error !== undefined)
          reject(error instanceof Error ? error : new Error('the market data stream failed'));
        else if (latest) resolve(latest);
        else
          reject(
            new DomainError(
              'IB_TIMEOUT',
              `IB sent no market data for ${subject} within ${VALUES_TIMEOUT_MS / 1000} s`,
            ),
          );
      };
      const overall = this.clock.setTimeout(() => finish(), VALUES_TIMEOUT_MS);
      const holder: { subscription?: { unsubscribe(): void } } = {};
      const subscription = lease.updates.subscribe({
        next: (update) => {
          if (!update.hasQuoteValues && !update.option?.computations.model) return;
          latest = update;
          if (complete(update)) finish();
          else settle ??= this.clock.setTimeout(() => finish(), SETTLE_MS);
        },
        error: (error: unknown) => finish(error ?? new Error('stream failed')),
        complete: () => finish(),
      });
      holder.subscription = subscription;
      if (finished) subscription.unsubscribe();
    });
  }

  /** Runs `work` when fewer than MAX_CONCURRENT_OPTION_STREAMS others run. */
  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= MAX_CONCURRENT_OPTION_STREAMS) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Today in New York as YYYYMMDD: US options expire by that calendar. */
  private newYorkDate(): string {
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'America/New_York',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(new Date(this.clock.now()));
    return parts.replaceAll('-', '');
  }
}

/** Everything an option quote shows has arrived: prices, the model's computation and the open interest. */
function complete(update: TickUpdate): boolean {
  return (
    update.hasQuoteValues && update.option?.computations.model != null && update.option.openInterest !== null
  );
}

function optionQuoteOf(
  option: QualifiedContract,
  update: TickUpdate,
  source: OptionQuote['source'],
  clock: Clock,
): OptionQuote {
  const { contract, details } = option;
  const values = update.values;
  const analytics = update.option;
  const computations = analytics?.computations ?? { bid: null, ask: null, last: null, model: null };
  const multiplier = Number(contract.multiplier ?? details.multiplier);
  return {
    symbol: contract.symbol ?? '',
    conId: contract.conId ?? 0,
    localSymbol: contract.localSymbol ?? '',
    expiry: details.expiry ?? contract.lastTradeDateOrContractMonth ?? '',
    strike: contract.strike ?? details.strike ?? 0,
    right: String(contract.right ?? details.right) === 'P' ? 'P' : 'C',
    multiplier: Number.isFinite(multiplier) && multiplier > 0 ? multiplier : null,
    exchange: contract.exchange ?? '',
    currency: contract.currency ?? '',
    dataType: update.reportedType ?? (update.delayed ? 'delayed' : 'real-time'),
    source,
    bid: values.bid,
    ask: values.ask,
    last: values.last,
    model: computations.model?.optionPrice ?? null,
    bidSize: values.bidSize,
    askSize: values.askSize,
    underlyingPrice: analytics?.underlyingPrice ?? null,
    computations,
    optionVolume: analytics?.optionVolume ?? values.volume,
    openInterest: analytics?.openInterest ?? null,
    timestamp: new Date(update.receivedAt > 0 ? update.receivedAt : clock.now()).toISOString(),
  };
}
