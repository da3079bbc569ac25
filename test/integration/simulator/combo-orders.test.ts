import {
  OrderAction,
  OrderStatus,
  OrderType,
  SecType,
  type ComboLeg,
  type Contract,
  type IBApiNextError,
  type OpenOrder,
  type Order,
} from '@stoqey/ib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, map, timeout, type Subscription } from 'rxjs';
import type { Instrument } from '../../../src/simulator/market/instrument';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const ACCOUNT = 'DU1234567';
/** A Wednesday, 11:00 in New York: US stocks and options trade. */
const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
const AAPL_CON_ID = 265598;

async function eventually<T>(check: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function errorFor(errors: IBApiNextError[], reqId: number, code: number): Promise<IBApiNextError> {
  return eventually(() => errors.find((error) => error.reqId === reqId && Number(error.code) === code));
}

const round = (price: number) => Math.round(price * 100) / 100;

function bag(legs: ComboLeg[]): Contract {
  return { symbol: 'AAPL', secType: SecType.BAG, exchange: 'SMART', currency: 'USD', comboLegs: legs };
}

function leg(conId: number, ratio: number, action: OrderAction): ComboLeg {
  return { conId, ratio, action, exchange: 'SMART' };
}

describe('simulated broker: combo (BAG) orders', () => {
  const directory = mkdtempSync(join(tmpdir(), 'sim-combo-'));
  let simulator: IbGatewaySimulator;
  let client: TestClient;
  let keepAlive: Subscription;
  let low: Instrument;
  let high: Instrument;

  const calls = () =>
    simulator.market
      .instruments()
      .filter(
        (instrument) =>
          instrument.secType === 'OPT' && instrument.underlyingSymbol === 'AAPL' && instrument.right === 'C',
      );
  /** The vertical's net quote as the legs make it: buy the low call at its ask, sell the high at its bid. */
  const verticalAsk = () => simulator.market.quote(low.conId).ask - simulator.market.quote(high.conId).bid;
  const place = async (contract: Contract, order: Order): Promise<number> =>
    client.ib.placeNewOrder(contract, { totalQuantity: 1, transmit: true, account: ACCOUNT, ...order });
  const until = async (orderId: number, predicate: (order: OpenOrder) => boolean): Promise<OpenOrder> =>
    firstValueFrom(
      client.ib.getAutoOpenOrders(false).pipe(
        map((update) => update.all.find((order) => order.orderId === orderId)),
        filter((order): order is OpenOrder => order !== undefined && predicate(order)),
        timeout(5000),
      ),
    );
  const position = (conId: number) =>
    simulator.broker.snapshot().accounts[0]?.positions.find((held) => held.conId === conId)?.position ?? 0;

  async function start(stateFile?: string): Promise<void> {
    simulator = new IbGatewaySimulator({
      accounts: [ACCOUNT],
      nextOrderId: 1000,
      ...(stateFile === undefined ? {} : { brokerStateFile: stateFile }),
    });
    recordWire(simulator);
    simulator.setClock(MARKET_OPEN);
    const port = await simulator.start();
    // One client id throughout: only the client that placed an order may modify it.
    client = await connectClient(port, { clientId: 7 });
    keepAlive = client.ib.getAutoOpenOrders(false).subscribe();
    await firstValueFrom(client.ib.getAutoOpenOrders(false));
    const [expiry] = [...new Set(calls().map((call) => call.lastTradeDate ?? ''))].sort();
    const spot = simulator.market.quote(AAPL_CON_ID).last;
    const near = calls()
      .filter((call) => call.lastTradeDate === expiry)
      .sort((a, b) => Math.abs((a.strike ?? 0) - spot) - Math.abs((b.strike ?? 0) - spot));
    [low, high] = near.slice(0, 2).sort((a, b) => (a.strike ?? 0) - (b.strike ?? 0)) as [
      Instrument,
      Instrument,
    ];
  }

  async function stop(): Promise<void> {
    expect(decodeErrors(client.errors)).toEqual([]);
    keepAlive.unsubscribe();
    disconnectAllClients();
    await simulator.stop();
  }

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  describe('one simulator', () => {
    beforeAll(async () => start());
    afterAll(async () => stop());
    afterEach(() => client.ib.cancelAllOrders());

    it('refuses a BAG whose leg it does not know with 200, keeping nothing', async () => {
      const before = simulator.broker.snapshot().orders.length;
      const orderId = await place(
        bag([leg(low.conId, 1, OrderAction.BUY), leg(999_999_999, 1, OrderAction.SELL)]),
        {
          action: OrderAction.BUY,
          orderType: OrderType.LMT,
          lmtPrice: 1,
        },
      );
      expect((await errorFor(client.errors, orderId, 200)).message).toBe(
        'No security definition has been found for the request',
      );
      expect(simulator.broker.snapshot().orders).toHaveLength(before);
    });

    it('rests a LMT vertical below the net ask, reports its legs, and fills it once the limit crosses', async () => {
      const legs = [leg(low.conId, 1, OrderAction.BUY), leg(high.conId, 1, OrderAction.SELL)];
      const resting = round(verticalAsk() - 0.5);
      const orderId = await place(bag(legs), {
        action: OrderAction.BUY,
        orderType: OrderType.LMT,
        lmtPrice: resting,
        totalQuantity: 2,
      });
      const open = await until(orderId, (order) => order.orderState.status === OrderStatus.Submitted);
      expect(open.contract).toMatchObject({ secType: 'BAG', symbol: 'AAPL' });
      expect(open.contract.comboLegs?.map(({ conId, ratio, action }) => ({ conId, ratio, action }))).toEqual([
        { conId: low.conId, ratio: 1, action: 'BUY' },
        { conId: high.conId, ratio: 1, action: 'SELL' },
      ]);
      expect(simulator.broker.snapshot().openOrders.find((order) => order.orderId === orderId)).toMatchObject(
        {
          status: 'Submitted',
          filled: 0,
        },
      );
      const before = { low: position(low.conId), high: position(high.conId) };
      // A limit above the net ask crosses: one execution per leg, each on its side, 2 × ratio.
      client.ib.modifyOrder(orderId, bag(legs), {
        action: OrderAction.BUY,
        orderType: OrderType.LMT,
        lmtPrice: round(verticalAsk() + 1),
        totalQuantity: 2,
        transmit: true,
        account: ACCOUNT,
      });
      const filled = await until(orderId, (order) => order.orderState.status === OrderStatus.Filled);
      expect(filled.orderStatus?.filled).toBe(2);
      expect(position(low.conId)).toBe(before.low + 2);
      expect(position(high.conId)).toBe(before.high - 2);
      const executions = (await client.ib.getExecutionDetails({})).filter(
        (detail) => detail.execution.orderId === orderId,
      );
      expect(
        executions.map((detail) => ({
          conId: detail.contract.conId,
          side: detail.execution.side,
          shares: detail.execution.shares,
        })),
      ).toEqual([
        { conId: low.conId, side: 'BOT', shares: 2 },
        { conId: high.conId, side: 'SLD', shares: 2 },
      ]);
      // The net of the legs' prices is the combo's average fill price.
      const [bought, sold] = executions;
      expect((bought?.execution.price ?? 0) - (sold?.execution.price ?? 0)).toBeCloseTo(
        filled.orderStatus?.avgFillPrice ?? NaN,
        6,
      );
    });

    it('fills a SELL MKT buy-write at once: stock sold 100 a unit, call bought back', async () => {
      const legs = [leg(AAPL_CON_ID, 100, OrderAction.BUY), leg(high.conId, 1, OrderAction.SELL)];
      const before = { stock: position(AAPL_CON_ID), call: position(high.conId) };
      const orderId = await place(bag(legs), { action: OrderAction.SELL, orderType: OrderType.MKT });
      await until(orderId, (order) => order.orderState.status === OrderStatus.Filled);
      expect(position(AAPL_CON_ID)).toBe(before.stock - 100);
      expect(position(high.conId)).toBe(before.call + 1);
    });

    it("answers a what-if for a BAG with both legs' commission and margin", async () => {
      const legs = [leg(low.conId, 1, OrderAction.BUY), leg(high.conId, 1, OrderAction.SELL)];
      const orderId = await place(bag(legs), {
        action: OrderAction.BUY,
        orderType: OrderType.LMT,
        lmtPrice: 1,
        totalQuantity: 3,
        whatIf: true,
      });
      const preview = await until(orderId, (order) => order.order.whatIf === true);
      // 3 contracts a leg at $0.65, at least $1 a leg.
      expect(preview.orderState.commission).toBeCloseTo(3.9, 2);
      expect(preview.orderState.initMarginChange).toBeGreaterThan(0);
      expect(simulator.broker.snapshot().orders.find((order) => order.orderId === orderId)).toBeUndefined();
    });
  });

  it('keeps a working combo order across a restart (the state file) and fills it afterwards', async () => {
    const stateFile = join(directory, 'combo.json');
    await start(stateFile);
    const legs = [leg(low.conId, 1, OrderAction.BUY), leg(high.conId, 1, OrderAction.SELL)];
    const orderId = await place(bag(legs), {
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: round(verticalAsk() - 0.5),
    });
    await until(orderId, (order) => order.orderState.status === OrderStatus.Submitted);
    await stop();

    await start(stateFile);
    const restored = simulator.broker.snapshot().openOrders.find((order) => order.orderId === orderId);
    expect(restored).toMatchObject({
      status: 'Submitted',
      comboLegs: [
        { conId: low.conId, ratio: 1, action: 'BUY' },
        { conId: high.conId, ratio: 1, action: 'SELL' },
      ],
    });
    client.ib.modifyOrder(orderId, bag(legs), {
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: round(verticalAsk() + 1),
      totalQuantity: 1,
      transmit: true,
      account: ACCOUNT,
    });
    await until(orderId, (order) => order.orderState.status === OrderStatus.Filled);
    await stop();
  });
});
