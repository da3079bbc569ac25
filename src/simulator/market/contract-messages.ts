import { before, since, type WireValue } from '../protocol/framing';
import { ServerVersion } from '../protocol/versions';
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
 * CONTRACT_DATA, written for every version (IB's decoder, processContractDataMsg): a version field (8)
 * below v164 (SIZE_RULES); lastTradeDate (>=182) follows lastTradeDateOrContractMonth; mdSizeMultiplier
 * after minTick below 164; stockType from 152; sizeMinTick at 163 only, the three size rules from 164;
 * the FUND block (>=179) only for FUND; ineligibility reasons from 186. 44 fields at v193 for a stock with
 * one secId. Dates are plain YYYYMMDD because the client's readLastTradeDate cannot split
 * "YYYYMMDD HH:MM zone".
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
    before(ServerVersion.SIZE_RULES, 8), // version
    reqId,
    instrument.symbol,
    instrument.secType,
    lastTradeDate,
    since(ServerVersion.LAST_TRADE_DATE, lastTradeDate),
    instrument.strike ?? 0,
    instrument.right ?? '',
    extras.exchange,
    instrument.currency,
    instrument.localSymbol,
    instrument.marketName ?? instrument.tradingClass,
    instrument.tradingClass,
    instrument.conId,
    instrument.minTick,
    // mdSizeMultiplier: sizes are reported in shares, so 1.
    before(ServerVersion.SIZE_RULES, 1),
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
    since(ServerVersion.STOCK_TYPE, instrument.stockType ?? ''),
    // sizeMinTick, sent by v163 only: the size rules replaced it at v164.
    since(ServerVersion.FRACTIONAL_SIZE_SUPPORT, before(ServerVersion.SIZE_RULES, sizes.sizeIncrement)),
    since(ServerVersion.SIZE_RULES, sizes.minSize, sizes.sizeIncrement, sizes.suggestedSizeIncrement),
    since(ServerVersion.INELIGIBILITY_REASONS, 0), // ineligibilityReasonCount
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

/** SYMBOL_SAMPLES (no version): description and issuerId (>=176, BOND_ISSUERID) follow each sample's derivative types. */
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
      since(ServerVersion.BOND_ISSUERID, instrument.longName, ''), // description, issuerId (bonds only)
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
