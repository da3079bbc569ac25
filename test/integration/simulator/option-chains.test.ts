import { OptionType, SecType, type IBApiNext } from '@stoqey/ib';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** A Tuesday, 10:00 New York time: US equities and their options trade. */
const TUESDAY_MORNING_NY = Date.parse('2026-11-24T15:00:00Z');
const DAY = 86_400_000;

/**
 * reqSecDefOptParams lists the grid the simulator's universe synthesizes options on (the next weeklies,
 * monthlies for about a year, $5 strikes from half to one and a half times the price), and every expiry
 * and strike it lists resolves in contract details.
 */
describe('simulated option chains, through @stoqey/ib', () => {
  let simulator: IbGatewaySimulator;
  let client: TestClient;
  let ib: IBApiNext;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: 42 });
    simulator.setClock(TUESDAY_MORNING_NY);
    recordWire(simulator);
    const port = await simulator.start();
    client = await connectClient(port);
    ib = client.ib;
  });

  afterAll(async () => {
    expect(decodeErrors(client.errors)).toEqual([]);
    disconnectAllClients();
    await simulator.stop();
  });

  it.each(['AAPL', 'SPY'])(
    'reports the %s chain as the grid of options it lists, every expiry and strike resolving',
    async (symbol) => {
      const [underlying] = await ib.getContractDetails({
        symbol,
        secType: SecType.STK,
        exchange: 'SMART',
        currency: 'USD',
      });
      const conId = underlying?.contract.conId ?? 0;
      const parameters = await ib.getSecDefOptParams(symbol, '', SecType.STK, conId);
      expect(parameters.map((entry) => entry.exchange).sort()).toEqual(['CBOE', 'SMART']);
      const [smart] = parameters.filter((entry) => entry.exchange === 'SMART');
      if (!smart) throw new Error('no SMART entry');
      expect(smart).toMatchObject({ underlyingConId: conId, tradingClass: symbol, multiplier: 100 });
      // The next eight weeklies, then monthlies for about a year.
      expect(smart.expirations.length).toBeGreaterThanOrEqual(16);
      expect(smart.expirations).toEqual([...smart.expirations].sort());
      const dates = smart.expirations.map((expiration) =>
        Date.UTC(+expiration.slice(0, 4), +expiration.slice(4, 6) - 1, +expiration.slice(6, 8)),
      );
      for (const date of dates) {
        expect(new Date(date).getUTCDay()).toBe(5); // Fridays
        expect(date).toBeGreaterThanOrEqual(Date.UTC(2026, 10, 24));
        expect(date).toBeLessThanOrEqual(Date.UTC(2027, 11, 31));
      }
      for (let week = 1; week < 8; week++) expect((dates[week] ?? 0) - (dates[week - 1] ?? 0)).toBe(7 * DAY);
      // $5 strikes from half to one and a half times the underlying's price.
      const spot = simulator.market.quote(conId).last;
      expect(smart.strikes.every((strike) => strike % 5 === 0)).toBe(true);
      expect(Math.min(...smart.strikes)).toBeLessThanOrEqual(spot * 0.55);
      expect(Math.min(...smart.strikes)).toBeGreaterThanOrEqual(spot * 0.45);
      expect(Math.max(...smart.strikes)).toBeGreaterThanOrEqual(spot * 1.45);
      expect(Math.max(...smart.strikes)).toBeLessThanOrEqual(spot * 1.55);
      expect(smart.strikes.length).toBe((Math.max(...smart.strikes) - Math.min(...smart.strikes)) / 5 + 1);

      // Today's listed options lie on the grid.
      const options = await ib.getContractDetails({
        symbol,
        secType: SecType.OPT,
        exchange: 'SMART',
        currency: 'USD',
      });
      expect(options.length).toBeGreaterThan(0);
      for (const { contract } of options) {
        expect(smart.expirations).toContain(contract.lastTradeDateOrContractMonth);
        expect(smart.strikes).toContain(contract.strike);
      }
      for (const { contract, underConId } of options.slice(0, 5)) {
        expect(contract).toMatchObject({ multiplier: 100, tradingClass: symbol });
        expect(underConId).toBe(conId);
      }

      // Every expiry resolves, and the furthest one (beyond today's listed options) at every strike.
      const middle = smart.strikes[Math.floor(smart.strikes.length / 2)];
      const perExpiry = await Promise.all(
        smart.expirations.map(async (expiration) =>
          ib.getContractDetails({
            symbol,
            secType: SecType.OPT,
            exchange: 'SMART',
            lastTradeDateOrContractMonth: expiration,
            strike: middle,
            right: OptionType.Call,
          }),
        ),
      );
      expect(perExpiry.map((matches) => matches.length)).toEqual(smart.expirations.map(() => 1));
      const furthest = smart.expirations[smart.expirations.length - 1];
      const calls = await ib.getContractDetails({
        symbol,
        secType: SecType.OPT,
        exchange: 'SMART',
        lastTradeDateOrContractMonth: furthest,
        right: OptionType.Call,
      });
      expect(calls.map(({ contract }) => contract.strike).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
        smart.strikes,
      );
      const lowest = calls.find(({ contract }) => contract.strike === smart.strikes[0]);
      const byConId = await ib.getContractDetails({
        conId: lowest?.contract.conId ?? 0,
        exchange: 'SMART',
      });
      expect(byConId.map((match) => match.contract.localSymbol)).toEqual([lowest?.contract.localSymbol]);

      // One specific option, by its terms and then by its conId.
      const [expiration] = smart.expirations;
      const strike = smart.strikes[Math.floor(smart.strikes.length / 2)];
      const [option, ...more] = await ib.getContractDetails({
        symbol,
        secType: SecType.OPT,
        exchange: 'SMART',
        lastTradeDateOrContractMonth: expiration,
        strike,
        right: OptionType.Put,
      });
      expect(more).toEqual([]);
      const again = await ib.getContractDetails({ conId: option?.contract.conId ?? 0, exchange: 'SMART' });
      expect(again.map((match) => match.contract.localSymbol)).toEqual([option?.contract.localSymbol]);
    },
  );

  it('answers an unknown underlying with an empty chain and no error, like IB', async () => {
    const before = client.errors.length;
    expect(await ib.getSecDefOptParams('NOSUCHSYM', '', SecType.STK, 123456789)).toEqual([]);
    expect(await ib.getSecDefOptParams('MSFT', '', SecType.STK, 265598)).toEqual([]); // conId of another symbol
    expect(client.errors.slice(before)).toEqual([]);
  });
});
