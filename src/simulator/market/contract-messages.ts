import type { WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import type { Instrument } from './instrument';
import type { OptionChainSummary } from './option-chain-summary';

/** What CONTRACT_DATA carries besides the instrument itself. */
export interface ContractDataExtras {
  /** The exchange to report: the one the request named, else the instrument's own. */
  exchange: string;
  tradingHours: string;
  liquidHours: string;
}

const DERIVATIVES = new Set(['OPT', 'FUT']);

/**
 * CONTRACT_DATA at v193: no version field; lastTradeDate (>=182) follows lastTradeDateOrContractMonth;
 * the FUND block only for FUND. 44 fields for a stock with one secId. Dates are plain YYYYMMDD because
 * the client's readLastTradeDate cannot split "YYYYMMDD HH:MM zone".
 */
export function contractDataMessage(
  reqId: number,
  instrument: Instrument,
  extras: ContractDataExtras,
): WireValue[] {
  const derivative = DERIVATIVES.has(instrument.secType);
  const lastTradeDate = instrument.lastTradeDate ?? '';
  const underlying = underlyingOf(instrument);
  const secIds = instrument.isin ? [['ISIN', instrument.isin]] : [];
  const sizes = sizeRules(instrument);
  return [
    Reply.CONTRACT_DATA,
    reqId,
    instrument.symbol,
    instrument.secType,
    lastTradeDate,
    lastTradeDate,
    instrument.strike ?? 0,
    instrument.right ?? '',
    extras.exchange,
    instrument.currency,
    instrument.localSymbol,
    instrument.marketName ?? instrument.tradingClass,
    instrument.tradingClass,
    instrument.conId,
    instrument.minTick,
    // IB leaves the multiplier empty for stocks, FX and indices.
    derivative ? instrument.multiplier : '',
    instrument.orderTypes.join(','),
    instrument.validExchanges.join(','),
    1, // priceMagnifier
    instrument.underlyingConId ?? 0,
    instrument.longName,
    instrument.primaryExchange,
    instrument.contractMonth ?? '',
    instrument.industry,
    instrument.category,
    instrument.subcategory ?? '',
    instrument.timeZoneId,
    extras.tradingHours,
    extras.liquidHours,
    '', // evRule
    '', // evMultiplier
    secIds.length,
    ...secIds.flat(),
    1, // aggGroup
    underlying.symbol,
    underlying.secType,
    instrument.marketRuleIds ?? '',
    lastTradeDate, // realExpirationDate
    instrument.stockType ?? '',
    sizes.minSize,
    sizes.sizeIncrement,
    sizes.suggestedSizeIncrement,
    0, // ineligibilityReasonCount
  ];
}

function underlyingOf(instrument: Instrument): { symbol: string; secType: string } {
  if (instrument.secType === 'OPT') return { symbol: instrument.underlyingSymbol ?? '', secType: 'STK' };
  if (instrument.secType === 'FUT') return { symbol: instrument.underlyingSymbol ?? '', secType: 'IND' };
  return { symbol: '', secType: '' };
}

/** IB's size rules: US stocks trade in fractions, everything else in whole units. */
function sizeRules(instrument: Instrument): {
  minSize: string;
  sizeIncrement: string;
  suggestedSizeIncrement: string;
} {
  if (instrument.secType === 'STK' && instrument.currency === 'USD') {
    return { minSize: '0.0001', sizeIncrement: '0.0001', suggestedSizeIncrement: '100' };
  }
  return { minSize: '1', sizeIncrement: '1', suggestedSizeIncrement: '1' };
}

export function contractDataEndMessage(reqId: number): WireValue[] {
  return [Reply.CONTRACT_DATA_END, 1, reqId];
}

/** One match of a symbol search. */
export interface SymbolSample {
  instrument: Instrument;
  derivativeSecTypes: string[];
}

/** SYMBOL_SAMPLES at v193: description and issuerId (>=176) follow each sample's derivative types. */
export function symbolSamplesMessage(reqId: number, samples: readonly SymbolSample[]): WireValue[] {
  return [
    Reply.SYMBOL_SAMPLES,
    reqId,
    samples.length,
    ...samples.flatMap(({ instrument, derivativeSecTypes }) => [
      instrument.conId,
      instrument.symbol,
      instrument.secType,
      instrument.primaryExchange,
      instrument.currency,
      derivativeSecTypes.length,
      ...derivativeSecTypes,
      instrument.longName,
      '', // issuerId (bonds only)
    ]),
  ];
}

/** SECURITY_DEFINITION_OPTION_PARAMETER (no version): one per exchange the chain is listed on. */
export function optionParameterMessage(
  reqId: number,
  exchange: string,
  chain: OptionChainSummary,
): WireValue[] {
  return [
    Reply.SECURITY_DEFINITION_OPTION_PARAMETER,
    reqId,
    exchange,
    chain.underlyingConId,
    chain.tradingClass,
    chain.multiplier,
    chain.expirations.length,
    ...chain.expirations,
    chain.strikes.length,
    ...chain.strikes,
  ];
}

export function optionParameterEndMessage(reqId: number): WireValue[] {
  return [Reply.SECURITY_DEFINITION_OPTION_PARAMETER_END, reqId];
}
