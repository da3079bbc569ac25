import type { WireContract } from '../protocol/field-reader';
import type { Instrument } from './instrument';
import { MarketCode, MarketText } from './market-data-messages';
import type { Market } from './market';

export type RequestContract = { instrument: Instrument } | { error: { code: number; text: string } };

/** The one instrument a data request names, or IB's error 200 when it names none or several. */
export function resolveRequestContract(market: Market, contract: WireContract): RequestContract {
  const matches = market.resolve(contract);
  const [first] = matches;
  if (!first) {
    return { error: { code: MarketCode.NO_SECURITY_DEFINITION, text: MarketText.noSecurityDefinition } };
  }
  if (matches.length > 1) {
    const symbol = contract.symbol || contract.localSymbol || first.symbol;
    return { error: { code: MarketCode.NO_SECURITY_DEFINITION, text: MarketText.ambiguousContract(symbol) } };
  }
  return { instrument: first };
}
