import { IBApiTickType, OptionType, SecType, type Contract, type MarketDataTicks } from '@stoqey/ib';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** A Wednesday, 11:00 in New York and 17:00 in Frankfurt: US stocks, EUREX and PAXOS all trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');

/** Resolves with the first few market data updates carrying a positive bid, ask and last. */
async function liveQuotes(client: TestClient, contract: Contract, updates = 2): Promise<MarketDataTicks[]> {
  const has = (ticks: MarketDataTicks, type: number): boolean => (ticks.get(type)?.value ?? 0) > 0;
  return firstValueFrom(
    client.ib.getMarketData(contract, '', false, false).pipe(
      filter((update) => has(update.all, IBApiTickType.BID) && has(update.all, IBApiTickType.ASK)),
      filter((update) => has(update.all, IBApiTickType.LAST)),
      take(updates),
      toArray(),
      timeout(8_000),
    ),
  ).then((list) => list.map((update) => update.all));
}

describe('simulator universe breadth: synthesized options, crypto, EUREX, a broad US stock list', () => {
  let simulator: IbGatewaySimulator;
  let client: TestClient;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    simulator.setClock(MARKET_OPEN);
    const port = await simulator.start();
    client = await connectClient(port);
  });

  afterEach(() => expect(decodeErrors(client.errors)).toEqual([]));

  afterAll(async () => {
    disconnectAllClients();
    await simulator.stop();
  });

  it('answers a far weekly AAPL option on the listed grid, and refuses one off it', async () => {
    // 2026-11-13 is a Friday (not the third of its month), 17 months out; 250 is on AAPL's $5 grid.
    const option: Contract = {
      symbol: 'AAPL',
      secType: SecType.OPT,
      exchange: 'SMART',
      currency: 'USD',
      lastTradeDateOrContractMonth: '20261113',
      strike: 250,
      right: OptionType.Call,
    };
    const [details, ...others] = await client.ib.getContractDetails(option);
    expect(others).toEqual([]);
    expect(details?.contract).toMatchObject({
      symbol: 'AAPL',
      secType: 'OPT',
      strike: 250,
      right: OptionType.Call,
      multiplier: 100,
      localSymbol: 'AAPL  261113C00250000',
      lastTradeDateOrContractMonth: '20261113',
    });
    expect(details?.underConId).toBe(265598);
    // The same contract again, by its conId: the synthesized option is now a listed one.
    const byConId = await client.ib.getContractDetails({ conId: details?.contract.conId ?? 0 });
    expect(byConId[0]?.contract.localSymbol).toBe('AAPL  261113C00250000');
    // Both rights without one.
    const both = await client.ib.getContractDetails({ ...option, right: undefined });
    expect(both.map((detail) => detail.contract.right).sort()).toEqual(['C', 'P']);

    for (const offGrid of [
      { ...option, strike: 252.5 }, // not on the $5 grid
      { ...option, lastTradeDateOrContractMonth: '20261112' }, // a Thursday
      { ...option, lastTradeDateOrContractMonth: '20280114' }, // beyond two years
    ]) {
      await expect(client.ib.getContractDetails(offGrid)).rejects.toMatchObject({ code: 200 });
    }

    const [quote] = await liveQuotes(client, { conId: details?.contract.conId, exchange: 'SMART' }, 1);
    expect(quote?.get(IBApiTickType.BID)?.value).toBeGreaterThan(0);
  });

  it('lists BTC and ETH on PAXOS as CRYPTO, found by symbol search, and streams their quotes', async () => {
    const [btc, ...others] = await client.ib.getContractDetails({
      symbol: 'BTC',
      secType: SecType.CRYPTO,
      exchange: 'PAXOS',
      currency: 'USD',
    });
    expect(others).toEqual([]);
    expect(btc?.contract).toMatchObject({
      symbol: 'BTC',
      secType: 'CRYPTO',
      exchange: 'PAXOS',
      currency: 'USD',
    });
    const [eth] = await client.ib.getContractDetails({
      symbol: 'ETH',
      secType: SecType.CRYPTO,
      exchange: 'PAXOS',
    });
    expect(eth?.contract.localSymbol).toBe('ETH.USD');

    const matches = await client.ib.getMatchingSymbols('BTC');
    expect(matches[0]?.contract).toMatchObject({ symbol: 'BTC', secType: 'CRYPTO' });

    const quotes = await liveQuotes(client, btc?.contract ?? {});
    const bid = quotes[0]?.get(IBApiTickType.BID)?.value ?? 0;
    expect(bid).toBeGreaterThan(10_000);
  });

  it('lists the DAX on EUREX and its quarterly FDAX futures, which stream', async () => {
    const [dax] = await client.ib.getContractDetails({
      symbol: 'DAX',
      secType: SecType.IND,
      exchange: 'EUREX',
    });
    expect(dax?.contract).toMatchObject({
      symbol: 'DAX',
      secType: 'IND',
      exchange: 'EUREX',
      currency: 'EUR',
    });
    expect(dax?.timeZoneId).toBe('MET');

    const futures = await client.ib.getContractDetails({
      symbol: 'DAX',
      secType: SecType.FUT,
      exchange: 'EUREX',
    });
    expect(futures.map((future) => future.contract.lastTradeDateOrContractMonth)).toEqual([
      '20250620',
      '20250919',
    ]);
    expect(futures[0]?.contract).toMatchObject({ tradingClass: 'FDAX', multiplier: 25, currency: 'EUR' });
    expect(futures[0]?.underConId).toBe(dax?.contract.conId);

    const stoxx = await client.ib.getContractDetails({
      symbol: 'ESTX50',
      secType: SecType.FUT,
      exchange: 'EUREX',
    });
    expect(stoxx[0]?.contract).toMatchObject({ tradingClass: 'FESX', multiplier: 10 });

    const quotes = await liveQuotes(client, futures[0]?.contract ?? {});
    expect(quotes[0]?.get(IBApiTickType.BID)?.value).toBeGreaterThan(10_000);
  });

  it('describes a Treasury (BOND, by its CUSIP) with BOND_CONTRACT_DATA, and streams its price', async () => {
    const [details, ...others] = await client.ib.getContractDetails({
      symbol: '91282CZS1',
      secType: SecType.BOND,
      exchange: 'SMART',
      currency: 'USD',
    });
    expect(others).toEqual([]);
    expect(details?.contract).toMatchObject({ symbol: '91282CZS1', secType: 'BOND', currency: 'USD' });
    expect(details).toMatchObject({
      cusip: '91282CZS1',
      coupon: 4.375,
      maturity: '20301130',
      issueDate: '20231130',
      bondType: 'US T-NOTE',
      timeZoneId: 'US/Eastern',
    });
    const quotes = await liveQuotes(client, details?.contract ?? {});
    const bid = quotes[0]?.get(IBApiTickType.BID)?.value ?? 0;
    expect(bid).toBeGreaterThan(80);
    expect(bid).toBeLessThan(120);
  });

  it('knows a broad list of ordinary US stocks and ETFs, by contract details and symbol search', async () => {
    const sample = ['KO', 'XOM', 'BAC', 'COST', 'NFLX', 'DIS', 'GLD', 'TLT', 'XLF', 'BRK B', 'PLTR', 'V'];
    for (const symbol of sample) {
      const [details, ...others] = await client.ib.getContractDetails({
        symbol,
        secType: SecType.STK,
        exchange: 'SMART',
        currency: 'USD',
      });
      expect(others).toEqual([]);
      expect(details?.contract).toMatchObject({ symbol, secType: 'STK', currency: 'USD' });
      expect(details?.longName).not.toBe('');
    }
    const stocks = simulator.market
      .lookupInstruments()
      .filter((instrument) => instrument.secType === 'STK' && instrument.currency === 'USD');
    expect(stocks.length).toBeGreaterThan(100);

    const matches = await client.ib.getMatchingSymbols('coca');
    expect(matches.map((match) => match.contract?.symbol)).toContain('KO');

    const quotes = await liveQuotes(client, {
      symbol: 'KO',
      secType: SecType.STK,
      exchange: 'SMART',
      currency: 'USD',
    });
    const bid = quotes[0]?.get(IBApiTickType.BID)?.value ?? 0;
    expect(bid).toBeGreaterThan(20);
    expect(bid).toBeLessThan(200);
  });
});
