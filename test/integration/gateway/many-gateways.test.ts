import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { z } from 'zod';
import { CONFIG_DEFAULTS, type AppConfig } from '../../../src/config/config.schema';
import type { GatewayList } from '../../../src/gateway/gateway.schemas';
import type { HealthEvents, HealthStatus } from '../../../src/health/health.schemas';
import type { RunningService } from '../../../src/main';
import type { Quote } from '../../../src/market-data/market-data.schemas';
import { Request } from '../../../src/simulator/protocol/message-ids';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { eventually, FAST_WATCHDOG, FX_OPEN, sleep } from '../health/health-harness';
import { readEvents, upstreamRequests, type ServerSentEvent } from '../market-data/market-data-support';
import { callTool, restClient } from '../orders/orders-harness';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';

jest.setTimeout(60_000);

/**
 * Several gateways in one supervisor, all real parts: two in-process simulators the supervisor starts itself
 * (paper, and live with ib.tradingMode live) and a third simulator this test starts on its own and the
 * supervisor attaches to by address (desk), spoken to over TCP, with real HTTP and a real MCP client.
 */

type GatewayListBody = z.infer<typeof GatewayList>;
type HealthStatusBody = z.infer<typeof HealthStatus>;
type HealthEventsBody = z.infer<typeof HealthEvents>;
interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  gateways?: string[];
}
interface Placed {
  orderId: number;
  orders: { orderId: number; account?: string; status: string; idempotencyKey?: string }[];
}
interface OrderStatusBody {
  order: { orderId: number; account?: string; status: string; idempotencyKey?: string };
}
interface ReadyBody {
  status?: string;
  statusCode?: number;
  code?: string;
  message?: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, { status: string }>;
  details: Record<string, { status: string }>;
}

const NAMES = ['paper', 'live', 'desk'];
const WATCHDOG: AppConfig['watchdog'] = {
  ...FAST_WATCHDOG,
  staleAfterSeconds: 2,
  backoffInitialSeconds: 1,
  backoffMaxSeconds: 2,
};
const PAPER_ACCOUNT = 'DU1234567'; // simulator gateway number 0 of the list
const LIVE_ACCOUNT = 'U1234568'; // simulator gateway number 1, trading mode live
const DESK_ACCOUNT = 'DU7000001'; // the address simulator's first account: orders may go to it
const DESK_OTHER_ACCOUNT = 'DU7000002'; // also managed by desk, but not in desk's orders.accounts

/** A limit order far below AAPL's market (about 200): it rests in the book and never fills. */
function restingOrder(extra: Record<string, unknown>): Record<string, unknown> {
  return { symbol: 'AAPL', side: 'BUY', quantity: 1, orderType: 'LMT', limitPrice: 1, ...extra };
}

interface Supervisor {
  service: RunningService;
  desk: IbGatewaySimulator;
  /** The in-process simulator of a gateway of the simulator kind; the desk simulator for desk. */
  simulatorOf(name: string): IbGatewaySimulator;
  rest: ReturnType<typeof restClient>;
  mcp: Client;
  health(name: string): Promise<HealthStatusBody>;
  events(name: string, since: string): Promise<HealthEventsBody['events']>;
  list(): Promise<GatewayListBody['gateways']>;
  close(): Promise<void>;
}

/**
 * One supervisor with the three gateways, every market clock at an open FX session (so the watchdog's probe,
 * EUR.USD, is expected to tick whatever day the test runs), and all three data-flowing.
 */
