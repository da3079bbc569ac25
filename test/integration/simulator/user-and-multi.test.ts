import { EventName, IBApi, OrderAction, OrderType, SecType, WshEventData, type Contract } from '@stoqey/ib';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU7654321';
/** A Wednesday, 11:00 in New York: US stocks trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
const AAPL: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};

interface PositionMulti {
  reqId: number;
  account: string;
  modelCode: string;
  conId: number | undefined;
  pos: number;
  avgCost: number | undefined;
}
interface AccountValueMulti {
  reqId: number;
  account: string;
  modelCode: string;
  key: string;
  value: string;
  currency: string;
}

/** Polls until `read` returns a value (not undefined) or the time is up. */
async function eventually<T>(read: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('simulator: user info, positions and account updates by model, WSH', () => {
  let simulator: IbGatewaySimulator;
  let client: TestClient;
  let api: IBApi;
  const positions: PositionMulti[] = [];
  const positionEnds: number[] = [];
  const values: AccountValueMulti[] = [];
  const valueEnds: number[] = [];
  const errors: { reqId: number; code: number; message: string }[] = [];
  let nextOrderId = 0;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [ACCOUNT], nextOrderId: 7000 });
    recordWire(simulator);
    simulator.setClock(MARKET_OPEN);
    const port = await simulator.start();
    client = await connectClient(port);
    api = new IBApi({ host: '127.0.0.1', port });
    api.on(EventName.positionMulti, (reqId, account, modelCode, contract, pos, avgCost) =>
      positions.push({ reqId, account, modelCode, conId: contract.conId, pos, avgCost }),
    );
    api.on(EventName.positionMultiEnd, (reqId) => positionEnds.push(reqId));
    api.on(EventName.accountUpdateMulti, (reqId, account, modelCode, key, value, currency) =>
      values.push({ reqId, account, modelCode, key, value, currency }),
    );
    api.on(EventName.accountUpdateMultiEnd, (reqId) => valueEnds.push(Number(reqId)));
    api.on(EventName.error, (error, code, reqId) => errors.push({ reqId, code, message: error.message }));
    await new Promise<void>((resolve) => {
      api.once(EventName.nextValidId, (id) => {
        nextOrderId = id;
        resolve();
      });
      api.connect(77);
    });
  });

  afterEach(() => expect(decodeErrors(client.errors)).toEqual([]));

  afterAll(async () => {
    api.disconnect();
    disconnectAllClients();
    await simulator.stop();
  });

  const latest = (reqId: number, key: string, currency = 'USD'): string | undefined =>
    values.filter((row) => row.reqId === reqId && row.key === key && row.currency === currency).at(-1)?.value;

  it('answers reqUserInfo with an empty white-branding id', async () => {
    await expect(client.ib.getUserInfo()).resolves.toBe('');
  });

  it('lists no positions multi for a fresh account, then streams the position a fill opens', async () => {
    api.reqPositionsMulti(11, ACCOUNT, '');
    await eventually(() => (positionEnds.includes(11) ? true : undefined));
    expect(positions.filter((row) => row.reqId === 11)).toEqual([]);

    api.reqAccountUpdatesMulti(12, ACCOUNT, '', false);
    await eventually(() => (valueEnds.includes(12) ? true : undefined));
    expect(Number(latest(12, 'TotalCashValue'))).toBe(1_000_000);
    expect(Number(latest(12, 'NetLiquidation'))).toBe(1_000_000);
    expect(values.every((row) => row.account === ACCOUNT && row.modelCode === '')).toBe(true);

    api.placeOrder(nextOrderId, AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 40,
      account: ACCOUNT,
      transmit: true,
    });
    const opened = await eventually(() => positions.find((row) => row.reqId === 11 && row.pos === 40));
    expect(opened).toMatchObject({ account: ACCOUNT, modelCode: '', conId: 265598 });

    // The same position and values that reqPositions and reqAccountUpdates report.
    const all = client.ib.getPositions();
    const classic = await new Promise<number | undefined>((resolve) => {
      const subscription = all.subscribe((update) => {
        const line = update.all.get(ACCOUNT)?.find((row) => row.contract.conId === 265598);
        if (line?.pos === 40) {
          resolve(line.avgCost);
          setTimeout(() => subscription.unsubscribe(), 0);
        }
      });
    });
    expect(opened.avgCost).toBeCloseTo(classic ?? 0, 8);

    const cash = await eventually(() => {
      const value = Number(latest(12, 'TotalCashValue'));
      return value < 1_000_000 ? value : undefined;
    });
    const updates = await new Promise<Map<string, string>>((resolve) => {
      const subscription = client.ib.getAccountUpdates(ACCOUNT).subscribe((update) => {
        const rows = update.all.value?.get(ACCOUNT);
        const total = rows?.get('TotalCashValue')?.get('USD')?.value;
        if (total !== undefined && Number(total) < 1_000_000 && update.all.timestamp !== undefined) {
          resolve(
            new Map(
              [...rows!.entries()].map(([key, byCurrency]) => [key, byCurrency.get('USD')?.value ?? '']),
            ),
          );
          setTimeout(() => subscription.unsubscribe(), 0);
        }
      });
    });
    expect(Number(updates.get('TotalCashValue'))).toBeCloseTo(cash, 2);
    expect(Number(updates.get('CashBalance'))).toBeCloseTo(Number(latest(12, 'CashBalance')), 2);
    expect(latest(12, 'AccountCode', '')).toBe(ACCOUNT);
  });

  it('keeps only cash balances and NLV with ledgerAndNLV, and nothing for a model code', async () => {
    api.reqAccountUpdatesMulti(13, ACCOUNT, '', true);
    await eventually(() => (valueEnds.includes(13) ? true : undefined));
    const keys = new Set(values.filter((row) => row.reqId === 13).map((row) => row.key));
    expect(keys.has('NetLiquidation')).toBe(true);
    expect(keys.has('CashBalance')).toBe(true);
    expect(keys.has('BuyingPower')).toBe(false);

    api.reqPositionsMulti(14, ACCOUNT, 'MODEL1');
    api.reqAccountUpdatesMulti(15, ACCOUNT, 'MODEL1', false);
    await eventually(() => (positionEnds.includes(14) && valueEnds.includes(15) ? true : undefined));
    expect(positions.filter((row) => row.reqId === 14)).toEqual([]);
    expect(values.filter((row) => row.reqId === 15)).toEqual([]);
  });

  it('refuses an unknown account with 321, and stops streaming after a cancel', async () => {
    api.reqPositionsMulti(16, 'DU0000000', '');
    const refused = await eventually(() => errors.find((error) => error.reqId === 16));
    expect(refused.code).toBe(321);

    api.cancelPositionsMulti(11);
    api.cancelAccountUpdatesMulti(12);
    api.cancelAccountUpdatesMulti(13);
    await client.ib.getCurrentTime();
    const before = positions.filter((row) => row.reqId === 11).length;
    api.placeOrder(nextOrderId + 1, AAPL, {
      action: OrderAction.SELL,
      orderType: OrderType.MKT,
      totalQuantity: 40,
      account: ACCOUNT,
      transmit: true,
    });
    // The sell fills at once (market open); give its POSITION_MULTI time to arrive if it were sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(positions.filter((row) => row.reqId === 11)).toHaveLength(before);
  });

  it('answers Wall Street Horizon requests with 10276, as IB does without the WSH subscription', async () => {
    api.reqWshMetaData(21);
    api.reqWshEventData(22, new WshEventData(265598));
    const meta = await eventually(() => errors.find((error) => error.reqId === 21));
    const events = await eventually(() => errors.find((error) => error.reqId === 22));
    expect(meta).toEqual({ reqId: 21, code: 10276, message: 'News feed is not allowed.' });
    expect(events).toEqual({ reqId: 22, code: 10276, message: 'News feed is not allowed.' });
    api.reqCancelWshMetaData(21);
    api.reqCancelWshEventData(22);
    await client.ib.getCurrentTime();
  });
});
