import {
  BarSizeSetting,
  DurationUnit,
  EventName,
  IBApi,
  IBApiNextTickType,
  IBApiTickType,
  Instrument as ScannerInstrument,
  LocationCode,
  MarketDataType,
  OptionType,
  ScanCode,
  SecType,
  WhatToShow,
  WshEventData,
  type Contract,
  type IBApiNext,
  type NewsProvider,
} from '@stoqey/ib';
import { filter, firstValueFrom, lastValueFrom, timeout } from 'rxjs';
import { headTimestampMs } from '../../../src/simulator/market/head-timestamp';
import type { Instrument } from '../../../src/simulator/market/instrument';
import { SUBSCRIBED_NEWS_PROVIDERS } from '../../../src/simulator/news/news-feed';
import { Request } from '../../../src/simulator/protocol/message-ids';
import { ServerVersion } from '../../../src/simulator/protocol/versions';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import {
  connectClient,
  decodeErrors,
  disconnectAllClients,
  innerApi,
  negotiatedVersion,
  type TestClient,
} from '../../support/ib-client';
import { everyVersion } from '../../support/protocol-offers';
import { recordWire } from '../../support/wire-recorder';
import { refusalOf, scheduleRequest, stock, utc, waitFor } from './protocol-versions-support';

/** A Tuesday, 11:00 New York time: US markets trade. */
const TUESDAY = Date.parse('2026-11-24T16:00:00Z');
const AAPL = 265598;
const ACCOUNT = 'DU1111111';

/** Every version the simulator speaks; each session asks about its own stock (pacing counts per stock). */
const SYMBOLS = ['MSFT', 'AMZN', 'GOOGL', 'AAPL'] as const;
const SESSIONS = everyVersion().map((session, index) => ({
  ...session,
  symbol: SYMBOLS[index % SYMBOLS.length] ?? 'AAPL',
}));

/**
 * The simulator negotiates the version as IB Gateway does and speaks it: @stoqey/ib, made to offer an
 * older range, encodes every market, contract, news and system request for the version the simulator
 * answers and decodes the answers at it; the fidelity check then decodes every message at its version.
 */
