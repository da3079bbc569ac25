import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { formatField } from '../../../src/simulator/protocol/framing';
import { Reply, Request } from '../../../src/simulator/protocol/message-ids';
import { ServerVersion } from '../../../src/simulator/protocol/versions';
import { recordWire } from '../../support/wire-recorder';

const SCRIPT = join(__dirname, '../../support/second-client/drive-ib-tws-api.mjs');
const ACCOUNT = 'DU5555555';
const AAPL = 265598;
/** A Wednesday, 11:00 in New York: US stocks and options trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');

interface OptionTerms {
  lastTradeDateOrContractMonth: string;
  strike: number;
  right: string;
}

/** One step of the script: what ib-tws-api made of the answers, or the error it raised. */
type Step<T> = T | { error: string; details?: unknown };

interface OrderStatusEvent {
  orderId: number;
  status: string;
  filled: number;
  remaining: number;
  avgFillPrice: number;
  permId: number;
  clientId: number;
}

interface PlacedOrder {
  orderId: number;
  status: OrderStatusEvent | { error: string };
  seen: string[];
}

interface ContractFields {
  conId: number;
  symbol: string;
  secType: string;
  lastTradeDateOrContractMonth?: string;
  strike: number;
  right: string;
  exchange: string;
  currency: string;
  localSymbol: string;
  tradingClass: string;
  multiplier: string;
}

interface Bar {
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  barCount: number;
}

/** What drive-ib-tws-api.mjs prints. */
interface DriveResult {
  steps: {
    connect: Step<{ serverVersion: number }>;
    currentTime: Step<{ time: number }>;
    contractDetails: Step<(ContractFields & { longName: string; minTick: number })[]>;
    optionDetails: Step<(ContractFields & { underConId: number })[]>;
    gridOptionDetails: Step<(ContractFields & { underConId: number })[]>;
    marketDataSnapshot: Step<{ bid: number; ask: number; last: number; close: number }>;
    headTimestamp: Step<{ headTimestamp: string }>;
    optionChain: Step<{ exchange: string; underlyingConId: number; expirations: number; strikes: number }[]>;
    marketData: Step<{
      ticks: number;
      bid: number;
      ask: number;
      last: number;
      bidSize: number;
      askSize: number;
    }>;
    historicalData: Step<{ dateStart: string; dateEnd: string; bars: Bar[] }>;
    restingOrder: Step<PlacedOrder>;
    filledOrder: Step<PlacedOrder>;
    openOrders: Step<
      {
        orderId: number;
        conId: number;
        symbol: string;
        action: string;
        totalQuantity: number;
        orderType: string;
        lmtPrice: number;
        permId: number;
        status: string;
      }[]
    >;
    cancel: Step<{ orderId: number; reason: { code: string; message: string }; status: OrderStatusEvent }>;
    positions: Step<{ conId: number; symbol: string; position: number; avgCost: number }[]>;
  };
  raw: { handshake?: string[]; managedAccounts?: string };
  /** Per message type, how many fields ib-tws-api's handler left unread in each message (0: read them all). */
  leftovers: Record<string, number[]>;
  errors: { code: string; message: string }[];
}

/** The step's value; a step the library failed throws its error here, naming the step. */
function ok<T>(name: string, step: Step<T>): T {
  if (step !== null && typeof step === 'object' && 'error' in step && typeof step.error === 'string')
    throw new Error(`ib-tws-api step ${name} failed: ${step.error} ${JSON.stringify(step.details ?? '')}`);
  return step as T;
}

async function drive(input: Record<string, unknown>): Promise<DriveResult> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [SCRIPT, JSON.stringify(input)], { timeout: 60_000 }, (error, out, err) =>
      error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
    );
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as DriveResult;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/**
 * A second, independent TWS API client drives the simulator: ib-tws-api (npm, 1.3.0), an ES module based
 * on IB's Python client, whose handshake offers v100..151, so the simulator answers 151 (its oldest).
 * It runs in a child process (jest runs CommonJS); the test compares what it read with the simulator's own
 * market and broker.
 */
