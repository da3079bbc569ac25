import { Injectable } from '@nestjs/common';
import { OptionType, SecType, type Contract, type ContractDetails } from '@stoqey/ib';
import type { z } from 'zod';
import { DomainError } from '../common/domain-error';
import { IbSession } from '../connection/ib-session.repository';
import {
  SYMBOL_OR_CONID_REQUIRED,
  type ContractCandidateSchema,
  type ContractDetailsResult,
  type ContractDetailsSchema,
  type ContractQuery,
  type ContractSchema,
  type OptionChainResult,
  type OptionContractsInput,
  type OptionContractsResult,
  type SearchContractsInput,
  type SearchContractsResult,
} from './contracts.schemas';

/** A contract IB has qualified: it carries its conId, and IB's details come with it. */
export interface QualifiedContract {
  contract: Contract & { conId: number };
  details: ContractDetails;
}

/** IB's "No security definition has been found for the request". */
const NO_SECURITY_DEFINITION = 200;
/** Qualified contracts do not change; derivatives expire, so entries are refreshed after a while. */
const CACHE_TTL_MS = 6 * 60 * 60 * 1000;
/** Candidates named in an ambiguity error's message (all of them, up to the cap, are in its details). */
const CANDIDATES_IN_MESSAGE = 10;
const MAX_CANDIDATES = 100;
const CURRENCY_PAIR = /^([A-Za-z]{3})\.([A-Za-z]{3})$/;

type Contract$ = z.infer<typeof ContractSchema>;
type ContractDetails$ = z.infer<typeof ContractDetailsSchema>;
type Candidate = z.infer<typeof ContractCandidateSchema>;

/** A contract query with its defaults applied: what is sent to IB and how errors name it. */
interface NormalizedQuery {
  contract: Contract;
  /** "AAPL (STK on SMART in USD)" or "conId 265598". */
  label: string;
  /** "symbol AAPL (STK on SMART in USD)" or "conId 265598": the subject of a NOT_FOUND message. */
  subject: string;
  cacheKey: string;
}

/**
 * Turns what callers name (symbol or conId, with defaults) into IB's qualified contracts. Every feature
 * that needs a contract (quotes, bars, orders, option chains) resolves it here, so unknown and ambiguous
 * contracts are reported the same way everywhere.
 */
@Injectable()
export class ContractsService {
  private readonly cache = new Map<
    string,
    { expires: number; contract: Promise<QualifiedContract>; resolved?: QualifiedContract }
  >();

  constructor(private readonly ib: IbSession) {}

  /**
   * The one contract a query names. NOT_FOUND when none matches (naming the symbol), CONFLICT when several
   * do (listing them, so the caller can pick a conId). Cached per query; concurrent calls share a request.
   */
  async resolveContract(query: ContractQuery): Promise<QualifiedContract> {
    const normalized = normalizeQuery(query);
    const cached = this.cache.get(normalized.cacheKey);
    if (cached && cached.expires > Date.now()) return cached.contract;
    const contract = this.qualify(normalized);
    const entry: { expires: number; contract: Promise<QualifiedContract>; resolved?: QualifiedContract } = {
      expires: Date.now() + CACHE_TTL_MS,
      contract,
    };
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
    return cached && cached.expires > Date.now() ? cached.resolved : undefined;
  }

  /** Contract details for a query: the contract when unique, the candidates when ambiguous. */
  async contractDetails(query: ContractQuery): Promise<z.infer<typeof ContractDetailsResult>> {
    const normalized = normalizeQuery(query);
    const matches = await this.findContracts(normalized);
    const [only] = matches;
    if (only && matches.length === 1) {
      return { match: 'unique', query: normalized.label, contract: toContractDetails(only) };
    }
    return {
      match: 'ambiguous',
      query: normalized.label,
      candidates: matches.slice(0, MAX_CANDIDATES).map(toCandidate),
      totalCandidates: matches.length,
    };
  }

  /** IB's symbol search (reqMatchingSymbols): symbols and company names starting with the pattern. */
  async searchContracts(
    input: z.infer<typeof SearchContractsInput>,
  ): Promise<z.infer<typeof SearchContractsResult>> {
    const descriptions = await this.ib.ibRequest('symbol search', async (ib) =>
      ib.getMatchingSymbols(input.pattern),
    );
    const matches = descriptions.flatMap(({ contract, derivativeSecTypes }) => {
      if (!contract?.conId || (input.secType !== undefined && String(contract.secType) !== input.secType))
        return [];
      return [
        {
          conId: contract.conId,
          secType: contract.secType ?? '',
          symbol: contract.symbol ?? '',
          exchange: contract.exchange ?? '',
          ...(contract.primaryExch ? { primaryExchange: contract.primaryExch } : {}),
          currency: contract.currency ?? '',
          description: contract.description ?? '',
          derivativeSecTypes: (derivativeSecTypes ?? []).map(String),
        },
      ];
    });
    return { matches };
  }

