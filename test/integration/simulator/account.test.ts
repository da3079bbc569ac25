import {
  OrderAction,
  OrderType,
  SecType,
  type AccountSummaries,
  type Contract,
  type ExecutionDetail,
  type IBApiNext,
  type PnLSingle,
  type Position,
} from '@stoqey/ib';
import { filter, firstValueFrom, map, timeout, type Observable, type Subscription } from 'rxjs';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU7654321';
const STARTING_CASH = 1_000_000;
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
const AAPL: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};
const MSFT: Contract = {
  conId: 272093,
  symbol: 'MSFT',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};
const SUMMARY_TAGS = [
  'AccountType',
  'NetLiquidation',
  'TotalCashValue',
  'SettledCash',
  'AccruedCash',
  'BuyingPower',
  'EquityWithLoanValue',
  'PreviousDayEquityWithLoanValue',
  'GrossPositionValue',
  'RegTEquity',
  'RegTMargin',
  'SMA',
  'InitMarginReq',
  'MaintMarginReq',
  'AvailableFunds',
  'ExcessLiquidity',
  'Cushion',
  'FullInitMarginReq',
  'FullMaintMarginReq',
  'FullAvailableFunds',
  'FullExcessLiquidity',
  'LookAheadNextChange',
  'LookAheadInitMarginReq',
  'LookAheadMaintMarginReq',
  'LookAheadAvailableFunds',
  'LookAheadExcessLiquidity',
  'HighestSeverity',
  'DayTradesRemaining',
  'Leverage',
].join(',');

/** The first value of a stream that satisfies `predicate`. */
async function first<T>(source: Observable<T>, predicate: (value: T) => boolean, ms = 5000): Promise<T> {
  return firstValueFrom(source.pipe(filter(predicate), timeout(ms)));
}

function summaryValue(all: AccountSummaries, tag: string, currency = 'USD'): number {
  return Number(all.get(ACCOUNT)?.get(tag)?.get(currency)?.value);
}

function positionOf(all: ReadonlyMap<string, Position[]>, conId: number): Position | undefined {
  return all.get(ACCOUNT)?.find((position) => position.contract.conId === conId);
}

/**
 * Places a market order and resolves with its executions once it is fully filled. (IBApiNext also adds
 * live fills, reqId -1, to a pending getExecutionDetails, so the answer is taken per execId.)
 */
