import { Inject, Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { CLOCK, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import {
  ContractsRepository,
  type ContractDetailsView,
  type ContractSpec,
  type ContractView,
  type QualifiedContract,
} from './contracts.repository';
import {
  ContractSchema,
  SYMBOL_OR_CONID_REQUIRED,
  type ContractCandidateSchema,
  type ContractDetailsResult,
  type ContractQuery,
  type OptionChainResult,
  type OptionContractsInput,
  type OptionContractsResult,
  type SearchContractsInput,
  type SearchContractsResult,
} from './contracts.schemas';

export type { ContractDetailsView, IbContract, QualifiedContract } from './contracts.repository';

/** Qualified contracts do not change; derivatives expire, so entries are refreshed after a while. */
const CACHE_TTL_MS = 6 * 60 * 60 * 1000;
/** Candidates named in an ambiguity error's message (all of them, up to the cap, are in its details). */
const CANDIDATES_IN_MESSAGE = 10;
const MAX_CANDIDATES = 100;
const CURRENCY_PAIR = /^([A-Za-z]{3})\.([A-Za-z]{3})$/;
/** The fields of a contract (without its details), in the order the API reports them. */
const CONTRACT_FIELDS = Object.keys(ContractSchema.shape) as (keyof ContractView)[];

type Candidate = z.infer<typeof ContractCandidateSchema>;

/** A contract query with its defaults applied: what is asked of IB and how errors name it. */
interface NormalizedQuery {
  spec: ContractSpec;
  /** "AAPL (STK on SMART in USD)" or "conId 265598". */
  label: string;
  /** "symbol AAPL (STK on SMART in USD)" or "conId 265598": the subject of a NOT_FOUND message. */
  subject: string;
  cacheKey: string;
}

interface CacheEntry {
  expires: number;
  contract: Promise<QualifiedContract>;
  resolved?: QualifiedContract;
}

/**
 * Turns what callers name (symbol or conId, with defaults) into IB's qualified contracts. Every feature
 * that needs a contract (quotes, bars, orders, option chains) resolves it here, so unknown and ambiguous
 * contracts are reported the same way everywhere.
 */
@Injectable()
export class ContractsService {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly repository: ContractsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * The one contract a query names. NOT_FOUND when none matches (naming the symbol), CONFLICT when several
   * do (listing them, so the caller can pick a conId). Cached per query; concurrent calls share a request.
   */
  async resolveContract(query: ContractQuery): Promise<QualifiedContract> {
    const normalized = normalizeQuery(query);
    const now = this.clock.now();
    const cached = this.cache.get(normalized.cacheKey);
    if (cached && cached.expires > now) return cached.contract;
    const contract = this.qualify(normalized);
    const entry: CacheEntry = { expires: now + CACHE_TTL_MS, contract };
    this.cache.set(normalized.cacheKey, entry);
    contract.then(
      (qualified) => {
        entry.resolved = qualified;
        // The same contract by its conId needs no second round trip.
        const byConId = normalizeQuery({ conId: qualified.contract.conId });
        if (!this.cache.has(byConId.cacheKey)) {
          this.cache.set(byConId.cacheKey, { ...entry });
        }
      },
      () => this.cache.delete(normalized.cacheKey),
    );
    return contract;
  }

  /**
   * The contract a query names if an earlier resolveContract already qualified it, without waiting; undefined
   * when it is not known yet (or the query is invalid: resolveContract says why).
   */
  resolvedContract(query: ContractQuery): QualifiedContract | undefined {
    let cacheKey: string;
    try {
      cacheKey = normalizeQuery(query).cacheKey;
    } catch {
      return undefined;
    }
    const cached = this.cache.get(cacheKey);
    return cached && cached.expires > this.clock.now() ? cached.resolved : undefined;
  }

  /** Contract details for a query: the contract when unique, the candidates when ambiguous. */
  async contractDetails(query: ContractQuery): Promise<z.infer<typeof ContractDetailsResult>> {
    const normalized = normalizeQuery(query);
    const matches = await this.findContracts(normalized);
    const [only] = matches;
    if (only && matches.length === 1) {
      return { match: 'unique', query: normalized.label, contract: only.details };
    }
    return {
      match: 'ambiguous',
      query: normalized.label,
      candidates: matches.slice(0, MAX_CANDIDATES).map(({ details }) => toCandidate(details)),
      totalCandidates: matches.length,
    };
  }

  /** IB's symbol search (reqMatchingSymbols): symbols and company names starting with the pattern. */
  async searchContracts(
    input: z.infer<typeof SearchContractsInput>,
  ): Promise<z.infer<typeof SearchContractsResult>> {
    const found = await this.repository.matchingSymbols(input.pattern);
    const matches = found.filter(
      (match) => match.conId !== 0 && (input.secType === undefined || match.secType === input.secType),
    );
    return { matches };
  }

  /** The option chain's expirations and strikes of an underlying, per exchange (reqSecDefOptParams). */
  async optionChain(query: ContractQuery): Promise<z.infer<typeof OptionChainResult>> {
    const underlying = await this.resolveContract(query);
    const parameters = await this.repository.optionChains(underlying.contract);
    const chains = parameters
      .map((chain) => ({
        exchange: chain.exchange,
        tradingClass: chain.tradingClass,
        multiplier: chain.multiplier,
        expirations: [...chain.expirations].sort(),
        strikes: [...chain.strikes].sort((a, b) => a - b),
      }))
      .sort((a, b) => a.exchange.localeCompare(b.exchange) || a.tradingClass.localeCompare(b.tradingClass));
    return { underlying: contractOf(underlying.details), chains };
  }

  /** The option contracts of an underlying for one expiry (or month), optionally one right and strike range. */
  async optionContracts(
    input: z.infer<typeof OptionContractsInput>,
  ): Promise<z.infer<typeof OptionContractsResult>> {
    const underlying = await this.resolveContract({
      ...(input.symbol === undefined ? {} : { symbol: input.symbol }),
      ...(input.conId === undefined ? {} : { conId: input.conId }),
      ...(input.secType === undefined ? {} : { secType: input.secType }),
      ...(input.currency === undefined ? {} : { currency: input.currency }),
    });
    const symbol = underlying.details.symbol;
    const secType = underlying.details.secType === 'FUT' ? 'FOP' : 'OPT';
    const optionQuery: ContractSpec = {
      symbol,
      secType,
      exchange: input.exchange ?? (secType === 'OPT' ? 'SMART' : (underlying.contract.exchange ?? '')),
      currency: underlying.contract.currency ?? 'USD',
      expiry: input.expiry,
      ...(input.right === undefined ? {} : { right: input.right }),
    };
    // No options for the filters is an empty answer here (the repository's "none"), not an error.
    const all = await this.repository.contracts(optionQuery, `option contracts of ${symbol}`);
    const inRange = all
      .map(({ details }) => details)
      .filter((details) => {
        const strike = details.strike ?? 0;
        return (
          (input.strikeMin === undefined || strike >= input.strikeMin) &&
          (input.strikeMax === undefined || strike <= input.strikeMax)
        );
      });
    const kept = nearestToMiddleStrike(inRange, input.limit).sort(byExpiryStrikeRight);
    return {
      underlying: contractOf(underlying.details),
      contracts: kept,
      total: inRange.length,
      truncated: kept.length < inRange.length,
    };
  }

  private async qualify(query: NormalizedQuery): Promise<QualifiedContract> {
    const matches = await this.findContracts(query);
    const [only] = matches;
    if (only && matches.length === 1 && only.contract.conId) return only;
    const candidates = matches.slice(0, MAX_CANDIDATES).map(({ details }) => toCandidate(details));
    const named = candidates
      .slice(0, CANDIDATES_IN_MESSAGE)
      .map((candidate) => `${candidate.conId} (${describeCandidate(candidate)})`)
      .join('; ');
    const more =
      matches.length > CANDIDATES_IN_MESSAGE ? `; and ${matches.length - CANDIDATES_IN_MESSAGE} more` : '';
    throw new DomainError(
      'CONFLICT',
      `${matches.length} contracts match ${query.subject}; name one by conId: ${named}${more}`,
      { candidates, totalCandidates: matches.length },
    );
  }

  /** Every contract IB lists for the query; NOT_FOUND naming the query when there is none. */
  private async findContracts(query: NormalizedQuery): Promise<QualifiedContract[]> {
    const matches = await this.repository.contracts(query.spec, `contract details of ${query.label}`);
    if (matches.length === 0) throw new DomainError('NOT_FOUND', `No contract found for ${query.subject}`);
    return matches;
  }
}

/** Applies the defaults: STK (CASH for "EUR.USD"), SMART (IDEALPRO for CASH), USD. */
export function normalizeQuery(query: ContractQuery): NormalizedQuery {
  if (query.conId !== undefined) {
    const spec: ContractSpec = {
      conId: query.conId,
      ...(query.exchange ? { exchange: query.exchange } : {}),
    };
    const label = `conId ${query.conId}${query.exchange ? ` on ${query.exchange.toUpperCase()}` : ''}`;
    return { spec, label, subject: label, cacheKey: `conId|${query.conId}|${query.exchange ?? ''}` };
  }
  if (query.symbol === undefined) {
    throw new DomainError('INVALID_INPUT', `Invalid parameters: [symbol]: ${SYMBOL_OR_CONID_REQUIRED}`);
  }
  const pair = CURRENCY_PAIR.exec(query.symbol);
  const secType: string = query.secType ?? (pair ? 'CASH' : 'STK');
  let symbol = query.symbol.toUpperCase();
  let currency = query.currency?.toUpperCase();
  if (secType === 'CASH' && pair) {
    symbol = (pair[1] ?? '').toUpperCase();
    const quoteCurrency = (pair[2] ?? '').toUpperCase();
    if (currency !== undefined && currency !== quoteCurrency) {
      throw new DomainError(
        'INVALID_INPUT',
        `Invalid parameters: [currency]: ${currency} contradicts the pair ${query.symbol.toUpperCase()}`,
      );
    }
    currency = quoteCurrency;
  }
  currency ??= 'USD';
  const exchange = query.exchange?.toUpperCase() ?? defaultExchange(secType);
  const spec: ContractSpec = {
    symbol,
    secType,
    currency,
    ...(exchange === undefined ? {} : { exchange }),
    ...(query.expiry === undefined ? {} : { expiry: query.expiry }),
    ...(query.strike === undefined ? {} : { strike: query.strike }),
    ...(query.right === undefined ? {} : { right: query.right }),
  };
  const terms = [query.expiry, query.strike, query.right].filter((term) => term !== undefined).join(' ');
  const shownSymbol = secType === 'CASH' ? `${symbol}.${currency}` : symbol;
  const label = `${shownSymbol}${terms ? ` ${terms}` : ''} (${secType} on ${exchange ?? 'any exchange'} in ${currency})`;
  return {
    spec,
    label,
    subject: `symbol ${label}`,
    cacheKey: ['symbol', symbol, secType, exchange, currency, query.expiry, query.strike, query.right].join(
      '|',
    ),
  };
}

function defaultExchange(secType: string): string | undefined {
  if (secType === 'CASH') return 'IDEALPRO';
  if (secType === 'STK' || secType === 'OPT') return 'SMART';
  return undefined;
}

/** The contract of a contract's details, without the details. */
function contractOf(details: ContractDetailsView): ContractView {
  const contract: Partial<Record<keyof ContractView, unknown>> = {};
  for (const field of CONTRACT_FIELDS) {
    if (details[field] !== undefined) contract[field] = details[field];
  }
  return contract as ContractView;
}

function toCandidate(details: ContractDetailsView): Candidate {
  const terms = [details.expiry, details.strike, details.right].filter((term) => term !== undefined);
  const name = details.longName ?? details.symbol;
  return {
    conId: details.conId,
    secType: details.secType,
    symbol: details.symbol,
    exchange: details.exchange,
    ...(details.primaryExchange ? { primaryExchange: details.primaryExchange } : {}),
    currency: details.currency,
    description: terms.length > 0 ? `${name} ${terms.join(' ')}` : name,
  };
}

function describeCandidate(candidate: Candidate): string {
  const listing =
    candidate.primaryExchange && candidate.primaryExchange !== candidate.exchange
      ? `/${candidate.primaryExchange}`
      : '';
  return `${candidate.secType} on ${candidate.exchange}${listing} in ${candidate.currency}: ${candidate.description}`;
}

function byExpiryStrikeRight(a: ContractDetailsView, b: ContractDetailsView): number {
  return (
    (a.expiry ?? '').localeCompare(b.expiry ?? '') ||
    (a.strike ?? 0) - (b.strike ?? 0) ||
    (a.right ?? '').localeCompare(b.right ?? '')
  );
}

/** Bounds a chain to `limit` contracts around its middle strike, where the interesting strikes usually are. */
function nearestToMiddleStrike(contracts: ContractDetailsView[], limit: number): ContractDetailsView[] {
  if (contracts.length <= limit) return [...contracts];
  const strikes = [...new Set(contracts.map((details) => details.strike ?? 0))].sort((a, b) => a - b);
  const middle = strikes[Math.floor(strikes.length / 2)] ?? 0;
  return [...contracts]
    .sort(
      (a, b) =>
        Math.abs((a.strike ?? 0) - middle) - Math.abs((b.strike ?? 0) - middle) || byExpiryStrikeRight(a, b),
    )
    .slice(0, limit);
}
