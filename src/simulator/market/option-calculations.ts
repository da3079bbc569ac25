import type { ClientSession } from '../protocol/client-session';
import type { FieldReader } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import type { Instrument } from './instrument';
import type { Market } from './market';
import {
  MarketCode,
  MarketText,
  tickOptionComputationMessage,
  type OptionComputation,
} from './market-data-messages';
import { computeOption, optionExpiry } from './option-computation';
import { resolveRequestContract } from './request-contract';
import { blackScholes, YEAR_MS } from './universe';

/** CUST_OPTION_COMPUTATION: the tick type of calculateImpliedVolatility / calculateOptionPrice answers. */
export const CUST_OPTION_COMPUTATION = 53;

/** IB's 321 for a calculation on a contract that is not an option. */
export const NOT_AN_OPTION =
  "Error validating request.-'bL' : cause - Option calculations are only available for options";

/** What a calculation request asks: the price from a volatility, or the volatility from a price. */
type Calculation = 'implied-volatility' | 'option-price';

/**
 * calculateImpliedVolatility (54) and calculateOptionPrice (55): one TICK_OPTION_COMPUTATION of tick type
 * 53 from the same model the streams use (option-computation.ts), or IB's 200 for a contract it cannot
 * find (unknown, or expired: IB resolves only live contracts). Cancels (56, 57) end nothing: the answer
 * has already gone.
 */
export function registerOptionCalculations(context: SimulatorContext, market: Market): void {
  const server = context.server;
  const handle =
    (calculation: Calculation) =>
    (session: ClientSession, request: FieldReader): void =>
      answer(context, market, session, calculation, request);
  server.on(Request.REQ_CALC_IMPLIED_VOLAT, handle('implied-volatility'));
  server.on(Request.REQ_CALC_OPTION_PRICE, handle('option-price'));
  server.on(Request.CANCEL_CALC_IMPLIED_VOLAT, () => undefined);
  server.on(Request.CANCEL_CALC_OPTION_PRICE, () => undefined);
}

function answer(
  context: SimulatorContext,
  market: Market,
  session: ClientSession,
  calculation: Calculation,
  request: FieldReader,
): void {
  request.skip(1); // version
  const reqId = request.int();
  const contract = request.contract();
  const given = request.number(); // option price, or volatility
  const underlyingPrice = request.number();
  const now = context.clock.now();
  const resolved = resolveRequestContract(market, contract);
  if ('error' in resolved) {
    session.sendError(reqId, resolved.error.code, resolved.error.text);
    return;
  }
  const { instrument } = resolved;
  if (instrument.secType !== 'OPT') {
    session.sendError(reqId, MarketCode.ERROR_VALIDATING_REQUEST, NOT_AN_OPTION);
    return;
  }
  const expiry = optionExpiry(instrument);
  if (expiry === undefined || expiry <= now) {
    session.sendError(reqId, MarketCode.NO_SECURITY_DEFINITION, MarketText.noSecurityDefinition);
    return;
  }
  const computation =
    calculation === 'implied-volatility'
      ? computeOption(instrument, given, underlyingPrice, now)
      : priceOption(instrument, given, underlyingPrice, now, expiry);
  session.send(
    tickOptionComputationMessage(reqId, CUST_OPTION_COMPUTATION, computation ?? notComputed(underlyingPrice)),
  );
}

/**
 * The option's model price at `volatility`, with the greeks the model reports at that volatility: the
 * price's own implied volatility is `volatility` again.
 */
export function priceOption(
  instrument: Instrument,
  volatility: number,
  spot: number,
  atMs: number,
  expiry = optionExpiry(instrument),
): OptionComputation | undefined {
  const { strike, right } = instrument;
  if (expiry === undefined || strike === undefined || right === undefined) return undefined;
  const years = (expiry - atMs) / YEAR_MS;
  if (years <= 0 || spot <= 0 || volatility <= 0) return undefined;
  const price = blackScholes(right, spot, strike, years, volatility);
  const computed = computeOption(instrument, price, spot, atMs);
  return computed && { ...computed, impliedVolatility: volatility };
}

/** IB's "not computed" markers: -1 for volatility and prices, -2 for the greeks. */
function notComputed(underlyingPrice: number): OptionComputation {
  return {
    impliedVolatility: -1,
    delta: -2,
    optionPrice: -1,
    pvDividend: -1,
    gamma: -2,
    vega: -2,
    theta: -2,
    underlyingPrice: underlyingPrice > 0 ? underlyingPrice : -1,
  };
}