describe('simulator driven by ib-tws-api, a second client library (v151)', () => {
  let simulator: IbGatewaySimulator;
  let result: DriveResult;
  let restingLimit: number;
  let marketableLimit: number;
  let option: OptionTerms;
  let gridOption: OptionTerms;
  /** The simulator's clock (epoch seconds) when the script started and when it had finished. */
  let clockBefore: number;
  let clockAfter: number;
  /** What the client sent, and the errors the simulator answered, as they went over the wire. */
  const incoming: string[][] = [];
  const errorsSent: string[][] = [];

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [ACCOUNT], nextOrderId: 1000 });
    recordWire(simulator);
    simulator.tap((direction, _session, fields) => {
      const message = fields.map(formatField);
      if (direction === 'in') incoming.push(message);
      else if (message[0] === String(Reply.ERR_MSG)) errorsSent.push(message);
    });
    simulator.setClock(MARKET_OPEN);
    const port = await simulator.start();
    const quote = simulator.market.quote(AAPL);
    restingLimit = round2(quote.bid * 0.9);
    marketableLimit = round2(quote.ask * 1.02);
    const chain = simulator.market.optionChain(AAPL);
    const strikes = chain?.strikes ?? [];
    const strike = strikes.reduce(
      (best, value) => (Math.abs(value - quote.last) < Math.abs(best - quote.last) ? value : best),
      strikes[0] ?? 0,
    );
    option = { lastTradeDateOrContractMonth: chain?.expirations[1] ?? '', strike, right: 'C' };
    // The chain's furthest expiry and lowest strike: an option of the grid, not of today's listed chain.
    gridOption = {
      lastTradeDateOrContractMonth: chain?.expirations[chain.expirations.length - 1] ?? '',
      strike: strikes[0] ?? 0,
      right: 'P',
    };
    clockBefore = Math.floor(simulator.clock.now() / 1000);
    result = await drive({ port, clientId: 41, restingLimit, marketableLimit, option, gridOption });
    clockAfter = Math.ceil(simulator.clock.now() / 1000);
  }, 90_000);

  afterAll(async () => simulator.stop());

  it('connects at version 151 and reads the connect burst: managed accounts', () => {
    expect(ok('connect', result.steps.connect).serverVersion).toBe(ServerVersion.OLDEST);
    expect(ServerVersion.OLDEST).toBe(151);
    expect(result.raw.handshake?.[0]).toBe('151');
    expect(result.raw.managedAccounts).toBe(ACCOUNT);
  });

  it("reads the server's current time", () => {
    const { time } = ok('currentTime', result.steps.currentTime);
    expect(time).toBeGreaterThanOrEqual(clockBefore);
    expect(time).toBeLessThanOrEqual(clockAfter);
    expect(clockBefore).toBeGreaterThanOrEqual(Math.floor(MARKET_OPEN / 1000));
  });

  it('reads contract details of AAPL and of an option, as the simulator lists them', () => {
    const [aapl, ...more] = ok('contractDetails', result.steps.contractDetails);
    expect(more).toEqual([]);
    expect(aapl).toMatchObject({ conId: AAPL, symbol: 'AAPL', secType: 'STK', currency: 'USD' });
    expect(aapl?.minTick).toBe(simulator.market.instrument(AAPL)?.minTick);

    const options = ok('optionDetails', result.steps.optionDetails);
    const [listed] = simulator.market.resolve({
      conId: 0,
      symbol: 'AAPL',
      secType: 'OPT',
      lastTradeDateOrContractMonth: option.lastTradeDateOrContractMonth,
      strike: option.strike,
      right: 'C',
      multiplier: '',
      exchange: 'SMART',
      primaryExch: '',
      currency: 'USD',
      localSymbol: '',
      tradingClass: '',
    });
    expect(options).toHaveLength(1);
    expect(options[0]).toMatchObject({
      conId: listed?.conId,
      secType: 'OPT',
      lastTradeDateOrContractMonth: option.lastTradeDateOrContractMonth,
      strike: option.strike,
      right: 'C',
      multiplier: '100',
      localSymbol: listed?.localSymbol,
      underConId: AAPL,
    });
  });

  it('reads an option of the grid beyond the listed chain, as reqSecDefOptParams lists it', () => {
    const [gridOptionDetails, ...more] = ok('gridOptionDetails', result.steps.gridOptionDetails);
    expect(more).toEqual([]);
    expect(gridOptionDetails).toMatchObject({ ...gridOption, secType: 'OPT', underConId: AAPL });
    const listedToday = simulator.market.instruments().map((instrument) => instrument.conId);
    expect(listedToday).not.toContain(gridOptionDetails?.conId);
    expect(simulator.market.instrument(gridOptionDetails?.conId ?? 0)?.localSymbol).toBe(
      gridOptionDetails?.localSymbol,
    );
  });

  it("reads the option chain's parameters", () => {
    const chains = ok('optionChain', result.steps.optionChain);
    const chain = simulator.market.optionChain(AAPL);
    expect(chains.map((entry) => entry.exchange).sort()).toEqual([...(chain?.exchanges ?? [])].sort());
    for (const entry of chains) {
      expect(entry).toMatchObject({
        underlyingConId: AAPL,
        expirations: chain?.expirations.length,
        strikes: chain?.strikes.length,
      });
    }
  });

  it("streams market data with the simulator's prices", () => {
    const ticks = ok('marketData', result.steps.marketData);
    const quote = simulator.market.quote(AAPL);
    expect(ticks.ticks).toBeGreaterThan(0);
    // The market moved on a little since the script's ticks: compare within 0.5%.
    for (const [read, simulated] of [
      [ticks.bid, quote.bid],
      [ticks.ask, quote.ask],
      [ticks.last, quote.last],
    ] as const)
      expect(Math.abs(read / simulated - 1)).toBeLessThan(0.005);
    expect(ticks.bid).toBeLessThan(ticks.ask);
    expect(ticks.bidSize).toBeGreaterThan(0);
  });

  it("reads a market data snapshot and the head timestamp, as the simulator's", () => {
    const snapshot = ok('marketDataSnapshot', result.steps.marketDataSnapshot);
    const quote = simulator.market.quote(AAPL);
    expect(Math.abs(snapshot.last / quote.last - 1)).toBeLessThan(0.005);
    expect(snapshot.bid).toBeLessThan(snapshot.ask);
    const { headTimestamp } = ok('headTimestamp', result.steps.headTimestamp);
    expect(headTimestamp).toMatch(/^\d{8}[- ]/);
    expect(headTimestamp < '20250611').toBe(true);
  });

  it('reads historical bars', () => {
    const { bars } = ok('historicalData', result.steps.historicalData);
    const quote = simulator.market.quote(AAPL);
    expect(bars.length).toBeGreaterThan(0);
    for (const bar of bars) {
      expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open, bar.close));
      expect(bar.high).toBeGreaterThanOrEqual(Math.max(bar.open, bar.close));
      expect(Math.abs(bar.close / quote.last - 1)).toBeLessThan(0.1);
      expect(bar.volume).toBeGreaterThanOrEqual(0);
      expect(bar.date).toMatch(/^\d{8}/);
    }
  });

  it('places a limit order that works and one that fills; both are at the broker', () => {
    const resting = ok('restingOrder', result.steps.restingOrder);
    const filled = ok('filledOrder', result.steps.filledOrder);
    expect(resting.seen).toContain('Submitted');
    expect(resting.status).toMatchObject({ orderId: resting.orderId, status: 'Submitted', remaining: 10 });
    expect(filled.status).toMatchObject({
      orderId: filled.orderId,
      status: 'Filled',
      filled: 5,
      remaining: 0,
    });
    const orders = simulator.broker.snapshot().orders;
    const atBroker = (orderId: number) => orders.find((order) => order.orderId === orderId);
    expect(atBroker(resting.orderId)).toMatchObject({
      clientId: 41,
      account: ACCOUNT,
      conId: AAPL,
      action: 'BUY',
      orderType: 'LMT',
      totalQuantity: 10,
      lmtPrice: restingLimit,
    });
    const fill = atBroker(filled.orderId);
    expect(fill).toMatchObject({ conId: AAPL, totalQuantity: 5, filled: 5, status: 'Filled' });
    if ('avgFillPrice' in filled.status)
      expect(filled.status.avgFillPrice).toBeLessThanOrEqual(marketableLimit);
  });

  it('lists the working order among the open orders', () => {
    const resting = ok('restingOrder', result.steps.restingOrder);
    const open = ok('openOrders', result.steps.openOrders);
    expect(open.find((order) => order.orderId === resting.orderId)).toMatchObject({
      conId: AAPL,
      symbol: 'AAPL',
      action: 'BUY',
      totalQuantity: 10,
      orderType: 'LMT',
      lmtPrice: restingLimit,
      status: 'Submitted',
    });
  });

  it('cancels the working order with 202 and Cancelled', () => {
    const resting = ok('restingOrder', result.steps.restingOrder);
    // ib-tws-api writes CANCEL_ORDER as IB's clients below v192 do: [4, version 1, orderId].
    expect(incoming.filter((fields) => fields[0] === String(Request.CANCEL_ORDER))).toEqual([
      [String(Request.CANCEL_ORDER), '1', String(resting.orderId)],
    ]);
    const cancel = ok('cancel', result.steps.cancel);
    expect(cancel.orderId).toBe(resting.orderId);
    expect(String(cancel.reason.code)).toBe('202');
    expect(cancel.status).toMatchObject({ orderId: cancel.orderId, status: 'Cancelled' });
    const order = simulator.broker.snapshot().orders.find((entry) => entry.orderId === cancel.orderId);
    expect(order?.status).toBe('Cancelled');
  });

  it("reads the positions the fill made, as the broker's", () => {
    const positions = ok('positions', result.steps.positions);
    const [account] = simulator.broker.snapshot().accounts;
    const aapl = account?.positions.find((position) => position.conId === AAPL);
    expect(aapl?.position).toBe(5);
    expect(positions.find((position) => position.conId === AAPL)).toMatchObject({
      symbol: 'AAPL',
      position: 5,
    });
    const avgCost = positions.find((position) => position.conId === AAPL)?.avgCost ?? 0;
    expect(avgCost).toBeCloseTo(aapl?.averageCost ?? 0, 4);
  });

  it('sends nothing ib-tws-api leaves unread, and no request the simulator refuses', () => {
    for (const [message, left] of Object.entries(result.leftovers))
      expect({ message, unread: left.filter((count) => count > 0) }).toEqual({ message, unread: [] });
    const refusals = result.errors.filter((error) => ['320', '321'].includes(String(error.code)));
    expect(refusals).toEqual([]);
    // Every error the simulator sent: the farm infos of the connect burst and the cancelled order's 202.
    const resting = ok('restingOrder', result.steps.restingOrder);
    expect(errorsSent.map((fields) => `${fields[2]}:${fields[3]}`).sort()).toEqual(
      ['-1:2104', '-1:2106', '-1:2158', `${resting.orderId}:202`].sort(),
    );
    expect(incoming.length).toBeGreaterThan(0);
  });
});