  /** The option chain's expirations and strikes of an underlying, per exchange (reqSecDefOptParams). */
  async optionChain(query: ContractQuery): Promise<z.infer<typeof OptionChainResult>> {
    const underlying = await this.resolveContract(query);
    const { contract } = underlying;
    const parameters = await this.ib.ibRequest(`option parameters of ${contract.symbol ?? ''}`, async (ib) =>
      ib.getSecDefOptParams(
        contract.symbol ?? '',
        // The exchange filter applies to futures options only; "" lists every exchange.
        contract.secType === SecType.FUT ? (contract.exchange ?? '') : '',
        contract.secType ?? SecType.STK,
        contract.conId,
      ),
    );
    const chains = parameters
      .map((chain) => ({
        exchange: chain.exchange,
        tradingClass: chain.tradingClass,
        multiplier: Number(chain.multiplier),
        expirations: [...chain.expirations].sort(),
        strikes: [...chain.strikes].sort((a, b) => a - b),
      }))
      .sort((a, b) => a.exchange.localeCompare(b.exchange) || a.tradingClass.localeCompare(b.tradingClass));
    return { underlying: toContract(underlying.details), chains };
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
    const symbol = underlying.contract.symbol ?? '';
    const secType = underlying.contract.secType === SecType.FUT ? SecType.FOP : SecType.OPT;
    const optionQuery: Contract = {
      symbol,
      secType,
      exchange: input.exchange ?? (secType === SecType.OPT ? 'SMART' : (underlying.contract.exchange ?? '')),
      currency: underlying.contract.currency ?? 'USD',
      lastTradeDateOrContractMonth: input.expiry,
      ...(input.right === undefined ? {} : { right: input.right === 'C' ? OptionType.Call : OptionType.Put }),
    };
    const all = await this.ib.ibRequest(`option contracts of ${symbol}`, async (ib) =>
      ib.getContractDetails(optionQuery).catch((error: unknown) => {
        // No options for the filters is an empty answer here, not an error.
        if ((error as { code?: number }).code === NO_SECURITY_DEFINITION) return [];
        throw error;
      }),
    );
    const inRange = all.filter((details) => {
      const strike = details.contract.strike ?? 0;
      return (
        (input.strikeMin === undefined || strike >= input.strikeMin) &&
        (input.strikeMax === undefined || strike <= input.strikeMax)
      );
    });
    const kept = nearestToMiddleStrike(inRange, input.limit).sort(byExpiryStrikeRight);
    return {
      underlying: toContract(underlying.details),
      contracts: kept.map(toContractDetails),
      total: inRange.length,
      truncated: kept.length < inRange.length,
    };
  }

