import { Injectable } from '@nestjs/common';
import { OptionType, SecType, type Contract, type ContractDetails } from '@stoqey/ib';
import type { z } from 'zod';
import { IbCode, ibErrorOf } from '../connection/ib-errors';
import { IbSession } from '../connection/ib-session.repository';
import type { ContractDetailsSchema, ContractSchema, SearchContractsResult } from './contracts.schemas';

/**
 * A contract as IB qualified it (it carries its conId), in IB's own fields: services read its plain fields
 * (conId, symbol, exchange, currency, ...) and hand it back to repositories, which send it to IB as is (orders
 * do too). For the contract's terms in the API's own words, read QualifiedContract.details.
 */
export type IbContract = Readonly<Contract> & { readonly conId: number };

/** The contract as this API reports it. */
export type ContractView = z.infer<typeof ContractSchema>;
/** The contract and IB's details about it (hours, order types, ...) as this API reports them. */
export type ContractDetailsView = z.infer<typeof ContractDetailsSchema>;

/** A contract IB has qualified: it carries its conId, and IB's details come with it. */
export interface QualifiedContract {
  contract: IbContract;
  details: ContractDetailsView;
  /** IB's market rule id per valid exchange (comma separated, in validExchanges' order), for tick sizes. */
  marketRuleIds?: string | undefined;
  validExchanges?: string | undefined;
}

/** What to ask IB for, in the API's words: a contract by its conId (and exchange), or by its terms. */
export type ContractSpec =
  | { conId: number; exchange?: string }
  | {
      symbol: string;
      secType: string;
      currency: string;
      exchange?: string;
      /** YYYYMMDD, or a contract month YYYYMM. */
      expiry?: string;
      strike?: number;
      right?: 'C' | 'P';
    };

/** One symbol IB's symbol search found. */
export type SymbolMatch = z.infer<typeof SearchContractsResult>['matches'][number];

/** The option chain of an underlying on one exchange and trading class, as IB lists it. */
export interface OptionChainParameters {
  exchange: string;
  tradingClass: string;
  multiplier: number;
  expirations: string[];
  strikes: number[];
}

/**
 * Contracts at IB: contract details (reqContractDetails), the symbol search (reqMatchingSymbols) and option
 * chain parameters (reqSecDefOptParams), in the API's words.
 */
@Injectable()
export class ContractsRepository {
  constructor(private readonly session: IbSession) {}

  /**
   * Every contract IB lists for `spec`; none (rather than IB's "no security definition" error) when nothing
   * matches. `what` names the request in errors, e.g. "contract details of AAPL (STK on SMART in USD)".
   */
  async contracts(spec: ContractSpec, what: string): Promise<QualifiedContract[]> {
    const listed = await this.session.ibRequest(what, async (ib) =>
      ib.getContractDetails(ibContractOf(spec)).catch((error: unknown) => {
        if (ibErrorOf(error)?.code === IbCode.NO_SECURITY_DEFINITION) return [];
        throw error;
      }),
    );
    return listed.map((details) => ({
      contract: { ...details.contract, conId: details.contract.conId ?? 0 },
      details: contractDetailsView(details),
      marketRuleIds: details.marketRuleIds,
      validExchanges: details.validExchanges,
    }));
  }

  /** IB's symbol search: symbols and company names starting with `pattern`. */
  async matchingSymbols(pattern: string): Promise<SymbolMatch[]> {
    const descriptions = await this.session.ibRequest('symbol search', async (ib) =>
      ib.getMatchingSymbols(pattern),
    );
    return descriptions.flatMap(({ contract, derivativeSecTypes }) =>
      contract
        ? [
            {
              conId: contract.conId ?? 0,
              secType: contract.secType ?? '',
              symbol: contract.symbol ?? '',
              exchange: contract.exchange ?? '',
              ...(contract.primaryExch ? { primaryExchange: contract.primaryExch } : {}),
              currency: contract.currency ?? '',
              description: contract.description ?? '',
              derivativeSecTypes: (derivativeSecTypes ?? []).map(String),
            },
          ]
        : [],
    );
  }

  /** The option chains (expirations and strikes per exchange and trading class) of a qualified underlying. */
  async optionChains(underlying: IbContract): Promise<OptionChainParameters[]> {
    const symbol = underlying.symbol ?? '';
    const chains = await this.session.ibRequest(`option parameters of ${symbol}`, async (ib) =>
      ib.getSecDefOptParams(
        symbol,
        // The exchange filter applies to futures options only; "" lists every exchange.
        underlying.secType === SecType.FUT ? (underlying.exchange ?? '') : '',
        underlying.secType ?? SecType.STK,
        underlying.conId,
      ),
    );
    return chains.map((chain) => ({
      exchange: chain.exchange,
      tradingClass: chain.tradingClass,
      multiplier: Number(chain.multiplier),
      expirations: [...chain.expirations],
      strikes: [...chain.strikes],
    }));
  }
}

/** The contract IB is asked about for a spec. */
function ibContractOf(spec: ContractSpec): Contract {
  if ('conId' in spec) {
    return { conId: spec.conId, ...(spec.exchange ? { exchange: spec.exchange } : {}) };
  }
  return {
    symbol: spec.symbol,
    secType: spec.secType as SecType,
    currency: spec.currency,
    ...(spec.exchange === undefined ? {} : { exchange: spec.exchange }),
    ...(spec.expiry === undefined ? {} : { lastTradeDateOrContractMonth: spec.expiry }),
    ...(spec.strike === undefined ? {} : { strike: spec.strike }),
    ...(spec.right === undefined ? {} : { right: spec.right === 'C' ? OptionType.Call : OptionType.Put }),
  };
}

/** A @stoqey/ib Contract as this API reports contracts (only the fields IB filled in). */
export function contractView(contract: Contract): ContractView {
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

function contractDetailsView(details: ContractDetails): ContractDetailsView {
  const list = (text: string | undefined): string[] =>
    (text ?? '').split(',').filter((entry) => entry.trim() !== '');
  const optional = <K extends string, V>(key: K, value: V | undefined | null | '') =>
    (value === undefined || value === null || value === '' ? {} : { [key]: value }) as Partial<Record<K, V>>;
  return {
    ...contractView(details.contract),
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
