import { Injectable } from '@nestjs/common';
import {
  EventName,
  IBApiNextTickType,
  IBApiTickType,
  SecType,
  type Contract,
  type MarketDataTicks,
} from '@stoqey/ib';
import { DomainError } from '../common/domain-error';
import { isInformationCode, toDomainError } from '../connection/ib-errors';
import { IbSession } from '../connection/ib-session.repository';
import type { IbContract } from '../contracts/contracts.repository';
import type { OptionComputationValues } from './option-quotes.schemas';

/**
 * IB's generic ticks an option stream asks for: option volume (100), open interest (101), historical (104)
 * and implied (106) volatility. IB refuses generic ticks on snapshots (321), so streams only.
 */
export const OPTION_GENERIC_TICKS = '100,101,104,106';

/** The generic tick list of a market data request: the option ticks for an option stream, else none. */
export function genericTicksFor(contract: IbContract, snapshot: boolean): string {
  return !snapshot && String(contract.secType ?? '') === 'OPT' ? OPTION_GENERIC_TICKS : '';
}

/** IB's option computation of one source, per value: IBApiNext's tick types, real-time and delayed. */
const SOURCE_TICKS = {
  bid: [
    [IBApiNextTickType.BID_OPTION_IV, IBApiNextTickType.DELAYED_BID_OPTION_IV],
    [IBApiNextTickType.BID_OPTION_DELTA, IBApiNextTickType.DELAYED_BID_OPTION_DELTA],
    [IBApiNextTickType.BID_OPTION_GAMMA, IBApiNextTickType.DELAYED_BID_OPTION_GAMMA],
    [IBApiNextTickType.BID_OPTION_VEGA, IBApiNextTickType.DELAYED_BID_OPTION_VEGA],
    [IBApiNextTickType.BID_OPTION_THETA, IBApiNextTickType.DELAYED_BID_OPTION_THETA],
    [IBApiNextTickType.BID_OPTION_PRICE, IBApiNextTickType.DELAYED_BID_OPTION_PRICE],
  ],
  ask: [
    [IBApiNextTickType.ASK_OPTION_IV, IBApiNextTickType.DELAYED_ASK_OPTION_IV],
    [IBApiNextTickType.ASK_OPTION_DELTA, IBApiNextTickType.DELAYED_ASK_OPTION_DELTA],
    [IBApiNextTickType.ASK_OPTION_GAMMA, IBApiNextTickType.DELAYED_ASK_OPTION_GAMMA],
    [IBApiNextTickType.ASK_OPTION_VEGA, IBApiNextTickType.DELAYED_ASK_OPTION_VEGA],
    [IBApiNextTickType.ASK_OPTION_THETA, IBApiNextTickType.DELAYED_ASK_OPTION_THETA],
    [IBApiNextTickType.ASK_OPTION_PRICE, IBApiNextTickType.DELAYED_ASK_OPTION_PRICE],
  ],
  last: [
    [IBApiNextTickType.LAST_OPTION_IV, IBApiNextTickType.DELAYED_LAST_OPTION_IV],
    [IBApiNextTickType.LAST_OPTION_DELTA, IBApiNextTickType.DELAYED_LAST_OPTION_DELTA],
    [IBApiNextTickType.LAST_OPTION_GAMMA, IBApiNextTickType.DELAYED_LAST_OPTION_GAMMA],
    [IBApiNextTickType.LAST_OPTION_VEGA, IBApiNextTickType.DELAYED_LAST_OPTION_VEGA],
    [IBApiNextTickType.LAST_OPTION_THETA, IBApiNextTickType.DELAYED_LAST_OPTION_THETA],
    [IBApiNextTickType.LAST_OPTION_PRICE, IBApiNextTickType.DELAYED_LAST_OPTION_PRICE],
  ],
  model: [
    [IBApiNextTickType.MODEL_OPTION_IV, IBApiNextTickType.DELAYED_MODEL_OPTION_IV],
    [IBApiNextTickType.MODEL_OPTION_DELTA, IBApiNextTickType.DELAYED_MODEL_OPTION_DELTA],
    [IBApiNextTickType.MODEL_OPTION_GAMMA, IBApiNextTickType.DELAYED_MODEL_OPTION_GAMMA],
    [IBApiNextTickType.MODEL_OPTION_VEGA, IBApiNextTickType.DELAYED_MODEL_OPTION_VEGA],
    [IBApiNextTickType.MODEL_OPTION_THETA, IBApiNextTickType.DELAYED_MODEL_OPTION_THETA],
    [IBApiNextTickType.MODEL_OPTION_PRICE, IBApiNextTickType.DELAYED_MODEL_OPTION_PRICE],
  ],
} as const;

const VALUE_NAMES = ['impliedVolatility', 'delta', 'gamma', 'vega', 'theta', 'optionPrice'] as const;

export type OptionSource = keyof typeof SOURCE_TICKS;

/** The option values of a market data request, by the API's names. */
export interface OptionTickValues {
  /** Per source; null for a source IB sent no computation for (yet). */
  computations: Record<OptionSource, OptionComputationValues | null>;
  /** The underlying price of IB's newest computation. */
  underlyingPrice: number | null;
  optionVolume: number | null;
  openInterest: number | null;
}