  private async qualify(query: NormalizedQuery): Promise<QualifiedContract> {
    const matches = await this.findContracts(query);
    const [only] = matches;
    if (only && matches.length === 1 && only.contract.conId) {
      return { contract: { ...only.contract, conId: only.contract.conId }, details: only };
    }
    const candidates = matches.slice(0, MAX_CANDIDATES).map(toCandidate);
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
  private async findContracts(query: NormalizedQuery): Promise<ContractDetails[]> {
    let matches: ContractDetails[];
    try {
      matches = await this.ib.ibRequest(`contract details of ${query.label}`, async (ib) =>
        ib.getContractDetails(query.contract),
      );
    } catch (error) {
      if (error instanceof DomainError && error.details.ibCode === NO_SECURITY_DEFINITION) {
        throw notFound(query);
      }
      throw error;
    }
    if (matches.length === 0) throw notFound(query);
    return matches;
  }
}

function notFound(query: NormalizedQuery): DomainError {
  return new DomainError('NOT_FOUND', `No contract found for ${query.subject}`);
}

/** Applies the defaults: STK (CASH for "EUR.USD"), SMART (IDEALPRO for CASH), USD. */
export function normalizeQuery(query: ContractQuery): NormalizedQuery {
  if (query.conId !== undefined) {
    const contract: Contract = {
      conId: query.conId,
      ...(query.exchange ? { exchange: query.exchange } : {}),
    };
    const label = `conId ${query.conId}${query.exchange ? ` on ${query.exchange.toUpperCase()}` : ''}`;
    return { contract, label, subject: label, cacheKey: `conId|${query.conId}|${query.exchange ?? ''}` };
  }
  if (query.symbol === undefined) {
    throw new DomainError('INVALID_INPUT', `Invalid parameters: [symbol]: ${SYMBOL_OR_CONID_REQUIRED}`);
  }
  const pair = CURRENCY_PAIR.exec(query.symbol);
  const secType = (query.secType ?? (pair ? 'CASH' : 'STK')) as SecType;
  let symbol = query.symbol.toUpperCase();
  let currency = query.currency?.toUpperCase();
  if (secType === SecType.CASH && pair) {
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
  const contract: Contract = {
    symbol,
    secType,
    currency,
    ...(exchange === undefined ? {} : { exchange }),
    ...(query.expiry === undefined ? {} : { lastTradeDateOrContractMonth: query.expiry }),
    ...(query.strike === undefined ? {} : { strike: query.strike }),
    ...(query.right === undefined ? {} : { right: query.right === 'C' ? OptionType.Call : OptionType.Put }),
  };
  const terms = [query.expiry, query.strike, query.right].filter((term) => term !== undefined).join(' ');
  const shownSymbol = secType === SecType.CASH ? `${symbol}.${currency}` : symbol;
  const label = `${shownSymbol}${terms ? ` ${terms}` : ''} (${secType} on ${exchange ?? 'any exchange'} in ${currency})`;
  return {
    contract,
    label,
    subject: `symbol ${label}`,
    cacheKey: ['symbol', symbol, secType, exchange, currency, query.expiry, query.strike, query.right].join(
      '|',
    ),
  };
}

function defaultExchange(secType: SecType): string | undefined {
  if (secType === SecType.CASH) return 'IDEALPRO';
  if (secType === SecType.STK || secType === SecType.OPT) return 'SMART';
  return undefined;
}

function toContract(details: ContractDetails): Contract$ {
  return contractFields(details.contract);
}

/** A @stoqey/ib Contract as this API reports contracts (only the fields IB filled in). */
export function contractFields(contract: Contract): Contract$ {
  const multiplier = Number(contract.multiplier);
  return {
    conId: contract.conId ?? 0,
    symbol: contract.symbol ?? '',
    secType: contract.secType ?? '',
    exchange: contract.exchange ?? '',
    ...(contract.primaryExch ? { primaryExchange: contract.primaryExch } : {}),
    currency: contract.currency ?? '',
    ...(contract.localSymbol ? { localSymbol: contract.localSymbol } : {}),
    ...(contract.tradingClass ? { tradingClass: contract.tradingClass } : {}),
    ...(contract.lastTradeDateOrContractMonth ? { expiry: contract.lastTradeDateOrContractMonth } : {}),
    ...(contract.strike ? { strike: contract.strike } : {}),
    ...(contract.right === OptionType.Call || contract.right === OptionType.Put
      ? { right: contract.right }
      : {}),
    ...(Number.isFinite(multiplier) && multiplier > 0 ? { multiplier } : {}),
  };
}

function toContractDetails(details: ContractDetails): ContractDetails$ {
  const list = (text: string | undefined): string[] =>
    (text ?? '').split(',').filter((entry) => entry.trim() !== '');
  const optional = <K extends string, V>(key: K, value: V | undefined | null | '') =>
    (value === undefined || value === null || value === '' ? {} : { [key]: value }) as Partial<Record<K, V>>;
  return {
    ...toContract(details),
    ...optional('longName', details.longName),
    ...optional('minTick', details.minTick),
    validExchanges: list(details.validExchanges),
    orderTypes: list(details.orderTypes),
    ...optional('timeZoneId', details.timeZoneId),
    ...optional('tradingHours', details.tradingHours),
    ...optional('liquidHours', details.liquidHours),
    ...optional('industry', details.industry),
    ...optional('category', details.category),
    ...optional('subcategory', details.subcategory),
    ...optional('stockType', details.stockType),
    ...optional('contractMonth', details.contractMonth),
    ...(details.underConId ? { underlyingConId: details.underConId } : {}),
    ...optional('underlyingSymbol', details.underSymbol),
  };
}

function toCandidate(details: ContractDetails): Candidate {
  const contract = toContract(details);
  const terms = [contract.expiry, contract.strike, contract.right].filter((term) => term !== undefined);
  const name = details.longName ?? contract.symbol;
  return {
    conId: contract.conId,
    secType: contract.secType,
    symbol: contract.symbol,
    exchange: contract.exchange,
    ...(contract.primaryExchange ? { primaryExchange: contract.primaryExchange } : {}),
    currency: contract.currency,
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

function byExpiryStrikeRight(a: ContractDetails, b: ContractDetails): number {
  return (
    (a.contract.lastTradeDateOrContractMonth ?? '').localeCompare(
      b.contract.lastTradeDateOrContractMonth ?? '',
    ) ||
    (a.contract.strike ?? 0) - (b.contract.strike ?? 0) ||
    String(a.contract.right ?? '').localeCompare(String(b.contract.right ?? ''))
  );
}

/** Bounds a chain to `limit` contracts around its middle strike, where the interesting strikes usually are. */
function nearestToMiddleStrike(contracts: ContractDetails[], limit: number): ContractDetails[] {
  if (contracts.length <= limit) return [...contracts];
  const strikes = [...new Set(contracts.map((details) => details.contract.strike ?? 0))].sort(
    (a, b) => a - b,
  );
  const middle = strikes[Math.floor(strikes.length / 2)] ?? 0;
  return [...contracts]
    .sort(
      (a, b) =>
        Math.abs((a.contract.strike ?? 0) - middle) - Math.abs((b.contract.strike ?? 0) - middle) ||
        byExpiryStrikeRight(a, b),
    )
    .slice(0, limit);
}
