import type { WireContract } from '../protocol/field-reader';
import type { Instrument } from './instrument';

// IB's rule for which instruments a request's contract names; Market.resolve applies it to today's listings.

const RIGHTS: Record<string, string> = { C: 'C', CALL: 'C', P: 'P', PUT: 'P' };

/**
 * IB's matching: the conId alone when given; otherwise the symbol (or, without one, the local symbol) and
 * every other field that is set. SMART matches anything routable through SMART; an expiry matches by prefix.
 */
export function matchesContract(instrument: Instrument, contract: WireContract): boolean {
  const same = (a: string, b: string): boolean => a.toUpperCase() === b.toUpperCase();
  const exchangeMatches = (exchange: string): boolean =>
    exchange === '' ||
    instrument.validExchanges.some((valid) => same(valid, exchange)) ||
    same(instrument.exchange, exchange);
  if (contract.conId > 0) return instrument.conId === contract.conId && exchangeMatches(contract.exchange);
  if (contract.symbol === '' && contract.localSymbol === '') return false;
  if (contract.symbol !== '' && !same(instrument.symbol, contract.symbol)) return false;
  if (
    contract.localSymbol !== '' &&
    !same(instrument.localSymbol.replace(/\s+/g, ' '), contract.localSymbol.replace(/\s+/g, ' '))
  ) {
    return false;
  }
  if (contract.secType !== '' && !same(instrument.secType, contract.secType)) return false;
  if (!exchangeMatches(contract.exchange)) return false;
  if (contract.primaryExch !== '' && !same(instrument.primaryExchange, contract.primaryExch)) return false;
  if (contract.currency !== '' && !same(instrument.currency, contract.currency)) return false;
  if (contract.tradingClass !== '' && !same(instrument.tradingClass, contract.tradingClass)) return false;
  if (contract.multiplier !== '' && Number(contract.multiplier) !== instrument.multiplier) return false;
  const expiry = contract.lastTradeDateOrContractMonth;
  if (
    expiry !== '' &&
    !(instrument.lastTradeDate ?? '').startsWith(expiry) &&
    instrument.contractMonth !== expiry
  ) {
    return false;
  }
  if (contract.strike > 0 && instrument.strike !== contract.strike) return false;
  const right = RIGHTS[contract.right.toUpperCase()];
  if (contract.right !== '' && contract.right !== '?' && instrument.right !== right) return false;
  return true;
}
