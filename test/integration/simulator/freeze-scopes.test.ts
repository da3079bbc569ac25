import { SecType, type Contract, type IBApiNext } from '@stoqey/ib';
import { startControlServer, type ControlServer } from '../../../src/simulator/control/control-http-server';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const EUR_USD: Contract = { symbol: 'EUR', secType: SecType.CASH, exchange: 'IDEALPRO', currency: 'USD' };
/** A Wednesday at noon New York time: FX trades. */
const WEDNESDAY_NOON_NY = '2026-11-18T17:00:00Z';

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens a stream (a distinct generic tick list makes @stoqey/ib send a request of its own rather than share
 * one) and counts the ticks that change after its first full set, during `ms`.
 */
async function changedTicksDuring(ib: IBApiNext, genericTicks: string, ms: number): Promise<number> {
  let ticks = 0;
  let counting = false;
  const subscription = ib.getMarketData(EUR_USD, genericTicks, false, false).subscribe({
    next: (update) => {
      if (counting) ticks += update.changed?.size ?? 0;
    },
    error: () => undefined,
  });
  await sleep(300); // the first full set of a new stream arrives at once
  counting = true;
  await sleep(ms);
  subscription.unsubscribe();
  return ticks;
}

describe('simulator freeze scopes: what a client must do to see ticks again', () => {
  let simulator: IbGatewaySimulator;
  let control: ControlServer;

  async function freeze(body: unknown): Promise<Response> {
    return fetch(`http://127.0.0.1:${control.port}/market-data/freeze`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: 11 });
    recordWire(simulator);
    await simulator.start();
    simulator.setClock(Date.parse(WEDNESDAY_NOON_NY));
    control = await startControlServer(simulator, { host: '127.0.0.1', port: 0 });
  });

  afterEach(() => {
    disconnectAllClients();
    simulator.freezeMarketData(false);
  });

  afterAll(async () => {
    await control.close();
    await simulator.stop();
  });

  it("'subscriptions': the open stream stays silent, a new request ticks on the same connection", async () => {
    const { ib, errors } = await connectClient(simulator.port);
    let oldStreamTicks = 0;
    const old = ib.getMarketData(EUR_USD, '', false, false).subscribe((update) => {
      oldStreamTicks += update.changed?.size ?? 0;
    });
    await sleep(1200);
    expect(oldStreamTicks).toBeGreaterThan(0);

    expect((await freeze({ scope: 'subscriptions' })).status).toBe(200);
    oldStreamTicks = 0;
    const fresh = await changedTicksDuring(ib, '233', 1500);
    old.unsubscribe();
    expect(oldStreamTicks).toBe(0);
    expect(fresh).toBeGreaterThan(0);
    expect(simulator.stats().marketDataFrozen).toBe(false);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it("'connections': the open connection gets nothing, a new connection ticks", async () => {
    const first = await connectClient(simulator.port);
    expect(await changedTicksDuring(first.ib, '', 1000)).toBeGreaterThan(0);

    expect((await freeze({ scope: 'connections' })).status).toBe(200);
    let firstConnectionTicks = 0;
    const fresh = first.ib.getMarketData(EUR_USD, '233', false, false).subscribe({
      next: (update) => (firstConnectionTicks += (update.added?.size ?? 0) + (update.changed?.size ?? 0)),
      error: () => undefined,
    });
    await sleep(1500);
    fresh.unsubscribe();
    expect(firstConnectionTicks).toBe(0); // not even the first full set of a new request
    await expect(first.ib.getCurrentTime()).resolves.toBeGreaterThan(0); // the socket still answers

    const second = await connectClient(simulator.port);
    expect(await changedTicksDuring(second.ib, '', 1500)).toBeGreaterThan(0);
    expect(decodeErrors([...first.errors, ...second.errors])).toEqual([]);
  });

  it('refuses an unknown scope with 400 naming the allowed ones', async () => {
    const response = await freeze({ scope: 'everything' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe(
      '"scope" must be one of gateway, subscriptions, connections',
    );
  });
});
