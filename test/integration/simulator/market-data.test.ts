import {
  EventName,
  IBApi,
  IBApiNextTickType,
  IBApiTickType,
  MarketDataType,
  SecType,
  type Contract,
  type IBApiNextError,
  type MarketDataUpdate,
  type MarketDataTicks,
} from '@stoqey/ib';
import type { Subscription } from 'rxjs';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** Wednesday 2026-11-18 11:00 New York: US stocks and options trade. */
const WEDNESDAY_MORNING = Date.UTC(2026, 10, 18, 16, 0);
/** Saturday 2026-11-21 11:00 New York: nothing trades. */
const SATURDAY = Date.UTC(2026, 10, 21, 16, 0);

const stock = (symbol: string): Contract => ({
  symbol,
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
});

const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

function valueOf(data: MarketDataTicks | undefined, tickType: number): number | undefined {
  return data?.get(tickType)?.value;
}

/** Subscribes to a stream and keeps every emission and the error, if any. */
function collect(observable: {
  subscribe(observer: {
    next(update: MarketDataUpdate): void;
    error(error: IBApiNextError): void;
  }): Subscription;
}): { updates: MarketDataUpdate[]; error: () => IBApiNextError | undefined; subscription: Subscription } {
  const updates: MarketDataUpdate[] = [];
  let failure: IBApiNextError | undefined;
  const subscription = observable.subscribe({
    next: (update) => updates.push(update),
    error: (error) => (failure = error),
  });
  return { updates, error: () => failure, subscription };
}

/** A raw IBApi connection, for what IBApiNext hides (MARKET_DATA_TYPE, duplicate ticker ids). */
async function connectRawApi(port: number, clientId: number) {
  const api = new IBApi({ host: '127.0.0.1', port });
  const types = new Map<number, number>();
  const errors: { reqId: number; code: number; message: string }[] = [];
  const prices: { reqId: number; tickType: number }[] = [];
  api.on(EventName.marketDataType, (reqId: number, type: number) => types.set(reqId, type));
  api.on(EventName.error, (error: Error, code: number, reqId: number) =>
    errors.push({ reqId, code, message: error.message }),
  );
  api.on(EventName.tickPrice, (reqId: number, tickType: number) => prices.push({ reqId, tickType }));
  const ready = new Promise<void>((resolve) => api.once(EventName.nextValidId, () => resolve()));
  api.connect(clientId);
  await ready;
  return { api, types, errors, prices };
}