describe('simulator protocol versions: market, contracts, news and system', () => {
  let simulator: IbGatewaySimulator;
  let port: number;

  const instrument = (symbol: string, secType = 'STK'): Instrument => {
    const found = simulator.market
      .lookupInstruments()
      .find((candidate) => candidate.symbol === symbol && candidate.secType === secType);
    if (!found) throw new Error(`no ${secType} ${symbol}`);
    return found;
  };

  describe.each(SESSIONS)('at $label', ({ offer, version, symbol }) => {
    let client: TestClient;
    let ib: IBApiNext;
    let api: IBApi;

    // A simulator per session: IB's historical pacing (60 requests in 10 minutes) would stop a shared one.
    beforeAll(async () => {
      simulator = new IbGatewaySimulator({ accounts: [ACCOUNT], marketData: { barUpdateIntervalMs: 100 } });
      recordWire(simulator);
      port = await simulator.start();
      simulator.setClock(TUESDAY);
      client = await connectClient(port, offer ? { offerVersions: offer } : {});
      ib = client.ib;
      api = innerApi(ib);
    });

    afterAll(async () => {
      expect(decodeErrors(client.errors)).toEqual([]);
      client.disconnect();
      disconnectAllClients();
      await simulator.stop();
    });

    it('negotiates the version and answers the system requests (current time, managed accounts)', async () => {
      expect(negotiatedVersion(ib)).toBe(version);
      const time = await ib.getCurrentTime();
      expect(Math.abs(time * 1000 - simulator.clock.now())).toBeLessThan(5_000);
      await expect(ib.getManagedAccounts()).resolves.toEqual([ACCOUNT]);
    });

    it('describes a stock with the fields of its version (CONTRACT_DATA)', async () => {
      const aapl = instrument('AAPL');
      const [details, ...others] = await ib.getContractDetails(stock('AAPL'));
      expect(others).toEqual([]);
      expect(details?.contract).toMatchObject({ conId: aapl.conId, symbol: 'AAPL', secType: 'STK' });
      expect(details).toMatchObject({ longName: aapl.longName, timeZoneId: aapl.timeZoneId });
      expect(details?.stockType).toBe(version >= ServerVersion.STOCK_TYPE ? aapl.stockType : undefined);
      expect(details?.minSize).toBe(version >= ServerVersion.SIZE_RULES ? 0.0001 : undefined);
      expect(details?.ineligibilityReasonList).toEqual(
        version >= ServerVersion.INELIGIBILITY_REASONS ? [] : undefined,
      );
    });

    it('describes a future and an option with their dates (CONTRACT_DATA, lastTradeDate from v182)', async () => {
      const futures = await ib.getContractDetails({ symbol: 'DAX', secType: SecType.FUT, exchange: 'EUREX' });
      const expected = simulator.market
        .lookupInstruments()
        .filter((candidate) => candidate.symbol === 'DAX' && candidate.secType === 'FUT');
      expect(futures.map((future) => future.contract.conId)).toEqual(expected.map((future) => future.conId));
      const first = futures[0];
      expect(first?.contract.lastTradeDateOrContractMonth).toBe(expected[0]?.lastTradeDate);
      expect(first?.contract.lastTradeDate).toBe(
        version >= ServerVersion.LAST_TRADE_DATE ? expected[0]?.lastTradeDate : undefined,
      );
      const option = simulator.market
        .instruments()
        .find((candidate) => candidate.secType === 'OPT' && candidate.underlyingConId === AAPL);
      const [optionDetails] = await ib.getContractDetails({
        symbol: 'AAPL',
        secType: SecType.OPT,
        exchange: 'SMART',
        currency: 'USD',
        lastTradeDateOrContractMonth: option?.lastTradeDate,
        strike: option?.strike,
        right: option?.right === 'C' ? OptionType.Call : OptionType.Put,
      });
      expect(optionDetails?.contract.conId).toBe(option?.conId);
      expect(optionDetails?.underConId).toBe(AAPL);
    });

    it('describes a Treasury with BOND_CONTRACT_DATA (trading hours from v188)', async () => {
      const bond = instrument('91282CZS1', 'BOND');
      const [details] = await ib.getContractDetails({ symbol: '91282CZS1', secType: SecType.BOND });
      expect(details?.contract.conId).toBe(bond.conId);
      expect(details).toMatchObject({ cusip: bond.bond?.cusip, maturity: bond.bond?.maturity });
      expect(details?.timeZoneId).toBe(
        version >= ServerVersion.BOND_TRADING_HOURS ? bond.timeZoneId : undefined,
      );
    });

    it('finds symbols (SYMBOL_SAMPLES, descriptions from v176) and option chains', async () => {
      const [first] = await ib.getMatchingSymbols('AAP');
      expect(first?.contract?.conId).toBe(AAPL);
      expect(first?.contract?.description).toBe(
        version >= ServerVersion.BOND_ISSUERID ? instrument('AAPL').longName : undefined,
      );
      const chains = await ib.getSecDefOptParams('AAPL', '', SecType.STK, AAPL);
      const chain = simulator.market.optionChain(AAPL);
      expect(chains.map((entry) => entry.exchange).sort()).toEqual([...(chain?.exchanges ?? [])].sort());
      expect(chains[0]?.expirations).toEqual(chain?.expirations);
    });

    it('answers a market rule (MARKET_RULE)', async () => {
      const ruleId = Number(instrument('AAPL').marketRuleIds?.split(',')[0]);
      const increments = await ib.getMarketRule(ruleId);
      expect(increments.length).toBeGreaterThan(0);
      expect(increments[0]?.lowEdge).toBe(0);
    });

    it('answers a snapshot at the requested market data type (TICK_PRICE, TICK_SIZE, 57)', async () => {
      ib.setMarketDataType(MarketDataType.REALTIME);
      const conId = instrument(symbol).conId;
      const snapshot = await ib.getMarketDataSnapshot(stock(symbol), '', false);
      const quote = simulator.market.quote(conId);
      expect(snapshot.get(IBApiTickType.CLOSE)?.value).toBe(quote.close);
      const bid = snapshot.get(IBApiTickType.BID)?.value ?? NaN;
      expect(bid).toBeGreaterThan(0);
      expect(bid).toBeLessThanOrEqual(snapshot.get(IBApiTickType.ASK)?.value ?? 0);
      expect(Number.isInteger(snapshot.get(IBApiTickType.BID_SIZE)?.value)).toBe(true);
      expect(snapshot.get(IBApiTickType.VOLUME)?.value).toBeGreaterThan(0);
    });

    it('streams an option with its computations (TICK_OPTION_COMPUTATION, no version from v156)', async () => {
      const option = simulator.market
        .instruments()
        .find((candidate) => candidate.secType === 'OPT' && candidate.underlyingConId === AAPL);
      const contract: Contract = { conId: option?.conId, exchange: 'SMART' };
      const update = await firstValueFrom(
        ib.getMarketData(contract, '100,101,104,106', false, false).pipe(
          filter(({ all }) => all.has(IBApiNextTickType.MODEL_OPTION_IV)),
          timeout(5_000),
        ),
      );
      expect(update.all.get(IBApiNextTickType.MODEL_OPTION_IV)?.value).toBeGreaterThan(0);
      expect(update.all.get(IBApiNextTickType.MODEL_OPTION_DELTA)?.value).toBeDefined();
    });

    it('calculates an implied volatility and an option price (REQ_CALC_*)', async () => {
      const option = simulator.market
        .instruments()
        .find((candidate) => candidate.secType === 'OPT' && candidate.underlyingConId === AAPL);
      const contract: Contract = { conId: option?.conId, exchange: 'SMART' };
      const results = new Map<number, { impliedVol?: number; optPrice?: number }>();
      const listener = (
        reqId: number,
        _tickType: number,
        _attrib: number | undefined,
        impliedVol?: number,
        _delta?: number,
        optPrice?: number,
      ): void => void results.set(reqId, { impliedVol, optPrice });
      api.on(EventName.tickOptionComputation, listener);
      const spot = simulator.market.quote(AAPL).last;
      api.calculateImpliedVolatility(9001, contract, 5, spot);
      api.calculateOptionPrice(9002, contract, 0.3, spot);
      await waitFor(() => results.has(9001) && results.has(9002), 'both calculations');
      api.off(EventName.tickOptionComputation, listener);
      expect(results.get(9001)?.impliedVol).toBeGreaterThan(0);
      expect(results.get(9002)?.optPrice).toBeGreaterThan(0);
    });

    it('answers historical bars and their updates (HISTORICAL_DATA, HISTORICAL_DATA_UPDATE)', async () => {
      const bars = await ib.getHistoricalData(
        stock(symbol),
        '',
        '2 D',
        BarSizeSetting.HOURS_ONE,
        WhatToShow.TRADES,
        1,
        2,
      );
      expect(bars.length).toBeGreaterThan(3);
      for (const bar of bars) {
        expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open ?? 0, bar.close ?? 0));
        expect(Number.isInteger(bar.volume)).toBe(true);
      }
      const update = await firstValueFrom(
        ib
          .getHistoricalDataUpdates(stock(symbol), BarSizeSetting.MINUTES_ONE, WhatToShow.MIDPOINT, 2)
          .pipe(timeout(5_000)),
      );
      expect(update.close).toBeGreaterThan(0);
    });

    const schedule =
      version >= ServerVersion.HISTORICAL_SCHEDULE
        ? 'answers a trading schedule (HISTORICAL_SCHEDULE)'
        : 'refuses a trading schedule (321: SCHEDULE exists from v165)';
    it(schedule, async () => {
      const reqId = 9400 + version;
      if (version < ServerVersion.HISTORICAL_SCHEDULE) {
        const target = instrument(symbol);
        expect(await refusalOf(client, reqId, scheduleRequest(reqId, target.conId, symbol))).toBe(321);
        return;
      }
      type Session = { startDateTime: string; endDateTime: string; refDate: string };
      type ScheduleListener = (
        id: number,
        start: string,
        end: string,
        zone: string,
        sessions: Session[],
      ) => void;
      // IBApi 1.6.10 emits historicalSchedule but does not type it.
      const events = api as unknown as {
        on(name: EventName, listener: ScheduleListener): void;
        off(name: EventName, listener: ScheduleListener): void;
      };
      const answer = new Promise<{ timeZone: string; sessions: Session[] }>((resolve) => {
        const listener: ScheduleListener = (id, _start, _end, timeZone, sessions) => {
          if (id !== reqId) return;
          events.off(EventName.historicalSchedule, listener);
          resolve({ timeZone, sessions });
        };
        events.on(EventName.historicalSchedule, listener);
      });
      api.reqHistoricalData(
        reqId,
        stock(symbol),
        '',
        '1 W',
        BarSizeSetting.DAYS_ONE,
        WhatToShow.SCHEDULE,
        1,
        1,
        false,
      );
      const { timeZone, sessions } = await answer;
      expect(timeZone).toBe(instrument(symbol).timeZoneId);
      expect(sessions.length).toBeGreaterThanOrEqual(4);
      for (const session of sessions) {
        expect(session.startDateTime).toBe(`${session.refDate}-09:30:00`);
        expect(session.endDateTime).toBe(`${session.refDate}-16:00:00`);
      }
    });

    it('answers head timestamps, histograms and time & sales (HEAD_TIMESTAMP, HISTOGRAM_DATA, HISTORICAL_TICKS*)', async () => {
      const target = instrument(symbol);
      const head = await ib.getHeadTimestamp(stock(symbol), WhatToShow.TRADES, true, 2);
      const expected = headTimestampMs(simulator.market, target, 'TRADES', true, simulator.clock.now());
      expect(Number(head)).toBe(Math.floor((expected ?? 0) / 1000));
      const histogram = await ib.getHistogramData(stock(symbol), true, 1, DurationUnit.DAY);
      expect(histogram.length).toBeGreaterThan(0);
      const end = utc(simulator.clock.now() - 60_000);
      const trades = await lastValueFrom(ib.getHistoricalTicksLast(stock(symbol), '', end, 10, 1));
      expect(trades.length).toBeGreaterThan(0);
      const quotes = await lastValueFrom(ib.getHistoricalTicksBidAsk(stock(symbol), '', end, 10, 1, false));
      for (const tick of quotes) {
        expect(tick.priceBid).toBe(simulator.market.quote(target.conId, (tick.time ?? 0) * 1000).bid);
      }
      const mids = await lastValueFrom(ib.getHistoricalTicksMid(stock(symbol), '', end, 10, 1));
      expect(mids.length).toBe(quotes.length);
    });

    it('answers scanner parameters and a scan (SCANNER_PARAMETERS, SCANNER_DATA)', async () => {
      const xml = await ib.getScannerParameters();
      expect(xml).toContain('<ScanParameterResponse>');
      const scan = ib.getMarketScanner({
        instrument: ScannerInstrument.STK,
        locationCode: LocationCode.STK_US_MAJOR,
        scanCode: ScanCode.TOP_PERC_GAIN,
        numberOfRows: 5,
      });
      const rows = [...(await firstValueFrom(scan.pipe(timeout(5_000)))).all.values()];
      expect(rows).toHaveLength(5);
      for (const row of rows) {
        expect(simulator.market.instrument(row.contract.contract.conId ?? 0)?.symbol).toBe(
          row.contract.contract.symbol,
        );
      }
    });

    it('answers news providers, headlines and an article (NEWS_PROVIDERS, HISTORICAL_NEWS, NEWS_ARTICLE)', async () => {
      const providers = await new Promise<NewsProvider[]>((resolve) => {
        api.once(EventName.newsProviders, resolve);
        api.reqNewsProviders();
      });
      expect(providers.map((provider) => provider.providerCode)).toEqual(
        SUBSCRIBED_NEWS_PROVIDERS.map((provider) => provider.code),
      );
      const headlines: string[] = [];
      let ended = false;
      const onHeadline = (_reqId: number, _time: string, _provider: string, articleId: string): void =>
        void headlines.push(articleId);
      const onEnd = (): void => void (ended = true);
      api.on(EventName.historicalNews, onHeadline);
      api.once(EventName.historicalNewsEnd, onEnd);
      api.reqHistoricalNews(9101, AAPL, 'BRFG+BRFUPDN+DJNL', '', '', 5);
      await waitFor(() => ended, 'the headlines');
      api.off(EventName.historicalNews, onHeadline);
      expect(headlines.length).toBeGreaterThan(0);
      const article = await new Promise<string>((resolve) => {
        api.once(EventName.newsArticle, (_reqId: number, _type: number, text: string) => resolve(text));
        api.reqNewsArticle(9102, headlines[0]?.split('$')[0] ?? '', headlines[0] ?? '');
      });
      expect(article.length).toBeGreaterThan(0);
    });

    it('sends the news bulletins (NEWS_BULLETINS)', async () => {
      const bulletin = new Promise<string>((resolve) => {
        api.once(EventName.updateNewsBulletin, (_id: number, _type: number, message: string) =>
          resolve(message),
        );
      });
      api.reqNewsBulletins(true);
      await expect(bulletin).resolves.toContain('simulator');
      api.cancelNewsBulletins();
    });

    const wshSince =
      version >= ServerVersion.WSHE_CALENDAR ? 'answers' : 'refuses (321, the request exists from v161)';
    it(`${wshSince} Wall Street Horizon requests`, async () => {
      if (version >= ServerVersion.WSHE_CALENDAR) {
        api.reqWshMetaData(9201);
        api.reqWshEventData(9202, new WshEventData(AAPL));
        await waitFor(
          () => [9201, 9202].every((id) => client.errors.some((e) => e.reqId === id)),
          'two 10276',
        );
        expect(client.errors.filter((e) => e.reqId >= 9201 && e.reqId <= 9202).map((e) => e.code)).toEqual([
          10276, 10276,
        ]);
      } else {
        expect(await refusalOf(client, 9203, [Request.REQ_WSH_META_DATA, 9203])).toBe(321);
      }
    });

    const userInfo =
      version >= ServerVersion.USER_INFO ? 'answers' : 'refuses (321, the request exists from v167)';
    it(`${userInfo} reqUserInfo`, async () => {
      if (version >= ServerVersion.USER_INFO) {
        await expect(ib.getUserInfo()).resolves.toBe('');
      } else {
        expect(await refusalOf(client, 9301, [Request.REQ_USER_INFO, 9301])).toBe(321);
      }
    });
  });
});
