import { IBApi, EventName } from '@stoqey/ib';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

describe('simulator connection protocol', () => {
  let simulator: IbGatewaySimulator;
  let port: number;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: ['DU1111111', 'DU2222222'] });
    recordWire(simulator);
    port = await simulator.start();
  });

  afterEach(() => disconnectAllClients());
  afterAll(async () => simulator.stop());

  it('completes the handshake at server version 193 and reports accounts, time and the next order id', async () => {
    const { ib, errors } = await connectClient(port);
    const before = Math.floor(Date.now() / 1000);
    const [accounts, time, orderId] = await Promise.all([
      ib.getManagedAccounts(),
      ib.getCurrentTime(),
      ib.getNextValidOrderId(),
    ]);
    expect(accounts).toEqual(['DU1111111', 'DU2222222']);
    expect(Math.abs(time - before)).toBeLessThanOrEqual(2);
    expect(orderId).toBeGreaterThanOrEqual(1000);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('serves several clients at once', async () => {
    const clients = await Promise.all([connectClient(port), connectClient(port), connectClient(port)]);
    const times = await Promise.all(clients.map(async ({ ib }) => ib.getCurrentTime()));
    expect(times).toHaveLength(3);
    expect(simulator.stats().connectedClients.length).toBeGreaterThanOrEqual(3);
  });

  it('sends the farm-status infos after START_API', async () => {
    const api = new IBApi({ host: '127.0.0.1', port });
    const infos: number[] = [];
    api.on(EventName.info, (_message: string, code: number) => infos.push(code));
    const ready = new Promise<void>((resolve) => api.once(EventName.nextValidId, () => resolve()));
    api.connect(900);
    await ready;
    await new Promise((resolve) => setTimeout(resolve, 100));
    api.disconnect();
    expect(infos).toEqual(expect.arrayContaining([2104, 2106, 2158]));
  });

  it('refuses a client id that is already connected with error 326 and closes that connection', async () => {
    const first = await connectClient(port, { clientId: 77 });
    const api = new IBApi({ host: '127.0.0.1', port });
    const codes: number[] = [];
    api.on(EventName.info, (_message: string, code: number) => codes.push(code));
    api.on(EventName.error, (_error: Error, code: number) => codes.push(code));
    const closed = new Promise<void>((resolve) => api.once(EventName.disconnected, () => resolve()));
    api.connect(77);
    await closed;
    expect(codes).toContain(326);
    // The first client is untouched.
    await expect(first.ib.getCurrentTime()).resolves.toBeGreaterThan(0);
  });

  it('answers more than 50 messages per second with error 100 and disconnects, as IB does', async () => {
    const api = new IBApi({ host: '127.0.0.1', port, maxReqPerSec: 1000 });
    const codes: number[] = [];
    api.on(EventName.info, (_message: string, code: number) => codes.push(code));
    const ready = new Promise<void>((resolve) => api.once(EventName.nextValidId, () => resolve()));
    const closed = new Promise<void>((resolve) => api.once(EventName.disconnected, () => resolve()));
    const violationsBefore = simulator.stats().pacingViolations;
    api.connect(901);
    await ready;
    for (let i = 0; i < 80; i++) api.reqCurrentTime();
    await closed;
    expect(codes).toContain(100);
    expect(simulator.stats().pacingViolations).toBe(violationsBefore + 1);
  });

  it('stays connected at 40 messages per second, the client default', async () => {
    const api = new IBApi({ host: '127.0.0.1', port });
    let times = 0;
    let disconnected = false;
    api.on(EventName.currentTime, () => times++);
    api.on(EventName.disconnected, () => (disconnected = true));
    const ready = new Promise<void>((resolve) => api.once(EventName.nextValidId, () => resolve()));
    api.connect(902);
    await ready;
    for (let i = 0; i < 60; i++) api.reqCurrentTime();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    api.disconnect();
    expect(disconnected).toBe(false);
    expect(times).toBe(60);
  });
});
