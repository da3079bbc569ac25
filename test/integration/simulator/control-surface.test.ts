import { ConnectionState, EventName, IBApi, SecType, type Contract, type IBApiNext } from '@stoqey/ib';
import { connect as tcpConnect } from 'node:net';
import { firstValueFrom, filter, take, timeout, toArray, type Subscription } from 'rxjs';
import { startControlServer, type ControlServer } from '../../../src/simulator/control/control-http-server';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, waitForState } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

const EUR_USD: Contract = { symbol: 'EUR', secType: SecType.CASH, exchange: 'IDEALPRO', currency: 'USD' };
/** A Wednesday at noon New York time: FX and US equities both trade. */
const WEDNESDAY_NOON_NY = Date.parse('2026-11-18T17:00:00Z');
/** A Saturday: every market of the universe is closed. */
const SATURDAY = Date.parse('2026-11-21T15:00:00Z');

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('simulator control surface, observed from the client', () => {
  let simulator: IbGatewaySimulator;
  let control: ControlServer;
  let port: number;

  async function post(path: string, body: unknown = {}): Promise<Response> {
    const response = await fetch(`http://127.0.0.1:${control.port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return response;
  }

  /** Counts ticks a streaming subscription delivers during `ms`. */
  async function ticksDuring(ib: IBApiNext, ms: number): Promise<number> {
    let ticks = 0;
    const subscription: Subscription = ib.getMarketData(EUR_USD, '', false, false).subscribe({
      next: (update) => (ticks += (update.added?.size ?? 0) + (update.changed?.size ?? 0)),
      error: () => undefined,
    });
    await sleep(ms);
    subscription.unsubscribe();
    return ticks;
  }

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: 7 });
    recordWire(simulator);
    port = await simulator.start();
    control = await startControlServer(simulator, { host: '127.0.0.1', port: 0 });
  });

  beforeEach(async () => {
    await post('/clock', { time: new Date(WEDNESDAY_NOON_NY).toISOString() });
  });

  afterEach(async () => {
    disconnectAllClients();
    await post('/market-data/unfreeze');
    await post('/farm/restore');
    await post('/login', { state: 'logged-in' });
  });

  afterAll(async () => {
    await control.close();
    await simulator.stop();
  });

  it('reports its state over HTTP and rejects bad control requests with 400', async () => {
    const state = (await (await fetch(`http://127.0.0.1:${control.port}/state`)).json()) as Record<
      string,
      unknown
    >;
    expect(state.gatewayState).toBe('logged-in');
    expect(state.listening).toBe(true);
    const bad = await fetch(`http://127.0.0.1:${control.port}/login`, {
      method: 'POST',
      body: JSON.stringify({ state: 'dancing' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('"state" must be one of');
  });

  it('freeze: ticks stop while the socket keeps answering, and resume on unfreeze', async () => {
    const { ib, errors } = await connectClient(port);
    expect(await ticksDuring(ib, 1200)).toBeGreaterThan(0);
    await post('/market-data/freeze');
    const frozenTicks = await (async () => {
      const subscription = ib.getMarketData(EUR_USD, '', false, false).subscribe();
      await sleep(300); // the initial values of a new subscription may still arrive
      let ticks = 0;
      const counting = ib
        .getMarketData(EUR_USD, '', false, false)
        .subscribe((update) => (ticks += update.changed?.size ?? 0));
      await sleep(1500);
      counting.unsubscribe();
      subscription.unsubscribe();
      return ticks;
    })();
    expect(frozenTicks).toBe(0);
    await expect(ib.getCurrentTime()).resolves.toBeGreaterThan(0);
    expect(ib.isConnected).toBe(true);
    await post('/market-data/unfreeze');
    expect(await ticksDuring(ib, 1200)).toBeGreaterThan(0);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('drop connections: the client is disconnected and reconnects by itself', async () => {
    const { ib } = await connectClient(port, { reconnectInterval: 200 });
    const states = ib.connectionState.pipe(take(3), toArray(), timeout(5000));
    const seen = firstValueFrom(states);
    await post('/connections/drop');
    expect(await seen).toEqual([
      ConnectionState.Connected,
      ConnectionState.Disconnected,
      ConnectionState.Connecting,
    ]);
    await waitForState(ib, ConnectionState.Connected);
    await expect(ib.getCurrentTime()).resolves.toBeGreaterThan(0);
  });

  it('refuse connections: connects fail with ECONNREFUSED for the duration, then work again', async () => {
    await post('/connections/refuse', { durationMs: 1500 });
    const refused = await new Promise<string>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
    });
    expect(refused).toBe('ECONNREFUSED');
    await sleep(1800);
    const { ib } = await connectClient(port);
    await expect(ib.getCurrentTime()).resolves.toBeGreaterThan(0);
  });

  it('data-farm outage: 2103 and no ticks; restore: 2104 and ticks again', async () => {
    const api = new IBApi({ host: '127.0.0.1', port });
    const infos: number[] = [];
    api.on(EventName.info, (_message: string, code: number) => infos.push(code));
    const ready = new Promise<void>((resolve) => api.once(EventName.nextValidId, () => resolve()));
    api.connect(950);
    await ready;
    const { ib } = await connectClient(port);
    await post('/farm/outage');
    await sleep(200);
    expect(infos).toContain(2103);
    const subscription = ib.getMarketData(EUR_USD, '', false, false).subscribe();
    await sleep(300);
    let ticks = 0;
    const counting = ib
      .getMarketData(EUR_USD, '', false, false)
      .subscribe((update) => (ticks += update.changed?.size ?? 0));
    await sleep(1200);
    expect(ticks).toBe(0);
    await post('/farm/restore');
    await sleep(1200);
    expect(infos.filter((code) => code === 2104).length).toBeGreaterThanOrEqual(2);
    expect(ticks).toBeGreaterThan(0);
    counting.unsubscribe();
    subscription.unsubscribe();
    api.disconnect();
  });

  it('connectivity loss (1100) makes IBApiNext reconnect; restore sends 1101 or 1102', async () => {
    const api = new IBApi({ host: '127.0.0.1', port });
    const infos: number[] = [];
    api.on(EventName.info, (_message: string, code: number) => infos.push(code));
    const ready = new Promise<void>((resolve) => api.once(EventName.nextValidId, () => resolve()));
    api.connect(951);
    await ready;
    const { ib } = await connectClient(port, { reconnectInterval: 200 });
    const disconnected = firstValueFrom(
      ib.connectionState.pipe(filter((state) => state === ConnectionState.Disconnected)),
    );
    await post('/connectivity/lost');
    await disconnected;
    await waitForState(ib, ConnectionState.Connected);
    await post('/connectivity/restored', { dataMaintained: true });
    await post('/connectivity/restored', { dataMaintained: false });
    await sleep(200);
    expect(infos).toEqual(expect.arrayContaining([1100, 1102, 1101]));
    api.disconnect();
  });

  it('settable clock: current time follows it and a closed market streams no ticks', async () => {
    const { ib } = await connectClient(port);
    await post('/clock', { time: new Date(SATURDAY).toISOString() });
    const time = await ib.getCurrentTime();
    expect(Math.abs(time * 1000 - SATURDAY)).toBeLessThan(5000);
    const subscription = ib.getMarketData(EUR_USD, '', false, false).subscribe();
    await sleep(300);
    let ticks = 0;
    const counting = ib
      .getMarketData(EUR_USD, '', false, false)
      .subscribe((update) => (ticks += update.changed?.size ?? 0));
    await sleep(1200);
    counting.unsubscribe();
    subscription.unsubscribe();
    expect(ticks).toBe(0);
  });

  it('slow start: API connections are closed while logging in, then accepted', async () => {
    await post('/login', { state: 'logging-in', durationMs: 1500 });
    const api = new IBApi({ host: '127.0.0.1', port });
    let handshake = false;
    api.on(EventName.server, () => (handshake = true));
    const closed = new Promise<void>((resolve) => api.once(EventName.disconnected, () => resolve()));
    api.connect(952);
    await closed;
    expect(handshake).toBe(false);
    expect(simulator.stats().gatewayState).toBe('logging-in');
    await sleep(1700);
    expect(simulator.stats().gatewayState).toBe('logged-in');
    const { ib } = await connectClient(port);
    await expect(ib.getManagedAccounts()).resolves.toEqual(['DU1234567']);
  });

  it.each(['login-failed', 'awaiting-2fa'] as const)(
    '%s: connected clients are dropped and new ones never get a session',
    async (state) => {
      const { ib } = await connectClient(port);
      await post('/login', { state });
      await waitForState(ib, ConnectionState.Disconnected);
      const api = new IBApi({ host: '127.0.0.1', port });
      let handshake = false;
      api.on(EventName.server, () => (handshake = true));
      const closed = new Promise<void>((resolve) => api.once(EventName.disconnected, () => resolve()));
      api.connect(953);
      await closed;
      expect(handshake).toBe(false);
      const stateResponse = await fetch(`http://127.0.0.1:${control.port}/state`);
      expect(((await stateResponse.json()) as { gatewayState: string }).gatewayState).toBe(state);
    },
  );
});