async function startSupervisor(options: { allowLive: boolean; deskRequired: boolean }): Promise<Supervisor> {
  const desk = new IbGatewaySimulator({ seed: 7, accounts: [DESK_ACCOUNT, DESK_OTHER_ACCOUNT] });
  desk.setClock(FX_OPEN);
  await desk.start();
  let service: RunningService;
  try {
    service = await startTestService(
      testConfig({
        watchdog: WATCHDOG,
        orders: { allowLive: options.allowLive, readOnly: false, accounts: [] },
        gateways: [
          { name: 'paper', required: true },
          { name: 'live', required: true, ib: { tradingMode: 'live' } },
          {
            name: 'desk',
            required: options.deskRequired,
            gateway: { address: `127.0.0.1:${desk.port}` },
            orders: { accounts: [DESK_ACCOUNT] },
          },
        ],
      }),
    );
  } catch (error) {
    await desk.stop();
    throw error;
  }
  const rest = restClient(service);
  const simulatorOf = (name: string): IbGatewaySimulator => {
    if (name === 'desk') return desk;
    const simulator = service.gateways.find((each) => each.name === name)?.simulator;
    if (!simulator) throw new Error(`gateway ${name} has no in-process simulator`);
    return simulator;
  };
  const health = async (name: string) =>
    (await rest.get<HealthStatusBody>(`/health/status?gateway=${name}`)).body;
  let mcp: Client;
  try {
    // The supervisor's simulators started at this machine's time: move them to the open session and
    // reconnect, so that the watchdog reads the gateway's clock (and the probe's trading hours) again.
    for (const name of ['paper', 'live']) {
      simulatorOf(name).setClock(FX_OPEN);
      const reconnected = await rest.post('/connection/reconnect', { gateway: name });
      if (reconnected.status !== 200) throw new Error(`reconnect ${name}: ${JSON.stringify(reconnected)}`);
    }
    for (const name of NAMES) {
      await eventually(`${name} data-flowing`, async () =>
        (await health(name)).state === 'data-flowing' ? true : undefined,
      );
    }
    mcp = await connectMcpClient(service);
  } catch (error) {
    await service.close();
    await desk.stop();
    throw error;
  }
  return {
    service,
    desk,
    simulatorOf,
    rest,
    mcp,
    health,
    events: async (name, since) =>
      (
        await rest.get<HealthEventsBody>(
          `/health/events?gateway=${name}&limit=500&since=${encodeURIComponent(since)}`,
        )
      ).body.events,
    list: async () => (await rest.get<GatewayListBody>('/gateway/list')).body.gateways,
    close: async () => {
      await mcp.close().catch(() => undefined);
      await service.close();
      await desk.stop();
    },
  };
}

/** The orders a simulator's broker holds for an account (every order it accepted, open or finished). */
function ordersAt(simulator: IbGatewaySimulator, account?: string) {
  return simulator.broker
    .snapshot()
    .orders.filter((order) => account === undefined || order.account === account);
}