async function marketOrder(
  ib: IBApiNext,
  contract: Contract,
  action: OrderAction,
  quantity: number,
): Promise<ExecutionDetail[]> {
  const orderId = await ib.placeNewOrder(contract, {
    action,
    orderType: OrderType.MKT,
    totalQuantity: quantity,
    account: ACCOUNT,
    transmit: true,
  });
  const deadline = Date.now() + 5000;
  for (;;) {
    const executions = (await ib.getExecutionDetails({})).filter(
      (detail) => detail.execution.orderId === orderId && detail.reqId !== -1,
    );
    if (executions.some((detail) => detail.execution.cumQty === quantity)) return executions;
    if (Date.now() > deadline) throw new Error(`Order ${orderId} did not fill`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('simulated broker: accounts, positions and PnL', () => {
  let simulator: IbGatewaySimulator;
  let client: TestClient;
  const subscriptions: Subscription[] = [];
  /** Keeps a stream subscribed for the whole file (IBApiNext shares it with later subscribers). */
  const keep = <T>(source: Observable<T>): Observable<T> => {
    subscriptions.push(source.subscribe());
    return source;
  };

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [ACCOUNT], nextOrderId: 5000 });
    recordWire(simulator);
    simulator.setClock(MARKET_OPEN);
    const port = await simulator.start();
    client = await connectClient(port);
  });

  afterEach(() => expect(decodeErrors(client.errors)).toEqual([]));

  afterAll(async () => {
    for (const subscription of subscriptions) subscription.unsubscribe();
    disconnectAllClients();
    await simulator.stop();
  });

  it('starts every account with 1,000,000 USD of cash and no positions', async () => {
    const summary = await firstValueFrom(keep(client.ib.getAccountSummary('All', SUMMARY_TAGS)));
    const tags = summary.all.get(ACCOUNT);
    expect([...(tags?.keys() ?? [])].sort()).toEqual(SUMMARY_TAGS.split(',').sort());
    expect(summary.all.get(ACCOUNT)?.get('AccountType')?.get('')?.value).toBe('INDIVIDUAL');
    expect(summaryValue(summary.all, 'TotalCashValue')).toBe(STARTING_CASH);
    expect(summaryValue(summary.all, 'NetLiquidation')).toBe(STARTING_CASH);
    expect(summaryValue(summary.all, 'GrossPositionValue')).toBe(0);
    expect(summaryValue(summary.all, 'AvailableFunds')).toBe(STARTING_CASH);
    const positions = await firstValueFrom(keep(client.ib.getPositions()));
    expect(positions.all.get(ACCOUNT) ?? []).toEqual([]);
  });

  it('books a market buy consistently across executions, commissions, positions, PnL and the account summary', async () => {
    const executions = await marketOrder(client.ib, AAPL, OrderAction.BUY, 100);
    expect(executions).toHaveLength(1);
    const execution = executions[0]?.execution;
    expect(execution).toMatchObject({ side: 'BOT', shares: 100, cumQty: 100, acctNumber: ACCOUNT });
    const price = execution?.price ?? 0;
    expect(price).toBeGreaterThan(0);

    const reports = await client.ib.getCommissionReport({});
    const report = reports.find((candidate) => candidate.execId === execution?.execId);
    // 100 shares at $0.005 a share is below IB's $1 minimum.
    expect(report?.commission).toBe(1);
    expect(report?.currency).toBe('USD');
    expect(report?.realizedPNL).toBeUndefined(); // an opening fill realizes nothing
    const commission = report?.commission ?? 0;

    const positions = await first(
      keep(client.ib.getPositions()),
      (update) => positionOf(update.all, 265598)?.pos === 100,
    );
    const position = positionOf(positions.all, 265598);
    // IB's average cost includes the commission.
    expect(position?.avgCost).toBeCloseTo((100 * price + commission) / 100, 6);

    const single = await first(client.ib.getPnLSingle(ACCOUNT, '', 265598), (pnl) => pnl.position === 100);
    const marketValue = single.marketValue ?? 0;
    expect(marketValue / 100).toBeGreaterThan(price * 0.9);
    expect(single.unrealizedPnL).toBeCloseTo(marketValue - 100 * (position?.avgCost ?? 0), 4);

    const pnl = await first(keep(client.ib.getPnL(ACCOUNT)), (value) => value.unrealizedPnL !== 0);
    expect(Math.abs((pnl.unrealizedPnL ?? 0) - (single.unrealizedPnL ?? 0))).toBeLessThan(100);

    const expectedCash = STARTING_CASH - 100 * price - commission;
    const summary = await first(keep(client.ib.getAccountSummary('All', SUMMARY_TAGS)), (update) => {
      const cash = summaryValue(update.all, 'TotalCashValue');
      const net = summaryValue(update.all, 'NetLiquidation');
      const gross = summaryValue(update.all, 'GrossPositionValue');
      return Math.abs(cash - expectedCash) < 0.01 && Math.abs(net - cash - gross) < 0.02;
    });
    const gross = summaryValue(summary.all, 'GrossPositionValue');
    expect(Math.abs(gross - marketValue)).toBeLessThan(100);
    expect(summaryValue(summary.all, 'InitMarginReq')).toBeCloseTo(gross * 0.5, 0);
    expect(summaryValue(summary.all, 'AvailableFunds')).toBeCloseTo(
      summaryValue(summary.all, 'EquityWithLoanValue') - summaryValue(summary.all, 'InitMarginReq'),
      1,
    );
  });

  it('closes the position with a sell and realizes its PnL net of both commissions', async () => {
    const position = positionOf((await firstValueFrom(client.ib.getPositions())).all, 265598);
    const averageCost = position?.avgCost ?? 0;
    const executions = await marketOrder(client.ib, AAPL, OrderAction.SELL, 100);
    const execution = executions[0]?.execution;
    expect(execution?.side).toBe('SLD');
    const report = (await client.ib.getCommissionReport({})).find(
      (candidate) => candidate.execId === execution?.execId,
    );
    const realized = report?.realizedPNL ?? NaN;
    expect(realized).toBeCloseTo(
      100 * ((execution?.price ?? 0) - averageCost) - (report?.commission ?? 0),
      4,
    );

    const closed = await first(
      client.ib.getPositions(),
      (update) => positionOf(update.all, 265598) === undefined,
    );
    expect(positionOf(closed.all, 265598)).toBeUndefined();

    const single = await first(client.ib.getPnLSingle(ACCOUNT, '', 265598), (pnl) => pnl.position === 0);
    expect(single.realizedPnL).toBeCloseTo(realized, 4);
    expect(single.unrealizedPnL).toBeCloseTo(0, 6);

    const pnl = await first(
      client.ib.getPnL(ACCOUNT),
      (value) => Math.abs((value.realizedPnL ?? 0) - realized) < 1e-4,
    );
    expect(pnl.unrealizedPnL).toBeCloseTo(0, 6);

    // Flat again: all the account has is its cash, which moved by exactly the realized PnL.
    const summary = await first(
      client.ib.getAccountSummary('All', SUMMARY_TAGS),
      (update) => Math.abs(summaryValue(update.all, 'TotalCashValue') - (STARTING_CASH + realized)) < 0.01,
    );
    expect(summaryValue(summary.all, 'NetLiquidation')).toBeCloseTo(STARTING_CASH + realized, 2);
    expect(summaryValue(summary.all, 'GrossPositionValue')).toBe(0);
  });

  it('allows shorting: a sell from flat opens a short that a buy closes', async () => {
    const sold = await marketOrder(client.ib, MSFT, OrderAction.SELL, 10);
    const proceeds = 10 * (sold[0]?.execution.price ?? 0);
    const short = await first(
      client.ib.getPositions(),
      (update) => positionOf(update.all, 272093)?.pos === -10,
    );
    // A short's average cost is its proceeds net of commission.
    expect(positionOf(short.all, 272093)?.avgCost).toBeCloseTo((proceeds - 1) / 10, 6);
    const single = await first(client.ib.getPnLSingle(ACCOUNT, '', 272093), (pnl) => pnl.position === -10);
    expect(single.marketValue).toBeLessThan(0);

    const bought = await marketOrder(client.ib, MSFT, OrderAction.BUY, 10);
    const report = (await client.ib.getCommissionReport({})).find(
      (candidate) => candidate.execId === bought[0]?.execution.execId,
    );
    const cost = 10 * (bought[0]?.execution.price ?? 0);
    expect(report?.realizedPNL).toBeCloseTo(proceeds - 1 - cost - 1, 4);
    await first(client.ib.getPositions(), (update) => positionOf(update.all, 272093) === undefined);
  });

  it('reports a contract never held with no PnL values', async () => {
    const pnl: PnLSingle = await firstValueFrom(
      client.ib.getPnLSingle(ACCOUNT, '', 756733).pipe(timeout(5000)),
    );
    expect(pnl.position).toBe(0);
    expect(pnl.unrealizedPnL).toBeUndefined();
    expect(pnl.dailyPnL).toBeUndefined();
  });

  it('filters executions by side, symbol, client id and time', async () => {
    const all = await client.ib.getExecutionDetails({});
    expect(all.length).toBeGreaterThanOrEqual(4);
    const sells = await client.ib.getExecutionDetails({ side: 'SELL' });
    expect(sells.length).toBeGreaterThan(0);
    expect(sells.every((detail) => detail.execution.side === 'SLD')).toBe(true);
    const msft = await client.ib.getExecutionDetails({ symbol: 'MSFT' });
    expect(msft.map((detail) => detail.contract.symbol)).toEqual(['MSFT', 'MSFT']);
    expect(await client.ib.getExecutionDetails({ clientId: '4242' })).toEqual([]);
    const later = new Date(simulator.clock.now() + 3_600_000).toISOString();
    const time = `${later.slice(0, 4)}${later.slice(5, 7)}${later.slice(8, 10)}-${later.slice(11, 19)}`;
    expect(await client.ib.getExecutionDetails({ time })).toEqual([]);
  });

  it('reports the cash ledger per currency for $LEDGER:ALL', async () => {
    const summary = await firstValueFrom(
      client.ib.getAccountSummary('All', '$LEDGER:ALL').pipe(timeout(5000)),
    );
    const cash = summary.all.get(ACCOUNT)?.get('CashBalance');
    expect([...(cash?.keys() ?? [])]).toEqual(expect.arrayContaining(['BASE', 'USD']));
    expect(Number(cash?.get('BASE')?.value)).toBeCloseTo(Number(cash?.get('USD')?.value), 2);
    const usdOnly = await firstValueFrom(
      client.ib.getAccountSummary('All', '$LEDGER:USD').pipe(timeout(5000)),
    );
    expect([...(usdOnly.all.get(ACCOUNT)?.get('CashBalance')?.keys() ?? [])]).toEqual(['USD']);
  });

  it('streams account updates: values, portfolio lines and the update time', async () => {
    await marketOrder(client.ib, AAPL, OrderAction.BUY, 50);
    const update = await first(
      client.ib.getAccountUpdates(ACCOUNT),
      (value) =>
        value.all.timestamp !== undefined &&
        (value.all.portfolio?.get(ACCOUNT) ?? []).some(
          (line) => line.contract.conId === 265598 && line.pos === 50,
        ),
    );
    const values = update.all.value?.get(ACCOUNT);
    const net = Number(values?.get('NetLiquidation')?.get('USD')?.value);
    const cash = Number(values?.get('TotalCashValue')?.get('USD')?.value);
    const line = update.all.portfolio?.get(ACCOUNT)?.find((candidate) => candidate.contract.conId === 265598);
    expect(line?.marketValue).toBeCloseTo((line?.pos ?? 0) * (line?.marketPrice ?? 0), 4);
    expect(line?.unrealizedPNL).toBeCloseTo((line?.marketValue ?? 0) - 50 * (line?.avgCost ?? 0), 4);
    expect(Math.abs(net - cash - (line?.marketValue ?? 0))).toBeLessThan(100);
    expect(update.all.timestamp).toMatch(/^\d\d:\d\d$/);
  });

  it('lists positions for new subscribers and streams their changes', async () => {
    const fresh = await connectClient(simulator.port);
    const initial = await firstValueFrom(fresh.ib.getPositions());
    expect(positionOf(initial.all, 265598)?.pos).toBe(50);
    const changes = fresh.ib.getPositions().pipe(map((update) => positionOf(update.all, 265598)?.pos));
    const waiting = first(changes, (pos) => pos === 75);
    await marketOrder(client.ib, AAPL, OrderAction.BUY, 25);
    expect(await waiting).toBe(75);
    expect(decodeErrors(fresh.errors)).toEqual([]);
  });
});
