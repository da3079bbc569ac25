import { Decoder } from '@stoqey/ib/dist/core/io/decoder';
import { SimulatorClock } from '../../../../src/simulator/control/simulator-clock';
import { bondContractDataMessage } from '../../../../src/simulator/market/bond-messages';
import {
  contractDataMessage,
  symbolSamplesMessage,
} from '../../../../src/simulator/market/contract-messages';
import type { Instrument } from '../../../../src/simulator/market/instrument';
import { Market } from '../../../../src/simulator/market/market';
import {
  historicalDataMessage,
  tickOptionComputationMessage,
  tickPriceMessage,
  tickSizeMessage,
} from '../../../../src/simulator/market/market-data-messages';
import { fieldsAt, formatField, type WireValue } from '../../../../src/simulator/protocol/framing';
import { decimalSize } from '../../../../src/simulator/protocol/messages';
import { ServerVersion } from '../../../../src/simulator/protocol/versions';

/** Every version the simulator speaks. */
const VERSIONS = Array.from(
  { length: ServerVersion.NEWEST - ServerVersion.OLDEST + 1 },
  (_, index) => ServerVersion.OLDEST + index,
);

interface Decoded {
  events: { name: string; args: unknown[] }[];
  errors: string[];
}

/** One server message as a session at `serverVersion` sends it, decoded by @stoqey/ib's Decoder at it. */
function decode(fields: readonly WireValue[], serverVersion: number): Decoded {
  const decoded: Decoded = { events: [], errors: [] };
  const decoder = new Decoder({
    serverVersion,
    emitEvent: (name: string, ...args: unknown[]) => decoded.events.push({ name, args }),
    emitInfo: () => undefined,
    emitError: (message: string) => decoded.errors.push(message),
  });
  decoder.enqueueMessage(fieldsAt(serverVersion, fields).map(formatField));
  decoder.process();
  return decoded;
}

describe('market messages at every version from 151 to 193', () => {
  const market = new Market({ seed: 42, clock: new SimulatorClock() });
  const find = (predicate: (instrument: Instrument) => boolean): Instrument => {
    const found = [...market.lookupInstruments(), ...market.instruments()].find(predicate);
    if (!found) throw new Error('no such instrument');
    return found;
  };
  const instruments = {
    stock: find((i) => i.symbol === 'AAPL' && i.secType === 'STK'),
    future: find((i) => i.secType === 'FUT'),
    option: find((i) => i.secType === 'OPT'),
    crypto: find((i) => i.secType === 'CRYPTO'),
    bond: find((i) => i.secType === 'BOND'),
  };
  const extras = { exchange: 'SMART', tradingHours: '', liquidHours: '' };

  it.each(VERSIONS)('CONTRACT_DATA and BOND_CONTRACT_DATA decode at v%i', (version) => {
    for (const instrument of [
      instruments.stock,
      instruments.future,
      instruments.option,
      instruments.crypto,
    ]) {
      const { events, errors } = decode(contractDataMessage(7, instrument, extras), version);
      expect(errors).toEqual([]);
      expect(events[0]?.args[0]).toBe(7);
      const details = events[0]?.args[1] as { contract: { conId: number; lastTradeDate?: string } };
      expect(details.contract.conId).toBe(instrument.conId);
    }
    const bond = decode(bondContractDataMessage(8, instruments.bond, extras), version);
    expect(bond.errors).toEqual([]);
    expect((bond.events[0]?.args[1] as { contract: { conId: number } }).contract.conId).toBe(
      instruments.bond.conId,
    );
  });

  it.each(VERSIONS)('SYMBOL_SAMPLES decodes at v%i', (version) => {
    const { events, errors } = decode(
      symbolSamplesMessage(9, [{ instrument: instruments.stock, derivativeSecTypes: ['OPT'] }]),
      version,
    );
    expect(errors).toEqual([]);
    const [sample] = events[0]?.args[1] as { contract: { conId: number; description?: string } }[];
    expect(sample?.contract.conId).toBe(instruments.stock.conId);
    expect(sample?.contract.description).toBe(
      version >= ServerVersion.BOND_ISSUERID ? instruments.stock.longName : undefined,
    );
  });

  it.each(VERSIONS)('TICK_OPTION_COMPUTATION decodes at v%i', (version) => {
    const computation = {
      impliedVolatility: 0.25,
      delta: 0.5,
      optionPrice: 3.2,
      pvDividend: 0,
      gamma: 0.01,
      vega: 0.2,
      theta: -0.05,
      underlyingPrice: 200,
    };
    const { events, errors } = decode(tickOptionComputationMessage(3, 13, computation), version);
    expect(errors).toEqual([]);
    // tickerId, tickType, attrib, impliedVol, delta, optPrice, pvDividend, gamma, vega, theta, undPrice
    expect(events[0]?.args.slice(3)).toEqual([0.25, 0.5, 3.2, 0, 0.01, 0.2, -0.05, 200]);
  });

  it.each(VERSIONS)('sizes are decimals from v163 and whole below it, at v%i', (version) => {
    const fractional = version >= ServerVersion.FRACTIONAL_SIZE_SUPPORT;
    const size = decode(tickSizeMessage(4, 0, 1.25), version);
    expect(size.errors).toEqual([]);
    expect(size.events[0]?.args[2]).toBe(fractional ? 1.25 : 1);
    // ASK (2): the client drops the size of a BID price (its BID_SIZE is tick type 0).
    const price = decode(tickPriceMessage(4, 2, 100.5, 0.75), version);
    expect(price.errors).toEqual([]);
    expect(price.events.find((event) => event.name === 'tickSize')?.args[2]).toBe(fractional ? 0.75 : 1);
    const bars = decode(
      historicalDataMessage(5, 'a', 'b', [
        { date: '1', open: 1, high: 2, low: 0.5, close: 1.5, volume: 10.5, wap: 1.2, count: 3 },
      ]),
      version,
    );
    expect(bars.errors).toEqual([]);
    expect(bars.events[0]?.args[6]).toBe(fractional ? 10.5 : 11);
    expect(fieldsAt(version, [decimalSize(100)])).toEqual([100]);
  });
});