describe('market data on a trading day', () => {
  let simulator: IbGatewaySimulator;
  let port: number;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    port = await simulator.start();
    simulator.setClock(WEDNESDAY_MORNING);
  });

  afterEach(() => {
    disconnectAllClients();
    simulator.freezeMarketData(false);
    if (simulator.stats().marketFarmDown) simulator.restoreMarketFarm();
  });
  afterAll(async () => simulator.stop());

  it('answers a snapshot with a consistent quote: bid <= last <= ask, sizes, volume, open and close', async () => {
    const { ib, errors } = await connectClient(port);
    const snapshot = await ib.getMarketDataSnapshot(stock('AAPL'), '', false);
    const bid = valueOf(snapshot, IBApiTickType.BID) ?? NaN;
    const ask = valueOf(snapshot, IBApiTickType.ASK) ?? NaN;
    const last = valueOf(snapshot, IBApiTickType.LAST) ?? NaN;
    expect(bid).toBeGreaterThan(0);
    expect(bid).toBeLessThanOrEqual(ask);
    expect(last).toBeGreaterThanOrEqual(bid);
    expect(last).toBeLessThanOrEqual(ask);
    for (const sizeTick of [IBApiTickType.BID_SIZE, IBApiTickType.ASK_SIZE, IBApiTickType.LAST_SIZE]) {
      expect(valueOf(snapshot, sizeTick)).toBeGreaterThan(0);
    }
    expect(valueOf(snapshot, IBApiTickType.VOLUME)).toBeGreaterThan(0);
    expect(valueOf(snapshot, IBApiTickType.CLOSE)).toBeGreaterThan(0);
    const high = valueOf(snapshot, IBApiTickType.HIGH) ?? NaN;
    const low = valueOf(snapshot, IBApiTickType.LOW) ?? NaN;
    const open = valueOf(snapshot, IBApiTickType.OPEN) ?? NaN;
    expect(low).toBeLessThanOrEqual(Math.min(open, last));
    expect(high).toBeGreaterThanOrEqual(Math.max(open, last));
    // The last trade happened on the simulator's clock, a moment ago.
    const lastTrade = Number(snapshot.get(IBApiTickType.LAST_TIMESTAMP)?.value);
    expect(Math.abs(lastTrade * 1000 - Date.UTC(2026, 10, 18, 16, 0))).toBeLessThan(120_000);
    expect(simulator.stats().activeMarketDataSubscriptions).toBe(0);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('streams changing ticks and stops sending them once unsubscribed', async () => {
    const { ib, errors } = await connectClient(port);
    const sentTickers: number[] = [];
    const removeTap = simulator.tap((direction, _session, fields) => {
      if (direction === 'out' && (fields[0] === 1 || fields[0] === 2)) sentTickers.push(Number(fields[2]));
    });
    const stream = collect(ib.getMarketData(stock('MSFT'), '', false, false));
    await waitFor(
      () => stream.updates.some((update) => update.changed?.has(IBApiTickType.BID_SIZE) ?? false),
      'a changed tick',
    );
    expect(simulator.stats().activeMarketDataSubscriptions).toBe(1);
    const latest = stream.updates[stream.updates.length - 1]?.all;
    expect(valueOf(latest, IBApiTickType.BID)).toBeLessThanOrEqual(valueOf(latest, IBApiTickType.ASK) ?? 0);

    stream.subscription.unsubscribe();
    await waitFor(() => simulator.stats().activeMarketDataSubscriptions === 0, 'the cancel');
    const sentAtCancel = sentTickers.length;
    await sleep(700);
    removeTap();
    expect(sentTickers.length).toBe(sentAtCancel);
    expect(stream.error()).toBeUndefined();
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('reports the market data type actually delivered and uses the delayed tick ids for delayed data', async () => {
    simulator.market.setEntitlement('JPM', 'delayed');
    const { api, types, errors, prices } = await connectRawApi(port, 501);
    api.reqMktData(1, stock('IBM'), '', false, false);
    api.reqMarketDataType(MarketDataType.DELAYED);
    api.reqMktData(2, stock('JPM'), '', false, false);
    api.reqMktData(3, stock('IBM'), '', false, false);
    api.reqMarketDataType(MarketDataType.FROZEN);
    api.reqMktData(4, stock('IBM'), '', false, false);
    await waitFor(
      () => types.size === 4 && prices.some((tick) => tick.reqId === 2),
      'four market data types',
    );
    api.disconnect();
    // Real-time wins whenever the user is entitled to it; frozen only matters once the market closes.
    expect(Object.fromEntries(types)).toEqual({ 1: 1, 2: 3, 3: 1, 4: 1 });
    expect(errors.filter((error) => error.reqId === 2).map((error) => error.code)).toEqual([10167]);
    const delayedTicks = new Set(prices.filter((tick) => tick.reqId === 2).map((tick) => tick.tickType));
    expect([...delayedTicks].every((tickType) => tickType >= 66 && tickType <= 76)).toBe(true);
    const realtimeTicks = new Set(prices.filter((tick) => tick.reqId === 1).map((tick) => tick.tickType));
    expect([...realtimeTicks].every((tickType) => tickType < 66)).toBe(true);
  });

  it('streams delayed data after a non-fatal 10167 when the user asks for delayed data', async () => {
    simulator.market.setEntitlement('META', 'delayed');
    const { ib, errors } = await connectClient(port);
    ib.setMarketDataType(MarketDataType.DELAYED);
    const stream = collect(ib.getMarketData(stock('META'), '', false, false));
    await waitFor(
      () => stream.updates.some((update) => update.all.has(IBApiTickType.DELAYED_LAST)),
      'delayed ticks',
    );
    const all = stream.updates[stream.updates.length - 1]?.all;
    expect(valueOf(all, IBApiTickType.DELAYED_BID)).toBeLessThanOrEqual(
      valueOf(all, IBApiTickType.DELAYED_ASK) ?? 0,
    );
    expect(all?.has(IBApiTickType.BID)).toBe(false);
    // Fifteen minutes late: the last trade printed about 15 minutes before the simulator's "now".
    const lastTrade = Number(all?.get(IBApiTickType.DELAYED_LAST_TIMESTAMP)?.value) * 1000;
    expect(Math.abs(WEDNESDAY_MORNING - 15 * 60_000 - lastTrade)).toBeLessThan(120_000);
    expect(errors.map((error) => error.code)).toContain(10167);
    expect(stream.error()).toBeUndefined();
    stream.subscription.unsubscribe();
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('errors the Observable with 354 when the user has no subscription', async () => {
    simulator.market.setEntitlement('TSLA', 'none');
    simulator.market.setEntitlement('GOOGL', 'delayed');
    const { ib, errors } = await connectClient(port);
    const unsubscribed = collect(ib.getMarketData(stock('TSLA'), '', false, false));
    const delayedOnly = collect(ib.getMarketData(stock('GOOGL'), '', false, false));
    await waitFor(
      () => unsubscribed.error() !== undefined && delayedOnly.error() !== undefined,
      'both errors',
    );
    expect(unsubscribed.error()?.code).toBe(354);
    expect(unsubscribed.error()?.error.message).toBe('Requested market data is not subscribed.');
    expect(delayedOnly.error()?.code).toBe(354);
    expect(delayedOnly.error()?.error.message).toContain('Delayed market data is available.');
    expect(unsubscribed.updates).toEqual([]);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('rejects an unknown contract with 200', async () => {
    const { ib, errors } = await connectClient(port);
    await expect(ib.getMarketDataSnapshot(stock('NOSUCHSYMBOL'), '', false)).rejects.toMatchObject({
      code: 200,
    });
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('stops ticks while market data is frozen, keeps answering other requests, and resumes', async () => {
    const { ib, errors } = await connectClient(port);
    const stream = collect(ib.getMarketData(stock('NVDA'), '', false, false));
    await waitFor(() => stream.updates.length > 0, 'first ticks');
    simulator.freezeMarketData();
    await sleep(300);
    const frozenAt = stream.updates.length;
    await sleep(1200);
    expect(stream.updates.length).toBe(frozenAt);
    await expect(ib.getCurrentTime()).resolves.toBeGreaterThan(0);
    expect(simulator.stats().activeMarketDataSubscriptions).toBe(1);

    simulator.freezeMarketData(false);
    await waitFor(() => stream.updates.length > frozenAt, 'ticks after unfreezing');
    stream.subscription.unsubscribe();
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('stops ticks while the market data farm is down and resumes when it is back', async () => {
    const { ib, errors } = await connectClient(port);
    const stream = collect(ib.getMarketData(stock('AMZN'), '', false, false));
    await waitFor(() => stream.updates.length > 0, 'first ticks');
    simulator.marketFarmOutage();
    await sleep(300);
    const downAt = stream.updates.length;
    await sleep(1000);
    expect(stream.updates.length).toBe(downAt);
    simulator.restoreMarketFarm();
    await waitFor(() => stream.updates.length > downAt, 'ticks after the farm is back');
    stream.subscription.unsubscribe();
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('drops every stream when connectivity comes back with data lost (1101)', async () => {
    const { ib, errors } = await connectClient(port);
    const stream = collect(ib.getMarketData(stock('QQQ'), '', false, false));
    await waitFor(() => stream.updates.length > 0, 'first ticks');
    simulator.connectivityRestored(false);
    expect(simulator.stats().activeMarketDataSubscriptions).toBe(0);
    await sleep(300);
    const lostAt = stream.updates.length;
    await sleep(800);
    expect(stream.updates.length).toBe(lostAt);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('drops the streams of a client that disconnects', async () => {
    const client = await connectClient(port);
    collect(client.ib.getMarketData(stock('SPY'), '', false, false));
    collect(client.ib.getMarketData(stock('IWM'), '', false, false));
    await waitFor(() => simulator.stats().activeMarketDataSubscriptions === 2, 'two streams');
    client.disconnect();
    await waitFor(() => simulator.stats().activeMarketDataSubscriptions === 0, 'the streams to go');
  });

  it('answers option contracts with model greeks that agree with the option quote', async () => {
    const { ib, errors } = await connectClient(port);
    const [details] = await ib.getContractDetails({
      symbol: 'AAPL',
      secType: SecType.OPT,
      exchange: 'SMART',
      currency: 'USD',
    });
    const conId = details?.contract.conId;
    expect(conId).toBeDefined();
    const snapshot = await ib.getMarketDataSnapshot({ conId, exchange: 'SMART' }, '', false);
    const bid = valueOf(snapshot, IBApiTickType.BID) ?? NaN;
    const ask = valueOf(snapshot, IBApiTickType.ASK) ?? NaN;
    const modelPrice = valueOf(snapshot, IBApiNextTickType.MODEL_OPTION_PRICE) ?? NaN;
    const delta = valueOf(snapshot, IBApiNextTickType.MODEL_OPTION_DELTA) ?? NaN;
    expect(valueOf(snapshot, IBApiNextTickType.MODEL_OPTION_IV)).toBeGreaterThan(0);
    expect(Math.abs(modelPrice - (bid + ask) / 2)).toBeLessThan(0.01);
    expect(Math.abs(delta)).toBeLessThanOrEqual(1);
    const underlying = await ib.getMarketDataSnapshot(stock('AAPL'), '', false);
    const spot = valueOf(underlying, IBApiTickType.LAST) ?? NaN;
    expect(Math.abs((valueOf(snapshot, IBApiNextTickType.OPTION_UNDERLYING) ?? NaN) / spot - 1)).toBeLessThan(
      0.01,
    );
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('refuses a duplicate ticker id with 322 and an unknown cancel with 300', async () => {
    const { api, errors } = await connectRawApi(port, 502);
    api.reqMktData(7, stock('IBM'), '', false, false);
    api.reqMktData(7, stock('MSFT'), '', false, false);
    api.cancelMktData(7);
    api.cancelMktData(8);
    await waitFor(() => errors.length >= 2, 'two errors');
    api.disconnect();
    expect(errors.map((error) => [error.reqId, error.code])).toEqual([
      [7, 322],
      [8, 300],
    ]);
  });
});

describe('market data lines', () => {
  let simulator: IbGatewaySimulator;
  let port: number;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    port = await simulator.start();
    simulator.setClock(WEDNESDAY_MORNING);
  });

  afterEach(() => disconnectAllClients());
  afterAll(async () => simulator.stop());

  it('refuses the 101st concurrent line of a client with 101', async () => {
    const { ib, errors } = await connectClient(port);
    const options = simulator.market.instruments().filter((instrument) => instrument.secType === 'OPT');
    expect(options.length).toBeGreaterThan(101);
    const streams = options
      .slice(0, 101)
      .map((option) =>
        collect(ib.getMarketData({ conId: option.conId, exchange: 'SMART' }, '', false, false)),
      );
    await waitFor(() => streams[100]?.error() !== undefined, 'the 101st line to fail', 10_000);
    expect(streams[100]?.error()?.code).toBe(101);
    expect(streams.slice(0, 100).every((stream) => stream.error() === undefined)).toBe(true);
    expect(simulator.stats().activeMarketDataSubscriptions).toBe(100);
    for (const stream of streams) stream.subscription.unsubscribe();
    await waitFor(
      () => simulator.stats().activeMarketDataSubscriptions === 0,
      'the lines to be released',
      10_000,
    );
    expect(decodeErrors(errors)).toEqual([]);
  });
});

describe('market data while the market is closed', () => {
  let simulator: IbGatewaySimulator;
  let port: number;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator();
    recordWire(simulator);
    port = await simulator.start();
    simulator.setClock(SATURDAY);
  });

  afterEach(() => disconnectAllClients());
  afterAll(async () => simulator.stop());

  it('sends the last values once and then nothing new, while a snapshot still answers', async () => {
    const { ib, errors } = await connectClient(port);
    const stream = collect(ib.getMarketData(stock('AAPL'), '', false, false));
    await waitFor(
      () => stream.updates.some((update) => update.all.has(IBApiTickType.LAST)),
      'the last values',
    );
    await sleep(300);
    const settled = stream.updates.length;
    await sleep(1000);
    expect(stream.updates.length).toBe(settled);

    const snapshot = await ib.getMarketDataSnapshot(stock('AAPL'), '', false);
    const last = valueOf(snapshot, IBApiTickType.LAST);
    expect(last).toBeGreaterThan(0);
    expect(valueOf(snapshot, IBApiTickType.CLOSE)).toBeGreaterThan(0);
    expect(last).toBe(valueOf(stream.updates[stream.updates.length - 1]?.all, IBApiTickType.LAST));
    // The last trade is Friday's, before the 20:00 New York close.
    const lastTrade = Number(snapshot.get(IBApiTickType.LAST_TIMESTAMP)?.value) * 1000;
    expect(lastTrade).toBeLessThan(Date.UTC(2026, 10, 21, 1, 0));
    expect(lastTrade).toBeGreaterThan(Date.UTC(2026, 10, 20, 9, 0));
    stream.subscription.unsubscribe();
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('reports frozen data (type 2) when frozen data is asked for outside trading hours', async () => {
    const { api, types } = await connectRawApi(port, 503);
    api.reqMarketDataType(MarketDataType.FROZEN);
    api.reqMktData(1, stock('MSFT'), '', false, false);
    api.reqMarketDataType(MarketDataType.REALTIME);
    api.reqMktData(2, stock('MSFT'), '', true, false);
    await waitFor(() => types.size === 2, 'two market data types');
    api.disconnect();
    expect(Object.fromEntries(types)).toEqual({ 1: 2, 2: 1 });
  });
});
