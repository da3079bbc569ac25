import { OrderAction, OrderType, SecType, type Contract } from '@stoqey/ib';
import type { BrokerSnapshot } from '../../../src/simulator/broker/broker-snapshot';
import { connectClient, decodeErrors, disconnectAllClients } from '../../support/ib-client';
import {
  assertDockerAvailable,
  containerLogs,
  docker,
  publishedPort,
  removeTestContainers,
  run,
  startContainer,
  waitForLog,
} from '../../support/docker';

/**
 * The simulated broker's state survives its container, as IB's servers keep orders across a gateway restart:
 * `docker kill` + `docker start` (SIGKILL, no chance to save anything) and `docker restart` (SIGTERM) both
 * come back with the order book. The state lives in the container's own file system (SIM_STATE_FILE's default
 * under the settings directory), written by the non-root user the image runs as.
 */

const IMAGE = 'ib-gateway-simulator:local';
const LABEL = 'simulator-state';
const PAPER_API = 4004;
const CONTROL = 4010;
const AAPL: Contract = { symbol: 'AAPL', secType: SecType.STK, exchange: 'SMART', currency: 'USD' };
const LOGIN_COMPLETED = /IBC: Login has completed$/gm;

describe('the simulator image keeps its broker state across container restarts', () => {
  let container: string;

  /** Waits for the n-th login of the container's life (each start logs in again). */
  async function loggedIn(times: number): Promise<void> {
    await waitForLog(container, (log) => (log.match(LOGIN_COMPLETED) ?? []).length >= times, 30_000);
  }

  /** Ports are published anew on every start. */
  async function ports(): Promise<{ api: number; control: number }> {
    return {
      api: await publishedPort(container, PAPER_API),
      control: await publishedPort(container, CONTROL),
    };
  }

  async function brokerOrders(controlPort: number): Promise<BrokerSnapshot['orders']> {
    const response = await fetch(`http://127.0.0.1:${controlPort}/broker`);
    expect(response.status).toBe(200);
    return ((await response.json()) as BrokerSnapshot).orders;
  }

  /** What a new API client sees of an order: listed by reqAllOpenOrders, with its orderRef and permId. */
  async function listedOrder(apiPort: number, orderId: number) {
    const client = await connectClient(apiPort, { clientId: 9 });
    try {
      const order = (await client.ib.getAllOpenOrders()).find((open) => open.orderId === orderId);
      const nextId = await client.ib.getNextValidOrderId();
      expect(decodeErrors(client.errors)).toEqual([]);
      return { order, nextId };
    } finally {
      client.disconnect();
    }
  }

  beforeAll(async () => {
    await assertDockerAvailable();
    await removeTestContainers(LABEL);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    container = await startContainer({
      image: IMAGE,
      label: LABEL,
      env: { TWS_USERID: 'trader1', TWS_PASSWORD: 'demo', SIM_LOGIN_DELAY_MS: '200' },
      ports: [PAPER_API, CONTROL],
    });
  }, 300_000);

  afterEach(() => disconnectAllClients());

  afterAll(async () => {
    disconnectAllClients();
    await removeTestContainers(LABEL);
  }, 60_000);

  it('an order placed over the API port is still listed after docker kill + start, and after docker restart', async () => {
    await loggedIn(1);
    let { api } = await ports();
    let control: number;
    const log = await containerLogs(container);
    expect(log).toContain(
      '.> Simulator: broker state: /home/ibgateway/Jts/simulated-broker-state.json (new)',
    );

    const client = await connectClient(api, { clientId: 8 });
    const orderId = await client.ib.placeNewOrder(AAPL, {
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      lmtPrice: 1, // far below the market: it rests
      totalQuantity: 3,
      tif: 'GTC',
      orderRef: 'survives-the-container',
      transmit: true,
    });
    const placed = (await client.ib.getAllOpenOrders()).find((open) => open.orderId === orderId);
    expect(placed?.order.orderRef).toBe('survives-the-container');
    client.disconnect();

    // SIGKILL: nothing runs at exit, so only what was written before the acknowledgement can survive.
    await docker(['kill', container]);
    await docker(['start', container]);
    await loggedIn(2);
    ({ api, control } = await ports());
    const afterKill = await listedOrder(api, orderId);
    expect(afterKill.order?.order).toMatchObject({
      orderRef: 'survives-the-container',
      permId: placed?.order.permId,
      totalQuantity: 3,
      lmtPrice: 1,
    });
    expect(afterKill.nextId).toBeGreaterThan(orderId);
    expect((await brokerOrders(control)).map((order) => order.orderRef)).toEqual(['survives-the-container']);
    expect(await containerLogs(container)).toContain('.> Simulator: broker state: restored 1 orders');

    await docker(['restart', container], 60_000);
    await loggedIn(3);
    ({ api, control } = await ports());
    const afterRestart = await listedOrder(api, orderId);
    expect(afterRestart.order?.order.permId).toBe(placed?.order.permId);
    expect(afterRestart.nextId).toBeGreaterThan(afterKill.nextId);
    expect(await brokerOrders(control)).toEqual([
      expect.objectContaining({ orderId, orderRef: 'survives-the-container', status: expect.any(String) }),
    ]);
  }, 120_000);
});
