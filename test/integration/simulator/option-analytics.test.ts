import {
  EventName,
  IBApi,
  IBApiNextTickType,
  IBApiTickType,
  OptionType,
  SecType,
  type Contract,
  type MarketDataTicks,
} from '@stoqey/ib';
import { firstValueFrom, filter } from 'rxjs';
import type { Instrument } from '../../../src/simulator/market/instrument';
import { computeOption } from '../../../src/simulator/market/option-computation';
import { CUST_OPTION_COMPUTATION, priceOption } from '../../../src/simulator/market/option-calculations';
import { openInterest } from '../../../src/simulator/market/option-ticks';
import { OPTION_CHAINS } from '../../../src/simulator/market/universe';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** Wednesday 2025-06-11 11:00 New York: US options trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
const AAPL_CON_ID = 265598;

interface Computation {
  tickType: number;
  impliedVol?: number;
  delta?: number;
  optPrice?: number;
  gamma?: number;
  vega?: number;
  theta?: number;
  undPrice?: number;
}

/** A raw IBApi connection: IBApiNext has no calculateImpliedVolatility / calculateOptionPrice. */
async function connectRawApi(port: number, clientId: number) {
  const api = new IBApi({ host: '127.0.0.1', port });
  const computations = new Map<number, Computation>();
  const errors = new Map<number, { code: number; message: string }>();
  api.on(
    EventName.tickOptionComputation,
    (
      reqId: number,
      tickType: number,
      _attrib: number | undefined,
      impliedVol?: number,
      delta?: number,
      optPrice?: number,
      _pvDividend?: number,
      gamma?: number,
      vega?: number,
      theta?: number,
      undPrice?: number,
    ) => computations.set(reqId, { tickType, impliedVol, delta, optPrice, gamma, vega, theta, undPrice }),
  );
  api.on(EventName.error, (error: Error, code: number, reqId: number) =>
    errors.set(reqId, { code, message: error.message }),
  );
  const ready = new Promise<void>((resolve) => api.once(EventName.nextValidId, () => resolve()));
  api.connect(clientId);
  await ready;
  return { api, computations, errors };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const optionContract = (instrument: Instrument): Contract => ({
  symbol: instrument.symbol,
  secType: SecType.OPT,
  exchange: 'SMART',
  currency: 'USD',
  lastTradeDateOrContractMonth: instrument.lastTradeDate,
  strike: instrument.strike,
  right: instrument.right === 'C' ? OptionType.Call : OptionType.Put,
  multiplier: 100,
});

describe('option analytics at the simulator', () => {
  let simulator: IbGatewaySimulator;
  let port: number;
  let call: Instrument;
  let put: Instrument;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    port = await simulator.start();
    simulator.setClock(MARKET_OPEN);
    const spot = simulator.market.quote(AAPL_CON_ID).last;
    const options = simulator.market
      .instruments()
      .filter((instrument) => instrument.secType === 'OPT' && instrument.underlyingConId === AAPL_CON_ID);
    const expiry = options.map((option) => option.lastTradeDate ?? '').sort()[0];
    const atTheMoney = (right: 'C' | 'P'): Instrument => {
      const candidates = options.filter(
        (option) => option.lastTradeDate === expiry && option.right === right,
      );
      candidates.sort((a, b) => Math.abs((a.strike ?? 0) - spot) - Math.abs((b.strike ?? 0) - spot));
      const [first] = candidates;
      if (!first) throw new Error('no AAPL option');
      return first;
    };
    call = atTheMoney('C');
    put = atTheMoney('P');
  });

  afterAll(async () => {
    disconnectAllClients();
    await simulator.stop();
  });

  it('streams option computation ticks for bid, ask, last and model, and the option generic ticks', async () => {
    const { ib, errors } = await connectClient(port);
    const ticks = await firstValueFrom(
      ib
        .getMarketData(optionContract(call), '100,101,104,106', false, false)
        .pipe(
          filter(({ all }) =>
            [
              IBApiNextTickType.MODEL_OPTION_IV,
              IBApiTickType.OPTION_CALL_OPEN_INTEREST,
              IBApiTickType.OPTION_IMPLIED_VOL,
            ].every((type) => all.has(type)),
          ),
        ),
    );
    const all: MarketDataTicks = ticks.all;
    const value = (type: number): number => all.get(type)?.value ?? NaN;
    const bid = value(IBApiTickType.BID);
    const ask = value(IBApiTickType.ASK);
    const spot = value(IBApiNextTickType.OPTION_UNDERLYING);
    expect(bid).toBeGreaterThan(0);
    expect(spot).toBeGreaterThan(0);
    // Each source's volatility reproduces its own price, so bid IV < model IV < ask IV.
    const bidIv = value(IBApiNextTickType.BID_OPTION_IV);
    const askIv = value(IBApiNextTickType.ASK_OPTION_IV);
    const modelIv = value(IBApiNextTickType.MODEL_OPTION_IV);
    expect(bidIv).toBeLessThan(modelIv);
    expect(modelIv).toBeLessThan(askIv);
    expect(value(IBApiNextTickType.LAST_OPTION_IV)).toBeGreaterThan(0);
    expect(value(IBApiNextTickType.BID_OPTION_PRICE)).toBeCloseTo(bid, 2);
    expect(value(IBApiNextTickType.ASK_OPTION_PRICE)).toBeCloseTo(ask, 2);
    const model = computeOption(call, (bid + ask) / 2, spot, MARKET_OPEN);
    expect(modelIv).toBeCloseTo(model?.impliedVolatility ?? NaN, 2);
    expect(value(IBApiNextTickType.MODEL_OPTION_DELTA)).toBeGreaterThan(0.3);
    expect(value(IBApiNextTickType.MODEL_OPTION_DELTA)).toBeLessThan(0.7);
    expect(value(IBApiNextTickType.MODEL_OPTION_GAMMA)).toBeGreaterThan(0);
    expect(value(IBApiNextTickType.MODEL_OPTION_VEGA)).toBeGreaterThan(0);
    expect(value(IBApiNextTickType.MODEL_OPTION_THETA)).toBeLessThan(0);
    // A call's own open interest and volume come in the call ticks (27, 29); no put ticks.
    const spec = OPTION_CHAINS[0];
    if (!spec) throw new Error('no chain');
    expect(value(IBApiTickType.OPTION_CALL_OPEN_INTEREST)).toBe(
      openInterest(simulator.market, spec, call, simulator.clock.now()),
    );
    expect(value(IBApiTickType.OPTION_CALL_OPEN_INTEREST)).toBeGreaterThan(0);
    expect(value(IBApiTickType.OPTION_CALL_VOLUME)).toBe(value(IBApiTickType.VOLUME));
    expect(all.has(IBApiTickType.OPTION_PUT_OPEN_INTEREST)).toBe(false);
    expect(value(IBApiTickType.OPTION_IMPLIED_VOL)).toBe(spec.impliedVol);
    expect(value(IBApiTickType.OPTION_HISTORICAL_VOL)).toBeGreaterThan(0);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it("answers the underlying's generic ticks with the chain's call and put volume and open interest", async () => {
    const { ib, errors } = await connectClient(port);
    const stock: Contract = { symbol: 'AAPL', secType: SecType.STK, exchange: 'SMART', currency: 'USD' };
    const { all } = await firstValueFrom(
      ib
        .getMarketData(stock, '100,101,104,106', false, false)
        .pipe(filter(({ all: ticks }) => ticks.has(IBApiTickType.OPTION_IMPLIED_VOL))),
    );
    for (const type of [
      IBApiTickType.OPTION_CALL_OPEN_INTEREST,
      IBApiTickType.OPTION_PUT_OPEN_INTEREST,
      IBApiTickType.OPTION_CALL_VOLUME,
      IBApiTickType.OPTION_PUT_VOLUME,
    ]) {
      expect(all.get(type)?.value).toBeGreaterThan(0);
    }
    expect(all.get(IBApiTickType.OPTION_IMPLIED_VOL)?.value).toBeGreaterThan(0);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('refuses a snapshot with generic ticks like IB (321)', async () => {
    const { ib } = await connectClient(port);
    await expect(ib.getMarketDataSnapshot(optionContract(put), '101', false)).rejects.toMatchObject({
      code: 321,
    });
  });

  it('answers calculateImpliedVolatility and calculateOptionPrice with tick 53 from the model', async () => {
    const { api, computations, errors } = await connectRawApi(port, 77);
    try {
      const now = simulator.clock.now();
      api.calculateImpliedVolatility(9001, optionContract(call), 6.5, 200);
      api.calculateOptionPrice(9002, optionContract(put), 0.3, 200);
      await waitFor(() => computations.has(9001) && computations.has(9002), 'both computations');
      const implied = computations.get(9001);
      const expected = computeOption(call, 6.5, 200, now);
      expect(implied?.tickType).toBe(CUST_OPTION_COMPUTATION);
      expect(implied?.impliedVol).toBeCloseTo(expected?.impliedVolatility ?? NaN, 3);
      expect(implied?.delta).toBeCloseTo(expected?.delta ?? NaN, 3);
      expect(implied?.undPrice).toBe(200);
      const priced = computations.get(9002);
      const model = priceOption(put, 0.3, 200, now);
      expect(priced?.tickType).toBe(CUST_OPTION_COMPUTATION);
      expect(priced?.impliedVol).toBeCloseTo(0.3, 6);
      expect(priced?.optPrice).toBeCloseTo(model?.optionPrice ?? NaN, 2);
      expect(priced?.delta).toBeLessThan(0);
      api.cancelCalculateImpliedVolatility(9001);
      api.cancelCalculateOptionPrice(9002);

      // Unknown and expired options: IB's 200.
      api.calculateOptionPrice(9003, { ...optionContract(call), strike: 1234.5 }, 0.3, 200);
      api.calculateImpliedVolatility(
        9004,
        { ...optionContract(call), lastTradeDateOrContractMonth: '20240119' },
        1,
        200,
      );
      await waitFor(() => errors.has(9003) && errors.has(9004), 'both errors');
      expect(errors.get(9003)?.code).toBe(200);
      expect(errors.get(9004)?.code).toBe(200);
    } finally {
      api.disconnect();
    }
  });
});
