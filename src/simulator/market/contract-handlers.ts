import type { FieldReader } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import { ServerVersion } from '../protocol/versions';
import type { SimulatorContext } from '../simulator-context';
import { bondContractDataMessage } from './bond-messages';
import type { Instrument } from './instrument';
import type { Market } from './market';
import {
  contractDataEndMessage,
  contractDataMessage,
  optionParameterEndMessage,
  optionParameterMessage,
  symbolSamplesMessage,
  type SymbolSample,
} from './contract-messages';

export const ContractCode = { NO_SECURITY_DEFINITION: 200 } as const;
export const ContractText = {
  noSecurityDefinition: 'No security definition has been found for the request',
} as const;

/** IB answers a symbol search with at most 16 descriptions. */
const MAX_SYMBOL_SAMPLES = 16;
/** Derivatives are found through their underlying, not listed as symbol samples themselves. */
const SEARCHABLE_SEC_TYPES = new Set(['STK', 'CASH', 'IND', 'CRYPTO']);

/** REQ_CONTRACT_DATA, REQ_MATCHING_SYMBOLS and REQ_SEC_DEF_OPT_PARAMS. */
export function registerContractHandlers(context: SimulatorContext, market: Market): void {
  const { server } = context;

  server.on(Request.REQ_CONTRACT_DATA, (session, request) => {
    request.skip(1); // version
    const reqId = request.int();
    const contract = request.contract();
    request.skip(1); // includeExpired: expired contracts are never listed
    const secIdType = request.string();
    const secId = request.string();
    request.since(ServerVersion.BOND_ISSUERID, () => request.string()); // issuerId (bonds only)
    const matches =
      secIdType !== '' && secId !== '' ? findBySecId(market, secIdType, secId) : market.resolve(contract);
    if (matches.length === 0) {
      session.sendError(reqId, ContractCode.NO_SECURITY_DEFINITION, ContractText.noSecurityDefinition);
      return;
    }
    const now = context.clock.now();
    for (const instrument of matches) {
      const requested = contract.exchange.toUpperCase();
      const exchange =
        requested !== '' && instrument.validExchanges.includes(requested) ? requested : instrument.exchange;
      const extras = { exchange, ...market.tradingHours(instrument.conId, now) };
      // IB describes a bond in its own message, BOND_CONTRACT_DATA.
      const message = instrument.secType === 'BOND' ? bondContractDataMessage : contractDataMessage;
      session.send(message(reqId, instrument, extras));
    }
    session.send(contractDataEndMessage(reqId));
  });

  server.on(Request.REQ_MATCHING_SYMBOLS, (session, request) => {
    const reqId = request.int();
    const pattern = request.string();
    session.send(symbolSamplesMessage(reqId, matchingSymbols(market, pattern)));
  });

  server.on(Request.REQ_SEC_DEF_OPT_PARAMS, (session, request) => {
    const { reqId, exchanges, chain } = optionParameters(market, request);
    if (chain) {
      for (const exchange of exchanges) session.send(optionParameterMessage(reqId, exchange, chain));
    }
    // Like IB, an unknown underlying (or one without options) gets just the end marker, no error.
    session.send(optionParameterEndMessage(reqId));
  });
}

function findBySecId(market: Market, secIdType: string, secId: string): Instrument[] {
  if (secIdType.toUpperCase() !== 'ISIN') return [];
  return market.lookupInstruments().filter((instrument) => instrument.isin === secId.toUpperCase());
}

/**
 * IB's symbol search: symbols starting with the pattern (the exact symbol first), then instruments whose
 * name has a word starting with it; each with the kinds of derivatives listed on it.
 */
export function matchingSymbols(market: Market, pattern: string): SymbolSample[] {
  const wanted = pattern.trim().toUpperCase();
  if (wanted === '') return [];
  const candidates = market
    .lookupInstruments()
    .filter((instrument) => SEARCHABLE_SEC_TYPES.has(instrument.secType));
  const rank = (instrument: Instrument): number => {
    const symbol = instrument.symbol.toUpperCase();
    if (symbol === wanted) return 0;
    if (symbol.startsWith(wanted)) return 1;
    const words = instrument.longName.toUpperCase().split(/[\s,.\-&]+/);
    if (instrument.longName.toUpperCase().startsWith(wanted) || words.some((word) => word.startsWith(wanted)))
      return 2;
    return -1;
  };
  return candidates
    .map((instrument) => ({ instrument, rank: rank(instrument) }))
    .filter(({ rank: value }) => value >= 0)
    .sort((a, b) => a.rank - b.rank || a.instrument.symbol.localeCompare(b.instrument.symbol))
    .slice(0, MAX_SYMBOL_SAMPLES)
    .map(({ instrument }) => ({ instrument, derivativeSecTypes: market.derivativeSecTypes(instrument) }));
}

function optionParameters(
  market: Market,
  request: FieldReader,
): { reqId: number; exchanges: string[]; chain: ReturnType<Market['optionChain']> } {
  const reqId = request.int();
  const symbol = request.string().toUpperCase();
  const futFopExchange = request.string().toUpperCase();
  const secType = request.string().toUpperCase();
  const conId = request.int();
  const underlying = market.instrument(conId);
  const matches =
    underlying !== undefined &&
    (symbol === '' || underlying.symbol.toUpperCase() === symbol) &&
    (secType === '' || underlying.secType === secType);
  const chain = matches ? market.optionChain(conId) : undefined;
  // The exchange filter is for futures options; for stock options "" (all) is what IB expects.
  const exchanges = (chain?.exchanges ?? []).filter(
    (exchange) => futFopExchange === '' || exchange === futFopExchange,
  );
  return { reqId, exchanges, chain };
}