/** The option computations, option volume and open interest in one request's ticks. */
export function optionValuesOf(ticks: MarketDataTicks, delayed: boolean): OptionTickValues {
  const column = delayed ? 1 : 0;
  const value = (type: number): number | null => {
    const tick = ticks.get(type)?.value;
    return tick === undefined || !Number.isFinite(tick) ? null : tick;
  };
  const underlyingPrice = value(IBApiNextTickType.OPTION_UNDERLYING);
  const computations = {} as OptionTickValues['computations'];
  for (const source of Object.keys(SOURCE_TICKS) as OptionSource[]) {
    const types = SOURCE_TICKS[source];
    const present = types.some((pair) => ticks.has(pair[column]));
    if (!present) {
      computations[source] = null;
      continue;
    }
    const computation = { underlyingPrice } as OptionComputationValues;
    VALUE_NAMES.forEach((name, index) => {
      const pair = types[index];
      computation[name] = pair === undefined ? null : value(pair[column]);
    });
    computations[source] = computation;
  }
  return {
    computations,
    underlyingPrice,
    optionVolume:
      value(delayed ? IBApiTickType.DELAYED_VOLUME : IBApiTickType.VOLUME) ??
      value(IBApiTickType.OPTION_CALL_VOLUME) ??
      value(IBApiTickType.OPTION_PUT_VOLUME),
    // IB sends an option's own open interest in the tick of its right: 27 for a call, 28 for a put.
    openInterest:
      value(IBApiTickType.OPTION_CALL_OPEN_INTEREST) ?? value(IBApiTickType.OPTION_PUT_OPEN_INTEREST),
  };
}

/** IBApiNext has no calls for IB's option calculations: they go through its IBApi, answered by tick 53. */
const CUST_OPTION_COMPUTATION = 53;
/** How long a calculation waits for IB's answer. */
const CALCULATION_TIMEOUT_MS = 15_000;

export type OptionCalculationKind = 'implied-volatility' | 'option-price';

/** calculateImpliedVolatility (54) / calculateOptionPrice (55) on the session IbSession holds. */
@Injectable()
export class OptionAnalyticsRepository {
  constructor(private readonly session: IbSession) {}

  /**
   * IB's model values for the option at `given` (its price for the implied volatility, its volatility for
   * the price) and `underlyingPrice`. Errors are domain errors naming `subject`.
   */
  async calculate(
    kind: OptionCalculationKind,
    contract: IbContract,
    given: number,
    underlyingPrice: number,
    subject: string,
  ): Promise<OptionComputationValues> {
    const what = kind === 'implied-volatility' ? 'implied volatility' : 'option price';
    return this.session.ibRequest(
      `${what} for ${subject}`,
      async (ib) => this.send(kind, ib.nextReqId, ibOption(contract), given, underlyingPrice, subject),
      { request: 'quote', subject },
    );
  }

  private async send(
    kind: OptionCalculationKind,
    reqId: number,
    contract: Contract,
    given: number,
    underlyingPrice: number,
    subject: string,
  ): Promise<OptionComputationValues> {
    const api = this.session.ibRawApi();
    return new Promise<OptionComputationValues>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        api.off(EventName.tickOptionComputation, onComputation);
        api.off(EventName.error, onError);
      };
      const onComputation = (
        id: number,
        tickType: number,
        _attrib: number | undefined,
        impliedVolatility?: number,
        delta?: number,
        optionPrice?: number,
        _pvDividend?: number,
        gamma?: number,
        vega?: number,
        theta?: number,
        undPrice?: number,
      ): void => {
        if (id !== reqId || tickType !== CUST_OPTION_COMPUTATION) return;
        done();
        if (kind === 'implied-volatility') api.cancelCalculateImpliedVolatility(reqId);
        else api.cancelCalculateOptionPrice(reqId);
        const numberOrNull = (value: number | undefined): number | null =>
          value === undefined || !Number.isFinite(value) ? null : value;
        resolve({
          impliedVolatility: numberOrNull(impliedVolatility),
          delta: numberOrNull(delta),
          gamma: numberOrNull(gamma),
          vega: numberOrNull(vega),
          theta: numberOrNull(theta),
          optionPrice: numberOrNull(optionPrice),
          underlyingPrice: numberOrNull(undPrice),
        });
      };
      const onError = (error: Error, code: number, id: number): void => {
        if (id !== reqId || isInformationCode(code)) return;
        done();
        reject(toDomainError({ code, message: error.message }, { request: 'quote', subject }));
      };
      const timer = setTimeout(() => {
        done();
        reject(new DomainError('IB_TIMEOUT', `IB did not answer the calculation for ${subject}`));
      }, CALCULATION_TIMEOUT_MS);
      api.on(EventName.tickOptionComputation, onComputation);
      api.on(EventName.error, onError);
      if (kind === 'implied-volatility') {
        api.calculateImpliedVolatility(reqId, contract, given, underlyingPrice);
      } else {
        api.calculateOptionPrice(reqId, contract, given, underlyingPrice);
      }
    });
  }
}

/** The qualified option as the calculation requests name it. */
function ibOption(contract: IbContract): Contract {
  return { ...contract, secType: SecType.OPT };
}
