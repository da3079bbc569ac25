import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { GatewayList } from '../../../src/gateway/gateway.schemas';
import type { HealthEvents, HealthStatus } from '../../../src/health/health.schemas';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { eventually, FAST_WATCHDOG, FX_OPEN, sleep } from '../../integration/health/health-harness';
import { startTestService, testConfig } from '../../integration/service/service-harness';
import { WebsocketTcpBridge } from '../../integration/vnc/websocket-tcp-bridge';
import {
  assertDockerAvailable,
  docker,
  removeTestContainers,
  run,
  TEST_CONTAINER_LABEL,
} from '../../support/docker';
import { RfbClient, RfbHandshakeError } from '../../support/rfb-client';

/**
 * One supervisor, three gateways: two simulator-image containers on a real Docker daemon (a paper one and a
 * "live" one with its own account) and a simulator attached by address. Orders go to the gateway that manages
 * their account and to no other (each simulated broker's own book says so); a `docker kill` of one container
 * leaves the other gateways' quotes, orders, sessions and events alone; each screen is the gateway's own.
 */

jest.setTimeout(240_000);

const IMAGE = 'ib-gateway-simulator:local';
const LABEL = `many-gateways-${process.pid}`;
const PAPER_ACCOUNT = 'DU1234567'; // the image's paper account
const LIVE_ACCOUNT = 'U1234567'; // the image's account with TRADING_MODE=live
const DESK_ACCOUNT = 'DU7000001';

type List = z.infer<typeof GatewayList>;
type Status = z.infer<typeof HealthStatus>;
type Events = z.infer<typeof HealthEvents>;
interface BrokerBook {
  orders: Array<{ orderId: number; orderRef: string; account: string }>;
}