describe('one supervisor, three gateways (paper and live simulators, desk attached by address)', () => {
  let sup: Supervisor;

  beforeAll(async () => {
    sup = await startSupervisor({ allowLive: false, deskRequired: true });
  });

  afterAll(async () => {
    await sup?.close();
  });

  it('list_gateways names the three gateways with their kind, accounts, trading mode and data role, over REST and MCP', async () => {
    const expected = [
      {
        name: 'paper',
        kind: 'simulator',
        connected: true,
        health: 'data-flowing',
        tradingMode: 'paper',
        accounts: [PAPER_ACCOUNT],
        orderAccounts: [],
        required: true,
        forData: true,
      },
      {
        name: 'live',
        kind: 'simulator',
        connected: true,
        health: 'data-flowing',
        tradingMode: 'live',
        accounts: [LIVE_ACCOUNT],
        orderAccounts: [],
        required: true,
        forData: false,
      },
      {
        name: 'desk',
        kind: 'address',
        connected: true,
        health: 'data-flowing',
        tradingMode: 'paper',
        accounts: [DESK_ACCOUNT, DESK_OTHER_ACCOUNT],
        orderAccounts: [DESK_ACCOUNT],
        required: true,
        forData: false,
      },
    ];
    const rest = await sup.rest.get<GatewayListBody>('/gateway/list');
    expect(rest.status).toBe(200);
    expect(rest.body.gateways).toMatchObject(expected);

    const tool = await callTool<GatewayListBody>(sup.mcp, 'list_gateways', {});
    expect(tool.isError).toBe(false);
    expect(tool.structured.gateways).toMatchObject(expected);
  });

  it('routes orders by account to the managing gateway only, and finds an order by id or key only where exactly one gateway knows it', async () => {
    const paper = sup.simulatorOf('paper');
    const live = sup.simulatorOf('live');
    const desk = sup.desk;
    const placeOrders = [paper, live, desk].map((simulator) =>
      upstreamRequests(simulator, [Request.PLACE_ORDER], CONFIG_DEFAULTS.ib.clientId),
    );

    // DU7000001 is the desk's: the order reaches the desk simulator only.
    const toDesk = await sup.rest.post<Placed>(
      '/orders',
      restingOrder({ account: DESK_ACCOUNT, idempotencyKey: 'many-desk-1' }),
    );
    expect(toDesk.status).toBe(200);
    expect(ordersAt(desk).map((order) => [order.orderId, order.account, order.orderRef])).toEqual([
      [toDesk.body.orderId, DESK_ACCOUNT, 'many-desk-1'],
    ]);
    expect(ordersAt(paper)).toEqual([]);
    expect(ordersAt(live)).toEqual([]);

    // Only the desk's service knows that id so far: its status is found without `gateway`.
    const deskStatus = await sup.rest.get<OrderStatusBody>(`/orders/status?orderId=${toDesk.body.orderId}`);
    expect(deskStatus.status).toBe(200);
    expect(deskStatus.body.order).toMatchObject({ orderId: toDesk.body.orderId, account: DESK_ACCOUNT });

    // DU1234567 is paper's: the order reaches the paper simulator only (over MCP this time).
    const toPaper = await callTool<Placed>(
      sup.mcp,
      'place_order',
      restingOrder({ account: PAPER_ACCOUNT, idempotencyKey: 'many-paper-1' }),
    );
    expect(toPaper.isError).toBe(false);
    expect(ordersAt(paper).map((order) => [order.orderId, order.account, order.orderRef])).toEqual([
      [toPaper.structured.orderId, PAPER_ACCOUNT, 'many-paper-1'],
    ]);
    expect(ordersAt(desk)).toHaveLength(1);
    expect(ordersAt(live)).toEqual([]);

    // Every simulator hands out order ids from 1000 (its NEXT_VALID_ID), and each gateway's session takes
    // its ids from its own simulator: the two orders have the same id, so an id alone no longer says which
    // order is meant. The router does not guess (a cancel could hit the wrong broker account): it lists the
    // gateways to choose from.
    expect(toPaper.structured.orderId).toBe(toDesk.body.orderId);
    const orderId = toDesk.body.orderId;
    const ambiguous = await sup.rest.get<ErrorBody>(`/orders/status?orderId=${orderId}`);
    expect([ambiguous.status, ambiguous.body.code]).toEqual([400, 'INVALID_INPUT']);
    expect(ambiguous.body.message).toContain(`order ${orderId} is known to paper and desk`);
    expect(ambiguous.body.message).toContain('give gateway, one of paper, live, desk');
    expect(ambiguous.body.gateways).toEqual(NAMES);
    const ambiguousCancel = await sup.rest.delete<ErrorBody>(`/orders/${orderId}`);
    expect([ambiguousCancel.status, ambiguousCancel.body.code]).toEqual([400, 'INVALID_INPUT']);
    // Neither order was cancelled.
    expect(desk.broker.snapshot().openOrders.map((order) => order.orderId)).toEqual([orderId]);
    expect(paper.broker.snapshot().openOrders.map((order) => order.orderId)).toEqual([orderId]);

    // The idempotency keys differ, so a key alone still finds its gateway.
    const byKey = await sup.rest.get<OrderStatusBody>('/orders/status?idempotencyKey=many-paper-1');
    expect(byKey.status).toBe(200);
    expect(byKey.body.order).toMatchObject({ orderId, account: PAPER_ACCOUNT });

    // With `gateway`, the id is unambiguous: the desk's order is cancelled at the desk only.
    const deskByGateway = await callTool<OrderStatusBody>(sup.mcp, 'get_order_status', {
      orderId,
      gateway: 'desk',
    });
    expect(deskByGateway.structured.order).toMatchObject({ orderId, account: DESK_ACCOUNT });
    const cancelled = await sup.rest.delete(`/orders/${orderId}?gateway=desk`);
    expect(cancelled.status).toBe(200);
    await eventually('the desk order cancelled at the desk simulator', () =>
      ordersAt(desk)[0]?.status === 'Cancelled' ? true : undefined,
    );
    expect(sup.desk.broker.snapshot().openOrders).toEqual([]);
    expect(paper.broker.snapshot().openOrders.map((order) => order.orderId)).toEqual([orderId]);
    const paperCancelled = await sup.rest.delete(`/orders/${orderId}?gateway=paper`);
    expect(paperCancelled.status).toBe(200);
    await eventually('the paper order cancelled', () =>
      paper.broker.snapshot().openOrders.length === 0 ? true : undefined,
    );

    // A second desk order takes the desk's next id, which no other gateway has used: a cancel by id alone
    // reaches the desk.
    const second = await sup.rest.post<Placed>('/orders', restingOrder({ account: DESK_ACCOUNT }));
    expect(second.status).toBe(200);
    expect(second.body.orderId).toBe(orderId + 1);
    const cancelledById = await sup.rest.delete(`/orders/${second.body.orderId}`);
    expect(cancelledById.status).toBe(200);
    await eventually('the second desk order cancelled', () =>
      desk.broker.snapshot().openOrders.length === 0 ? true : undefined,
    );
    expect(ordersAt(paper)).toHaveLength(1);
    expect(ordersAt(live)).toEqual([]);
    // On the wire: one order sent to paper, two to the desk, none to live.
    for (const counter of placeOrders) counter.stop();
    expect(placeOrders.map((counter) => counter.count())).toEqual([1, 0, 2]);
  });

  it('refuses what no gateway or the wrong gateway should answer: 400 with the choices, 403 before IB sees it', async () => {
    const books = () => NAMES.map((name) => ordersAt(sup.simulatorOf(name)).length);
    const before = books();
    // Every order the service sends to any of the three brokers, on the wire.
    const placeOrders = NAMES.map((name) =>
      upstreamRequests(sup.simulatorOf(name), [Request.PLACE_ORDER], CONFIG_DEFAULTS.ib.clientId),
    );

    // Neither account nor gateway: the order could go to three brokers.
    const noChoice = await sup.rest.post<ErrorBody>('/orders', restingOrder({}));
    expect([noChoice.status, noChoice.body.code]).toEqual([400, 'INVALID_INPUT']);
    expect(noChoice.body.message).toMatch(
      /^Several gateways could answer \(.*\): give gateway, one of paper, live, desk$/,
    );
    expect(noChoice.body.gateways).toEqual(NAMES);

    // An account no gateway manages: named, with what each gateway manages.
    const unknownAccount = await sup.rest.post<ErrorBody>('/orders', restingOrder({ account: 'DU9999999' }));
    expect([unknownAccount.status, unknownAccount.body.code]).toEqual([400, 'INVALID_INPUT']);
    expect(unknownAccount.body.message).toContain('No gateway manages account DU9999999');
    expect(unknownAccount.body.message).toContain(`paper manages ${PAPER_ACCOUNT}`);

    // A gateway name that does not exist, on an order and on a read.
    const unknownGateway = await sup.rest.post<ErrorBody>('/orders', restingOrder({ gateway: 'nowhere' }));
    expect([unknownGateway.status, unknownGateway.body.code]).toEqual([400, 'INVALID_INPUT']);
    expect(unknownGateway.body.message).toBe('No gateway is named nowhere; the gateways: paper, live, desk');
    const unknownForData = await sup.rest.get<ErrorBody>('/market-data/quote?symbol=AAPL&gateway=nowhere');
    expect([unknownForData.status, unknownForData.body.code]).toEqual([400, 'INVALID_INPUT']);

    // A gateway named together with an account it does not manage.
    const mismatch = await sup.rest.post<ErrorBody>(
      '/orders',
      restingOrder({ account: DESK_ACCOUNT, gateway: 'paper' }),
    );
    expect([mismatch.status, mismatch.body.code]).toEqual([400, 'INVALID_INPUT']);
    expect(mismatch.body.message).toContain(`Gateway paper does not manage account ${DESK_ACCOUNT}`);

    // A health operation with several gateways and none named.
    const health = await sup.rest.get<ErrorBody>('/health/status');
    expect([health.status, health.body.code]).toEqual([400, 'INVALID_INPUT']);
    expect(health.body.gateways).toEqual(NAMES);

    // The live gateway's account without orders.allowLive: refused by that gateway's safety policy.
    const live = await sup.rest.post<ErrorBody>('/orders', restingOrder({ account: LIVE_ACCOUNT }));
    expect([live.status, live.body.code]).toEqual([403, 'FORBIDDEN']);
    expect(live.body.message).toMatch(/live account .*orders\.allowLive/);

    // The desk's allow-list (orders.accounts: DU7000001) refuses its other account, naming the gateway.
    const notAllowed = await sup.rest.post<ErrorBody>(
      '/orders',
      restingOrder({ account: DESK_OTHER_ACCOUNT }),
    );
    expect([notAllowed.status, notAllowed.body.code]).toEqual([403, 'FORBIDDEN']);
    expect(notAllowed.body.message).toContain(
      `account ${DESK_OTHER_ACCOUNT} is not one orders may go to through gateway desk`,
    );

    // None of these reached a broker.
    for (const counter of placeOrders) counter.stop();
    expect(placeOrders.map((counter) => counter.count())).toEqual([0, 0, 0]);
    expect(books()).toEqual(before);
    expect(ordersAt(sup.desk, DESK_OTHER_ACCOUNT)).toEqual([]);
    expect(ordersAt(sup.simulatorOf('live'))).toEqual([]);
  });

  it('sends market data to the data gateway (the first) unless the request names another', async () => {
    const quoteRequests = () =>
      NAMES.map((name) =>
        upstreamRequests(sup.simulatorOf(name), [Request.REQ_MKT_DATA], CONFIG_DEFAULTS.ib.clientId, 'MSFT'),
      );
    const counted = async (path: string) => {
      const counters = quoteRequests();
      const answer = await sup.rest.get<Quote>(path);
      for (const counter of counters) counter.stop();
      expect([answer.status, answer.body.symbol]).toEqual([200, 'MSFT']);
      return counters.map((counter) => counter.count());
    };
    expect(await counted('/market-data/quote?symbol=MSFT')).toEqual([1, 0, 0]);
    expect(await counted('/market-data/quote?symbol=MSFT&gateway=desk')).toEqual([0, 0, 1]);
    const tool = await callTool<Quote>(sup.mcp, 'get_quote', { symbol: 'MSFT', gateway: 'live' });
    expect([tool.isError, tool.structured.symbol]).toEqual([false, 'MSFT']);
  });

  it('answers /health/ready with indicators keyed by gateway name', async () => {
    const response = await fetch(`${sup.service.urls.base}/health/ready`);
    const body = (await response.json()) as ReadyBody;
    expect(response.status).toBe(200);
    expect(Object.keys(body.details).sort()).toEqual(
      NAMES.flatMap((name) => [`${name}.gateway`, `${name}.ibSession`]).sort(),
    );
    for (const indicator of Object.values(body.details)) expect(indicator.status).toBe('up');
  });

  it('labels the health metrics with each gateway', async () => {
    const metrics = await (await fetch(sup.service.urls.metrics)).text();
    for (const name of NAMES) {
      expect(metrics).toContain(`ibgs_health_state{state="data-flowing",gateway="${name}"} 1`);
      expect(metrics).toMatch(new RegExp(`ibgs_probe_last_tick_age_seconds\\{gateway="${name}"\\} `));
      expect(metrics).toMatch(new RegExp(`ibgs_restart_circuit_breaker_open\\{gateway="${name}"\\} 0`));
    }
  });

  it('offers an optional gateway argument on every MCP tool except list_gateways', async () => {
    const { tools } = await sup.mcp.listTools();
    expect(tools.length).toBeGreaterThan(30);
    const withoutGateway = tools
      .filter((tool) => (tool.inputSchema.properties ?? {})['gateway'] === undefined)
      .map((tool) => tool.name);
    expect(withoutGateway).toEqual(['list_gateways']);
    const requiringGateway = tools
      .filter((tool) => (tool.inputSchema.required ?? []).includes('gateway'))
      .map((tool) => tool.name);
    expect(requiringGateway).toEqual([]);
  });

  it("keeps the other gateways ticking and healthy while one gateway's market data is frozen and its ladder recovers it", async () => {
    const since = new Date().toISOString();
    const paper = sup.simulatorOf('paper');
    const live = sup.simulatorOf('live');
    const paperSubscriptions = paper.stats().activeMarketDataSubscriptions;
    const liveSubscriptions = live.stats().activeMarketDataSubscriptions;

    // A quote stream from the live gateway (not the data gateway: chosen by `gateway`).
    const abort = new AbortController();
    const response = await fetch(`${sup.service.urls.base}/market-data/stream?symbols=AAPL&gateway=live`, {
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const events: ServerSentEvent[] = [];
    const reading = readEvents(response, events);
    const quotes = () =>
      events.filter((event) => event.event === 'quote').map((event) => JSON.parse(event.data) as Quote);
    const othersStates = new Set<string>();
    const sampleOthers = async () => {
      for (const name of ['live', 'desk']) othersStates.add((await sup.health(name)).state);
    };
    try {
      await eventually('quotes from the live gateway', () => (quotes().length >= 2 ? true : undefined));
      expect(live.stats().activeMarketDataSubscriptions).toBe(liveSubscriptions + 1);
      expect(paper.stats().activeMarketDataSubscriptions).toBe(paperSubscriptions);

      // paper's gateway hangs: no tick for anyone connected to it, until its gateway restarts.
      const frozenAt = Date.now();
      paper.freezeMarketData();
      await eventually(
        "paper's ladder to reach the reconnect rung (paper still frozen)",
        async () => {
          await sampleOthers();
          const ladder = (await sup.events('paper', since)).filter((event) => event.source === 'ladder');
          return ladder.some((event) => event.to === 'reconnect') ? true : undefined;
        },
        15_000,
        250,
      );
      expect(paper.stats().marketDataFrozen).toBe(true);
      // While paper was frozen, the stream from live kept ticking.
      const ticksDuringFreeze = quotes().filter((quote) => Date.parse(quote.timestamp) > frozenAt);
      expect(ticksDuringFreeze.length).toBeGreaterThanOrEqual(3);
      expect(ticksDuringFreeze.every((quote) => quote.symbol === 'AAPL' && quote.source === 'stream')).toBe(
        true,
      );

      const recovered = await eventually(
        "paper's ladder to restart its gateway and data to flow again",
        async () => {
          await sampleOthers();
          const status = await sup.health('paper');
          return status.state === 'data-flowing' && status.ladder.rung === 'idle'
            ? sup.events('paper', since)
            : undefined;
        },
        20_000,
        250,
      );
      // paper's own events tell its whole story.
      expect(recovered.filter((event) => event.source === 'ladder').map((event) => event.to)).toEqual([
        'resubscribe',
        'reconnect',
        'restart',
        'idle',
      ]);
      // No separate "stale" event: the watchdog's stale verdict starts the ladder at once, so the health state
      // goes from data-flowing to recovering, with the staleness as the reason.
      const healthEvents = recovered.filter((event) => event.source === 'health');
      expect(healthEvents.map((event) => event.to)).toEqual(['recovering', 'data-flowing']);
      expect(healthEvents[0]?.reason).toMatch(/no EUR\.USD tick for .* while its market is open/);
      expect(paper.stats().marketDataFrozen).toBe(false); // cured by the restart, not by the test
    } finally {
      abort.abort();
      await reading;
    }
    // The other gateways stayed data-flowing throughout, with no event of their own.
    expect([...othersStates]).toEqual(['data-flowing']);
    for (const name of ['live', 'desk']) expect(await sup.events(name, since)).toEqual([]);
    const metrics = await (await fetch(sup.service.urls.metrics)).text();
    expect(metrics).toContain('ibgs_recovery_actions_total{rung="restart",gateway="paper"} 1');
    expect(metrics).not.toMatch(/ibgs_recovery_actions_total\{rung="[a-z]+",gateway="(live|desk)"\}/);
  });

  it("keeps the other gateways' sessions connected when the desk gateway drops its connections", async () => {
    const since = new Date().toISOString();
    sup.desk.dropConnections();
    const deskEvents = await eventually('the desk session to drop and come back', async () => {
      const events = await sup.events('desk', since);
      const connection = events.filter((event) => event.source === 'connection').map((event) => event.to);
      return connection.includes('disconnected') && connection.at(-1) === 'connected' ? events : undefined;
    });
    expect(deskEvents.length).toBeGreaterThan(0);
    // A reconnect makes the desk's order service ask IB for its orders and executions; let that finish, so
    // that closing the supervisor does not leave the request's 10 s timeout running after the test.
    await sleep(1_000);
    for (const name of ['paper', 'live']) {
      expect((await sup.events(name, since)).filter((event) => event.source === 'connection')).toEqual([]);
    }
    const gateways = await sup.list();
    expect(gateways.map((gateway) => [gateway.name, gateway.connected])).toEqual([
      ['paper', true],
      ['live', true],
      ['desk', true],
    ]);
  });
});

describe('three gateways, live orders allowed, desk not required', () => {
  let sup: Supervisor;

  beforeAll(async () => {
    sup = await startSupervisor({ allowLive: true, deskRequired: false });
  });

  afterAll(async () => {
    await sup?.close();
  });

  it('places an order for the live account at the live gateway only when orders.allowLive is set', async () => {
    const placed = await sup.rest.post<Placed>(
      '/orders',
      restingOrder({ account: LIVE_ACCOUNT, idempotencyKey: 'many-live-1' }),
    );
    expect(placed.status).toBe(200);
    expect(ordersAt(sup.simulatorOf('live')).map((order) => [order.account, order.orderRef])).toEqual([
      [LIVE_ACCOUNT, 'many-live-1'],
    ]);
    expect(ordersAt(sup.simulatorOf('paper'))).toEqual([]);
    expect(ordersAt(sup.desk)).toEqual([]);
    const cancelled = await sup.rest.delete(`/orders/${placed.body.orderId}?gateway=live`);
    expect(cancelled.status).toBe(200);
  });

  it('stays ready while a gateway that is not required is down, and not while a required one is', async () => {
    const ready = async () => {
      const response = await fetch(`${sup.service.urls.base}/health/ready`);
      return { status: response.status, body: (await response.json()) as ReadyBody };
    };
    const up = await ready();
    expect(up.status).toBe(200);
    // Only required gateways are indicators of readiness.
    expect(Object.keys(up.body.details).sort()).toEqual([
      'live.gateway',
      'live.ibSession',
      'paper.gateway',
      'paper.ibSession',
    ]);

    // The desk's gateway goes away for good.
    await sup.desk.stop();
    await eventually('the desk session to be down', async () => {
      const desk = (await sup.list()).find((gateway) => gateway.name === 'desk');
      return desk?.connected === false ? desk : undefined;
    });
    const stillReady = await ready();
    expect(stillReady.status).toBe(200);
    expect(Object.keys(stillReady.body.details).sort()).toEqual(Object.keys(up.body.details).sort());
    expect((await sup.list()).map((gateway) => [gateway.name, gateway.connected])).toEqual([
      ['paper', true],
      ['live', true],
      ['desk', false],
    ]);

    // A required gateway that goes away does stop readiness, until it is back.
    const live = sup.simulatorOf('live');
    await live.refuseConnections(3_000);
    live.dropConnections();
    const notReady = await eventually('not ready while live is down', async () => {
      const answer = await ready();
      return answer.status === 503 ? answer : undefined;
    });
    // The 503 says which required gateway is down, keyed by its name, with every indicator's details.
    expect(notReady.body).toMatchObject({
      statusCode: 503,
      code: 'NOT_CONNECTED',
      error: { 'live.ibSession': { status: 'down' } },
      details: { 'live.ibSession': { status: 'down' }, 'paper.ibSession': { status: 'up' } },
    });
    expect(notReady.body.message).toMatch(/^Not ready: .*live\.ibSession/);
    expect(notReady.body.message).not.toMatch(/paper|desk/);
    await eventually(
      'ready again once live is back',
      async () => ((await ready()).status === 200 ? true : undefined),
      20_000,
    );
    await sleep(1_000); // the reconciliation after live's reconnect (see the desk's reconnect above)
  });
});
