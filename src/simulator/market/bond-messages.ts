import { before, since, type WireValue } from '../protocol/framing';
import { ServerVersion } from '../protocol/versions';
import { Reply } from '../protocol/message-ids';
import type { ContractDataExtras } from './contract-messages';
import type { Instrument } from './instrument';

/**
 * BOND_CONTRACT_DATA (IB answers reqContractDetails for a BOND with it, not CONTRACT_DATA), written for
 * every version (IB's decoder, processBondContractDataMsg): a version field (6) below v164 (SIZE_RULES),
 * then symbol, secType, cusip, coupon, maturity, issueDate, ratings, bondType, couponType, convertible,
 * callable, putable, descAppend, exchange, currency, marketName, tradingClass, conId, minTick,
 * mdSizeMultiplier (below 164), orderTypes, validExchanges, the next-option fields, notes, longName, the
 * trading hours (from v188, BOND_TRADING_HOURS), evRule, evMultiplier, secIds, aggGroup, marketRuleIds and
 * the size rules (from 164).
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
    before(ServerVersion.SIZE_RULES, 6), // version
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
    before(ServerVersion.SIZE_RULES, 1), // mdSizeMultiplier
    instrument.orderTypes.join(','),
    instrument.validExchanges.join(','),
    '', // nextOptionDate
    '', // nextOptionType
    false, // nextOptionPartial
    '', // notes
    instrument.longName,
    since(ServerVersion.BOND_TRADING_HOURS, instrument.timeZoneId, extras.tradingHours, extras.liquidHours),
    '', // evRule
    '', // evMultiplier
    secIds.length,
    ...secIds.flat(),
    1, // aggGroup
    instrument.marketRuleIds ?? '',
    since(ServerVersion.SIZE_RULES, '1', '1', '1'), // minSize, sizeIncrement, suggestedSizeIncrement
  ];
}
