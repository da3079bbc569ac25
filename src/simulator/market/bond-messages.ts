import type { WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import type { ContractDataExtras } from './contract-messages';
import type { Instrument } from './instrument';

/**
 * BOND_CONTRACT_DATA at v193 (IB answers reqContractDetails for a BOND with it, not CONTRACT_DATA): no
 * version field (SIZE_RULES), then symbol, secType, cusip, coupon, maturity, issueDate, ratings, bondType,
 * couponType, convertible, callable, putable, descAppend, exchange, currency, marketName, tradingClass,
 * conId, minTick, orderTypes, validExchanges, the next-option fields, notes, longName, the trading hours
 * (BOND_TRADING_HOURS), evRule, evMultiplier, secIds, aggGroup, marketRuleIds and the size rules.
 */
export function bondContractDataMessage(
  reqId: number,
  instrument: Instrument,
  extras: ContractDataExtras,
): WireValue[] {
  const bond = instrument.bond;
  const secIds = instrument.isin ? [['ISIN', instrument.isin]] : [];
  return [
    Reply.BOND_CONTRACT_DATA,
    reqId,
    instrument.symbol,
    instrument.secType,
    bond?.cusip ?? '',
    bond?.coupon ?? 0,
    bond?.maturity ?? '',
    bond?.issueDate ?? '',
    bond?.ratings ?? '',
    bond?.bondType ?? '',
    bond?.couponType ?? '',
    false, // convertible
    false, // callable
    false, // putable
    instrument.longName, // descAppend
    extras.exchange,
    instrument.currency,
    instrument.marketName ?? instrument.tradingClass,
    instrument.tradingClass,
    instrument.conId,
    instrument.minTick,
    instrument.orderTypes.join(','),
    instrument.validExchanges.join(','),
    '', // nextOptionDate
    '', // nextOptionType
    false, // nextOptionPartial
    '', // notes
    instrument.longName,
    instrument.timeZoneId,
    extras.tradingHours,
    extras.liquidHours,
    '', // evRule
    '', // evMultiplier
    secIds.length,
    ...secIds.flat(),
    1, // aggGroup
    instrument.marketRuleIds ?? '',
    '1', // minSize
    '1', // sizeIncrement
    '1', // suggestedSizeIncrement
  ];
}