describe('several gateways in one supervisor: two containers and one at an address', () => {
  const containerNames = {
    paper: `ibgs-test-many-${process.pid}-paper`,
    live: `ibgs-test-many-${process.pid}-live`,
  };
  let desk: IbGatewaySimulator;
  let service: RunningService;

  const url = (path: string) => `${service.urls.base}${path}`;
  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(url(path));
    return { status: response.status, body: (await response.json()) as T };
  };
  const post = async <T>(path: string, body: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const health = async (gateway: string) => (await get<Status>(`/health/status?gateway=${gateway}`)).body;

  /** The simulated broker's book in a container, from its control API on Docker's bridge network. */
  async function containerBook(containerName: string): Promise<BrokerBook> {
    const address = (
      await docker(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', containerName])
    ).trim();
    const response = await fetch(`http://${address}:4010/broker`);
    return (await response.json()) as BrokerBook;
  }

  async function books(): Promise<Record<'paper' | 'live' | 'desk', string[]>> {
    const refs = (book: BrokerBook) => book.orders.map((order) => `${order.account}:${order.orderRef}`);
    return {
      paper: refs(await containerBook(containerNames.paper)),
      live: refs(await containerBook(containerNames.live)),
      desk: refs(desk.broker.snapshot()),
    };
  }

  const limitOrder = (account: string, idempotencyKey: string) => ({
    account,
    symbol: 'AAPL',
    side: 'BUY',
    quantity: 1,
    orderType: 'LMT',
    limitPrice: 1,
    tif: 'GTC',
    idempotencyKey,
  });

  beforeAll(async () => {
    await assertDockerAvailable();
    await removeTestContainers(LABEL);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    desk = new IbGatewaySimulator({ port: 0, accounts: [DESK_ACCOUNT], initialState: 'logged-in' });
    const deskPort = await desk.start();
    desk.setClock(FX_OPEN);
    const base = testConfig();
    const container = (name: 'paper' | 'live') => ({
      image: IMAGE,
      containerName: containerNames[name],
      startTimeoutSeconds: 90,
      // Each screen has its own password: a viewer routed to the wrong gateway could not log in.
      vncPassword: `${name}-vnc-${randomBytes(4).toString('hex')}`,
    });
    service = await startTestService(
      testConfig({
        watchdog: { ...FAST_WATCHDOG, staleAfterSeconds: 3, backoffMaxSeconds: 2 },
        orders: { ...base.orders, allowLive: true },
        gateways: [
          {
            name: 'paper',
            required: true,
            ib: { username: 'paper-user', password: `pw-${randomBytes(8).toString('hex')}` },
            gateway: container('paper'),
          },
          {
            name: 'live',
            required: true,
            ib: {
              username: 'live-user',
              password: `pw-${randomBytes(8).toString('hex')}`,
              tradingMode: 'live',
            },
            gateway: container('live'),
          },
          { name: 'desk', required: true, gateway: { address: `127.0.0.1:${deskPort}` } },
        ],
      }),
      {
        gatewayContainer: {
          labels: { [TEST_CONTAINER_LABEL]: LABEL },
          env: {
            SIM_LOGIN_DELAY_MS: '300',
            SIM_ACCEPTED_PASSWORD_FILE: '/run/secrets/tws_password',
            // An open FX market, also after a container restart (the real clock may be a weekend).
            SIM_CLOCK: new Date(FX_OPEN).toISOString(),
          },
        },
      },
    );
    for (const name of ['paper', 'live', 'desk']) {
      await eventually(`${name} data-flowing`, async () =>
        (await health(name)).state === 'data-flowing' ? true : undefined,
      );
    }
  }, 400_000);

  afterAll(async () => {
    await service?.close();
    await desk?.stop().catch(() => undefined);
    await removeTestContainers(LABEL);
  }, 60_000);

  it('lists the three gateways with their kinds, accounts and trading modes', async () => {
    const { body } = await get<List>('/gateway/list');
    expect(
      body.gateways.map(({ name, kind, tradingMode, accounts, connected }) => ({
        name,
        kind,
        tradingMode,
        accounts,
        connected,
      })),
    ).toEqual([
      { name: 'paper', kind: 'container', tradingMode: 'paper', accounts: [PAPER_ACCOUNT], connected: true },
      { name: 'live', kind: 'container', tradingMode: 'live', accounts: [LIVE_ACCOUNT], connected: true },
      { name: 'desk', kind: 'address', tradingMode: 'paper', accounts: [DESK_ACCOUNT], connected: true },
    ]);
  });

  it('sends each order to the gateway that manages its account, and to no other', async () => {
    const keys = { paper: `paper-${process.pid}`, live: `live-${process.pid}`, desk: `desk-${process.pid}` };
    const placed = {
      paper: await post<{ orderId: number }>('/orders', limitOrder(PAPER_ACCOUNT, keys.paper)),
      live: await post<{ orderId: number }>('/orders', limitOrder(LIVE_ACCOUNT, keys.live)),
      desk: await post<{ orderId: number }>('/orders', limitOrder(DESK_ACCOUNT, keys.desk)),
    };
    expect([placed.paper.status, placed.live.status, placed.desk.status]).toEqual([200, 200, 200]);
    expect(await books()).toEqual({
      paper: [`${PAPER_ACCOUNT}:${keys.paper}`],
      live: [`${LIVE_ACCOUNT}:${keys.live}`],
      desk: [`${DESK_ACCOUNT}:${keys.desk}`],
    });
    // Each gateway's journal holds its own order only.
    for (const name of ['paper', 'live', 'desk'] as const) {
      const journal = await get<{ entries: Array<{ input?: { idempotencyKey?: string } }> }>(
        `/orders/journal?gateway=${name}`,
      );
      const journalKeys = new Set(
        journal.body.entries.map((entry) => entry.input?.idempotencyKey).filter(Boolean),
      );
      expect([...journalKeys]).toEqual([keys[name]]);
    }
    // Without an account and a gateway, nothing decides: nothing is placed.
    const { account: _account, ...unrouted } = limitOrder(PAPER_ACCOUNT, `unrouted-${process.pid}`);
    const refused = await post<{ code: string; message: string }>('/orders', unrouted);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/give gateway, one of paper, live, desk/);
    expect((await books()).paper).toHaveLength(1);
  });

  it('keeps the other gateways whole while one container is killed and recovers', async () => {
    const killedAt = new Date();
    await docker(['kill', containerNames.paper]);
    // While paper is down: live's data keeps flowing and its orders go through.
    await eventually('paper noticed down', async () =>
      (await health('paper')).state === 'data-flowing' ? undefined : true,
    );
    for (let sample = 0; sample < 3; sample++) {
      const quote = await get<unknown>('/market-data/quote?symbol=EUR.USD&gateway=live');
      expect(quote.status).toBe(200);
      expect((await health('live')).state).toBe('data-flowing');
      expect((await health('desk')).state).toBe('data-flowing');
      await sleep(500);
    }
    const during = await post<{ orderId: number }>(
      '/orders',
      limitOrder(LIVE_ACCOUNT, `during-${process.pid}`),
    );
    expect(during.status).toBe(200);
    // The paper container comes back (the supervisor restarts it), with its book.
    await eventually(
      'paper data-flowing again',
      async () => ((await health('paper')).state === 'data-flowing' ? true : undefined),
      120_000,
    );
    expect((await books()).paper).toEqual([`${PAPER_ACCOUNT}:paper-${process.pid}`]);
    // Only paper's events say anything happened; live's and desk's sessions never dropped.
    for (const name of ['live', 'desk']) {
      const events = (await get<Events>(`/health/events?gateway=${name}`)).body.events;
      const since = events.filter((event) => Date.parse(event.at) >= killedAt.getTime());
      expect(since.filter((event) => event.source === 'connection' || event.source === 'gateway')).toEqual(
        [],
      );
    }
    const paperEvents = (await get<Events>('/health/events?gateway=paper')).body.events;
    expect(
      paperEvents.some((event) => Date.parse(event.at) >= killedAt.getTime() && event.source === 'gateway'),
    ).toBe(true);
  });

  it("shows each container's own screen at /vnc?gateway=, and says why the attached one has none", async () => {
    const websocket = (gateway?: string) =>
      `${service.urls.base.replace('http', 'ws')}/vnc/websockify${gateway ? `?gateway=${gateway}` : ''}`;
    for (const name of ['paper', 'live']) {
      const bridge = await WebsocketTcpBridge.open(websocket(name));
      try {
        // The supervisor logs in with this gateway's own VNC password: only its own screen accepts it.
        const client = await RfbClient.connect({ port: bridge.port });
        expect(client.serverInit.name).toBe('IB Gateway (simulator)');
        client.close();
      } finally {
        await bridge.close();
      }
    }
    for (const [gateway, reason] of [
      ['desk', /runs outside the supervisor/],
      [undefined, /open one of \/vnc\?gateway=paper, \/vnc\?gateway=live, \/vnc\?gateway=desk/],
    ] as const) {
      const bridge = await WebsocketTcpBridge.open(websocket(gateway));
      try {
        const error = await RfbClient.connect({ port: bridge.port }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(RfbHandshakeError);
        expect((error as RfbHandshakeError).reason).toMatch(reason);
      } finally {
        await bridge.close();
      }
    }
  });

  it('is ready only while every required gateway is, and says which one is not', async () => {
    const ready = await get<{ status: string; details: Record<string, { status: string }> }>('/health/ready');
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.details).sort()).toEqual(
      ['desk', 'live', 'paper'].flatMap((name) => [`${name}.gateway`, `${name}.ibSession`]).sort(),
    );
    desk.dropConnections();
    await desk.stop();
    const notReady = await eventually('not ready', async () => {
      const answer = await get<{ message: string; details: Record<string, { status: string }> }>(
        '/health/ready',
      );
      return answer.status === 503 ? answer.body : undefined;
    });
    expect(notReady.message).toMatch(/^Not ready: desk\.ibSession \w+$/);
    expect(notReady.details['desk.ibSession']?.status).toBe('down');
    expect(notReady.details['paper.ibSession']?.status).toBe('up');
    expect(notReady.details['live.ibSession']?.status).toBe('up');
  });
});
