import { OptionType, SecType, type Contract, type ContractDetails, type IBApiNext } from '@stoqey/ib';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** A Tuesday, 10:00 New York time: US equities, FX and ES all trade. */
const TUESDAY_MORNING_NY = Date.parse('2026-11-24T15:00:00Z');
const MINUTE = 60_000;

const AAPL: Contract = { symbol: 'AAPL', secType: SecType.STK, exchange: 'SMART', currency: 'USD' };

/** Epoch ms of a wall-clock time in an IANA (or IB "US/...") zone, computed independently of the simulator. */
function zonedToEpoch(date: string, hhmm: string, timeZone: string): number {
  const wall = Date.UTC(
    +date.slice(0, 4),
    +date.slice(4, 6) - 1,
    +date.slice(6, 8),
    +hhmm.slice(0, 2),
    +hhmm.slice(2, 4),
  );
  const offsetAt = (epoch: number): number => {
    const parts: Record<string, number> = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
      })
        .formatToParts(epoch)
        .map((part) => [part.type, Number(part.value)]),
    );
    const part = (type: string): number => parts[type] ?? 0;
    return Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute')) - epoch;
  };
  const guess = wall - offsetAt(wall);
  return wall - offsetAt(guess);
}

/** IB's "20261124:0400-20261124:2000;20261128:CLOSED;..." as epoch intervals (and the closed dates). */
function parseHours(
  hours: string,
  timeZone: string,
): { sessions: { start: number; end: number }[]; closed: string[] } {
  const sessions: { start: number; end: number }[] = [];
  const closed: string[] = [];
  for (const part of hours.split(';')) {
    const closedDay = /^(\d{8}):CLOSED$/.exec(part);
    if (closedDay?.[1]) {
      closed.push(closedDay[1]);
      continue;
    }
    const session = /^(\d{8}):(\d{4})-(\d{8}):(\d{4})$/.exec(part);
    if (!session) throw new Error(`Unparseable hours entry "${part}"`);
    const [, startDate = '', startTime = '', endDate = '', endTime = ''] = session;
    sessions.push({
      start: zonedToEpoch(startDate, startTime, timeZone),
      end: zonedToEpoch(endDate, endTime, timeZone),
    });
  }
  return { sessions, closed };
}

describe('simulated contracts, through @stoqey/ib', () => {
  let simulator: IbGatewaySimulator;
  let port: number;
  let client: TestClient;
  let ib: IBApiNext;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: 42 });
    simulator.setClock(TUESDAY_MORNING_NY);
    recordWire(simulator);
    port = await simulator.start();
    client = await connectClient(port);
    ib = client.ib;
  });

  afterAll(async () => {
    expect(decodeErrors(client.errors)).toEqual([]);
    disconnectAllClients();
    await simulator.stop();
  });

  describe('contract details', () => {
    it('resolves a stock on SMART uniquely, and the same contract again by its conId alone', async () => {
      const [details, ...others] = await ib.getContractDetails(AAPL);
      expect(others).toEqual([]);
      expect(details?.contract).toMatchObject({
        symbol: 'AAPL',
        secType: 'STK',
        exchange: 'SMART',
        primaryExch: 'NASDAQ',
        currency: 'USD',
        conId: 265598, // IB's real conId for AAPL
      });
      expect(details?.minTick).toBe(0.01);
      expect(details?.validExchanges?.split(',')).toContain('SMART');
      expect(details?.secIdList).toEqual([{ tag: 'ISIN', value: expect.stringMatching(/^US/) }]);

      const byConId = await ib.getContractDetails({ conId: details?.contract.conId ?? 0 });
      expect(byConId.map((match) => match.contract)).toEqual([details?.contract]);
    });

    it('returns every listing of an ambiguous request (IBM on NYSE and on the Mexican exchange)', async () => {
      const matches = await ib.getContractDetails({ symbol: 'IBM', secType: SecType.STK });
      expect(matches).toHaveLength(2);
      expect(new Set(matches.map((match) => match.contract.currency))).toEqual(new Set(['USD', 'MXN']));
      expect(new Set(matches.map((match) => match.contract.conId)).size).toBe(2);

      const onSmart = await ib.getContractDetails({ symbol: 'ibm', secType: SecType.STK, exchange: 'SMART' });
      expect(onSmart.map((match) => match.contract.currency)).toEqual(['USD']);
    });

    it('rejects an unknown contract with error 200', async () => {
      await expect(
        ib.getContractDetails({ symbol: 'NOSUCHSYM', secType: SecType.STK, exchange: 'SMART' }),
      ).rejects.toMatchObject({
        code: 200,
        message: 'No security definition has been found for the request',
      });
      await expect(ib.getContractDetails({ ...AAPL, currency: 'EUR' })).rejects.toMatchObject({ code: 200 });
    });

    it('describes FX pairs the IDEALPRO way', async () => {
      const [details] = await ib.getContractDetails({
        symbol: 'EUR',
        secType: SecType.CASH,
        currency: 'USD',
        exchange: 'IDEALPRO',
      });
      expect(details?.contract).toMatchObject({
        symbol: 'EUR',
        currency: 'USD',
        localSymbol: 'EUR.USD',
        exchange: 'IDEALPRO',
      });
      const byLocalSymbol = await ib.getContractDetails({ localSymbol: 'EUR.USD', secType: SecType.CASH });
      expect(byLocalSymbol.map((match) => match.contract.conId)).toEqual([details?.contract.conId]);
    });

    it('lists two quarterly ES futures, each found again by its local symbol and by its month', async () => {
      const futures = await ib.getContractDetails({ symbol: 'ES', secType: SecType.FUT, exchange: 'CME' });
      expect(futures).toHaveLength(2);
      const today = new Date(TUESDAY_MORNING_NY).toISOString().slice(0, 10).replaceAll('-', '');
      for (const future of futures) {
        const { contract } = future;
        expect(contract.multiplier).toBe(50);
        expect(contract.lastTradeDateOrContractMonth).toMatch(/^\d{8}$/);
        expect((contract.lastTradeDateOrContractMonth ?? '') >= today).toBe(true);
        expect(['03', '06', '09', '12']).toContain(future.contractMonth?.slice(4, 6));
        expect(contract.localSymbol).toMatch(/^ES[HMUZ]\d$/);
        const byLocalSymbol = await ib.getContractDetails({
          localSymbol: contract.localSymbol,
          secType: SecType.FUT,
          exchange: 'CME',
        });
        expect(byLocalSymbol.map((match) => match.contract.conId)).toEqual([contract.conId]);
        const byMonth = await ib.getContractDetails({
          symbol: 'ES',
          secType: SecType.FUT,
          exchange: 'CME',
          lastTradeDateOrContractMonth: future.contractMonth,
        });
        expect(byMonth.map((match) => match.contract.conId)).toEqual([contract.conId]);
      }
    });

    it('reports an index with no volume and its hours', async () => {
      const [spx] = await ib.getContractDetails({ symbol: 'SPX', secType: SecType.IND, exchange: 'CBOE' });
      expect(spx?.contract).toMatchObject({ symbol: 'SPX', secType: 'IND', currency: 'USD' });
      expect(simulator.market.quote(spx?.contract.conId ?? 0).volume).toBe(0);
    });
  });

  describe('trading hours', () => {
    async function detailsOf(contract: Contract): Promise<ContractDetails> {
      const [details] = await ib.getContractDetails(contract);
      if (!details) throw new Error(`no details for ${JSON.stringify(contract)}`);
      return details;
    }

    it.each([
      ['a US stock', AAPL],
      ['an FX pair', { symbol: 'EUR', secType: SecType.CASH, currency: 'USD', exchange: 'IDEALPRO' }],
      ['the SPX index', { symbol: 'SPX', secType: SecType.IND, exchange: 'CBOE' }],
      ['an IBM listing in Mexico', { symbol: 'IBM', secType: SecType.STK, currency: 'MXN' }],
    ] as [string, Contract][])(
      'parses for %s and agrees with when the market trades',
      async (_name, contract) => {
        const details = await detailsOf(contract);
        const zone = details.timeZoneId ?? '';
        const trading = parseHours(details.tradingHours ?? '', zone);
        const liquid = parseHours(details.liquidHours ?? '', zone);
        expect(trading.sessions.length).toBeGreaterThanOrEqual(4);
        expect(trading.closed.length).toBeGreaterThanOrEqual(1); // the weekend
        const conId = details.contract.conId ?? 0;
        for (const { start, end } of trading.sessions) {
          expect(end).toBeGreaterThan(start);
          expect(simulator.market.isTrading(conId, start)).toBe(true);
          expect(simulator.market.isTrading(conId, (start + end) / 2)).toBe(true);
          expect(simulator.market.isTrading(conId, end - 1)).toBe(true);
          expect(simulator.market.isTrading(conId, end)).toBe(false);
          expect(simulator.market.isTrading(conId, start - 1)).toBe(false);
        }
        // Liquid hours lie within trading hours.
        for (const { start, end } of liquid.sessions) {
          expect(trading.sessions.some((session) => session.start <= start && end <= session.end)).toBe(true);
          expect(simulator.market.isRegularHours(conId, (start + end) / 2)).toBe(true);
        }
      },
    );
  });

  describe('symbol search', () => {
    it('matches symbol prefixes first and company names after, with the derivatives each has', async () => {
      const matches = await ib.getMatchingSymbols('AAP');
      expect(matches[0]?.contract).toMatchObject({
        symbol: 'AAPL',
        secType: 'STK',
        primaryExch: 'NASDAQ',
        currency: 'USD',
      });
      expect(matches[0]?.derivativeSecTypes).toContain('OPT');

      const byName = await ib.getMatchingSymbols('micro');
      expect(byName.map((match) => match.contract?.symbol)).toContain('MSFT');

      const ibm = await ib.getMatchingSymbols('IBM');
      expect(ibm.filter((match) => match.contract?.symbol === 'IBM')).toHaveLength(2);

      const es = await ib.getMatchingSymbols('ES');
      const esIndex = es.find((match) => match.contract?.symbol === 'ES');
      expect(esIndex?.derivativeSecTypes).toEqual(['FUT']);

      expect(await ib.getMatchingSymbols('ZZZZQ')).toEqual([]);
    });

    it('returns at most 16 descriptions', async () => {
      const many = await ib.getMatchingSymbols('I');
      expect(many.length).toBeGreaterThan(0);
      expect(many.length).toBeLessThanOrEqual(16);
    });
  });

  describe('quotes and bars', () => {
    const conIdOf = async (contract: Contract): Promise<number> =>
      (await ib.getContractDetails(contract))[0]?.contract.conId ?? 0;

    it('quotes move over time with bid <= last-trade book and a spread of at least one tick', async () => {
      for (const contract of [
        AAPL,
        { symbol: 'EUR', secType: SecType.CASH, currency: 'USD', exchange: 'IDEALPRO' },
        { symbol: 'ES', secType: SecType.FUT, exchange: 'CME' },
      ] as Contract[]) {
        const details = (await ib.getContractDetails(contract))[0];
        const conId = details?.contract.conId ?? 0;
        const minTick = details?.minTick ?? 0;
        const now = simulator.clock.now();
        const quotes = Array.from({ length: 30 }, (_, i) => simulator.market.quote(conId, now + i * MINUTE));
        expect(new Set(quotes.map((quote) => quote.last)).size).toBeGreaterThan(5);
        for (const quote of quotes) {
          expect(quote.marketOpen).toBe(true);
          expect(quote.ask - quote.bid).toBeGreaterThanOrEqual(minTick - 1e-9);
          expect(quote.low).toBeLessThanOrEqual(quote.last);
          expect(quote.high).toBeGreaterThanOrEqual(quote.last);
          expect(quote.bidSize).toBeGreaterThan(0);
          expect(quote.askSize).toBeGreaterThan(0);
          // The last trade printed inside its own second's book.
          const book = simulator.market.quote(conId, quote.lastTime ?? 0);
          expect(quote.last).toBeGreaterThanOrEqual(book.bid);
          expect(quote.last).toBeLessThanOrEqual(book.ask);
        }
        const volumes = quotes.map((quote) => quote.volume);
        expect(volumes).toEqual([...volumes].sort((a, b) => a - b));
      }
    });

    it('moves option quotes with the underlying', async () => {
      const aapl = await conIdOf(AAPL);
      const [smart] = await ib.getSecDefOptParams('AAPL', '', SecType.STK, aapl);
      const spot = simulator.market.quote(aapl).last;
      const strike = smart?.strikes.reduce((best, value) =>
        Math.abs(value - spot) < Math.abs(best - spot) ? value : best,
      );
      const [call] = await ib.getContractDetails({
        symbol: 'AAPL',
        secType: SecType.OPT,
        exchange: 'SMART',
        lastTradeDateOrContractMonth: smart?.expirations[1],
        strike,
        right: OptionType.Call,
      });
      const callId = call?.contract.conId ?? 0;
      const now = simulator.clock.now();
      const pairs = Array.from({ length: 40 }, (_, i) => ({
        underlying: simulator.market.quote(aapl, now + i * 5 * MINUTE).last,
        option: simulator.market.quote(callId, now + i * 5 * MINUTE).last,
      }));
      // A call rises and falls with its underlying: successive moves mostly share their sign.
      let agree = 0;
      let moves = 0;
      for (let i = 1; i < pairs.length; i++) {
        const du = (pairs[i]?.underlying ?? 0) - (pairs[i - 1]?.underlying ?? 0);
        const dc = (pairs[i]?.option ?? 0) - (pairs[i - 1]?.option ?? 0);
        if (Math.abs(du) < 0.05) continue;
        moves++;
        if (Math.sign(du) === Math.sign(dc)) agree++;
      }
      expect(moves).toBeGreaterThan(10);
      expect(agree / moves).toBeGreaterThan(0.9);
    });

    it('builds bars that agree with the quotes: last close, session volume, extremes', async () => {
      const conId = await conIdOf(AAPL);
      const now = simulator.clock.now();
      const quote = simulator.market.quote(conId, now);
      const dayStart = now - 16 * 60 * MINUTE; // from Monday 18:00 ET
      const bars = simulator.market.bars(conId, dayStart, now, 5 * MINUTE);
      const last = bars[bars.length - 1];
      expect(last?.close).toBeCloseTo(quote.last, 6);
      // Today's bars (the session opened at 04:00 ET = 09:00Z) add up to the quote's session volume.
      const sessionStart = Date.parse('2026-11-24T09:00:00Z');
      const today = bars.filter((bar) => bar.start >= sessionStart);
      expect(today[0]?.start).toBe(sessionStart);
      expect(today[0]?.open).toBe(quote.open);
      expect(today.reduce((sum, bar) => sum + bar.volume, 0)).toBe(quote.volume);
      expect(Math.max(...today.map((bar) => bar.high))).toBeLessThanOrEqual(quote.high);
      expect(Math.min(...today.map((bar) => bar.low))).toBeGreaterThanOrEqual(quote.low);
      for (const bar of bars) {
        expect(bar.high).toBeGreaterThanOrEqual(Math.max(bar.open, bar.close));
        expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open, bar.close));
        expect(simulator.market.isTrading(conId, bar.start)).toBe(true);
      }
      // Yesterday's last bar closes at the price the quote calls the previous close.
      const yesterday = bars.filter((bar) => bar.start < sessionStart);
      expect(yesterday[yesterday.length - 1]?.close).toBe(quote.close);

      const regular = simulator.market.bars(conId, dayStart, now, 5 * MINUTE, { regularHoursOnly: true });
      expect(regular.length).toBeGreaterThan(0);
      expect(regular.length).toBeLessThan(bars.length);
      for (const bar of regular) expect(simulator.market.isRegularHours(conId, bar.start)).toBe(true);
      expect(regular[regular.length - 1]?.close).toBeCloseTo(quote.last, 6);
    });

    it('builds daily bars per session with their trade dates', async () => {
      const conId = await conIdOf({
        symbol: 'EUR',
        secType: SecType.CASH,
        currency: 'USD',
        exchange: 'IDEALPRO',
      });
      const now = simulator.clock.now();
      const days = simulator.market.bars(conId, now - 14 * 24 * 60 * MINUTE, now, 24 * 60 * MINUTE);
      expect(days.map((bar) => bar.tradeDate)).toEqual([
        '20261110',
        '20261111',
        '20261112',
        '20261113',
        '20261116',
        '20261117',
        '20261118',
        '20261119',
        '20261120',
        '20261123',
        '20261124',
      ]);
      expect(days[days.length - 1]?.close).toBe(simulator.market.quote(conId, now).last);
      expect(days[days.length - 1]?.volume).toBe(simulator.market.quote(conId, now).volume);
    });
  });
});
