import type { RunningService } from '../../../src/main';
import { EVENT_HUB, RESUME_WINDOW, type EventHub } from '../../../src/events/event-hub';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { AAPL_CON_ID, eventually, MARKET_OPEN, restClient } from '../orders/orders-harness';
import { startTestService } from '../service/service-harness';
import {
  eventsWebsocketUrl,
  idsOf,
  openSse,
  openWebsocket,
  upgradeStatus,
  type EventsClient,
  type Received,
} from './events-client';

const MSFT_CON_ID = 272093;

describe('/events: live events over server-sent events and WebSocket', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let hub: EventHub;
  const clients: EventsClient[] = [];

  const track = <T extends EventsClient>(client: T): T => {
    clients.push(client);
    return client;
  };
  const bulletin = (text: string) =>
    hub.publish({ topic: 'news', type: 'bulletin', gateway: 'test', data: { message: text } });

  beforeAll(async () => {
    service = await startTestService();
    simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(MARKET_OPEN);
    hub = service.app.get<EventHub>(EVENT_HUB, { strict: false });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
  });

  afterAll(async () => {
    await service.close();
  });

  it('pushes the order and its execution with commission to SSE and WebSocket clients alike, same ids', async () => {
    const sse = track(await openSse(service, 'topics=orders,executions'));
    const websocket = track(await openWebsocket(service, 'topics=orders,executions'));
    const placedAt = Date.now();
    const placed = await restClient(service).post<{ orderId: number }>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 2,
      orderType: 'MKT',
    });
    expect(placed.status).toBe(200);
    const orderId = placed.body.orderId;
    const isFill = (message: Received) =>
      message.name === 'executions' &&
      (message.body.data as { orderId: number; commission: number | null }).orderId === orderId;

    const fill = await sse.waitFor(isFill, 'the execution on SSE');
    const execution = fill.body.data as { shares: number; commission: number | null; conId: number };
    expect(fill.body).toMatchObject({ topic: 'executions', type: 'execution', symbol: 'AAPL' });
    expect(execution).toMatchObject({ shares: 2, conId: AAPL_CON_ID });
    expect(execution.commission).toBeGreaterThan(0);
    expect(Date.now() - placedAt).toBeLessThan(3_000);
    const filled = await sse.waitFor(
      (message) =>
        message.name === 'orders' &&
        (message.body.data as { orderId: number; status: string }).orderId === orderId &&
        (message.body.data as { status: string }).status === 'Filled',
      'the Filled order state on SSE',
    );
    expect(filled.body).toMatchObject({ topic: 'orders', type: 'order', symbol: 'AAPL' });
    expect(typeof filled.body.account).toBe('string');

    await websocket.waitFor(isFill, 'the execution on the WebSocket');
    await websocket.waitFor((message) => message.id === filled.id, 'the Filled order on the WebSocket');
    // The same events, in the same order, with the same ids, and the same JSON.
    await eventually(() => (idsOf(websocket).length >= idsOf(sse).length ? true : undefined));
    expect(idsOf(websocket)).toEqual(idsOf(sse));
    expect(websocket.received.map((message) => message.body)).toEqual(sse.received.map((m) => m.body));
  });

  it('pushes gateway transitions when the API session drops and comes back', async () => {
    const sse = track(await openSse(service, 'topics=gateway,health'));
    const websocket = track(await openWebsocket(service, 'topics=gateway'));
    simulator.dropConnections();
    const isDisconnect = (message: Received) =>
      message.name === 'gateway' &&
      (message.body.data as { source: string; from: string }).source === 'connection' &&
      (message.body.data as { from: string }).from === 'connected';
    const dropped = await sse.waitFor(isDisconnect, 'the connection transition');
    expect(dropped.body).toMatchObject({ topic: 'gateway', type: 'transition' });
    await sse.waitFor(
      (message) => message.name === 'gateway' && (message.body.data as { to: string }).to === 'connected',
      'the reconnection',
      20_000,
    );
    await websocket.waitFor((message) => message.id === dropped.id, 'the same transition on the WebSocket');
    await eventually(
      async () => ((await fetch(`${service.urls.base}/health/ready`)).status === 200 ? true : undefined),
      15_000,
    );
  });

  it('resumes from Last-Event-ID with exactly the missed events, over both transports', async () => {
    const continuous = track(await openSse(service, 'topics=news'));
    bulletin('before 1');
    bulletin('before 2');
    const first = await openSse(service, 'topics=news');
    const firstWebsocket = await openWebsocket(service, 'topics=news');
    const seen = bulletin('seen by both');
    await first.waitFor((message) => message.id === seen.id, 'the last event before leaving');
    await firstWebsocket.waitFor((message) => message.id === seen.id, 'the last event before leaving (ws)');
    await first.close();
    await firstWebsocket.close();
    const missed = [bulletin('missed 1'), bulletin('missed 2'), bulletin('missed 3')];

    const resumed = track(await openSse(service, 'topics=news', { 'last-event-id': seen.id }));
    const resumedWebsocket = track(await openWebsocket(service, `topics=news&lastEventId=${seen.id}`));
    const after = bulletin('after the resume');
    for (const client of [resumed, resumedWebsocket]) {
      await client.waitFor((message) => message.id === after.id, 'the live event after the replay');
      expect(client.received.map((message) => message.name)).not.toContain('gap');
      expect(idsOf(client)).toEqual([...missed.map((event) => event.id), after.id]);
    }
    await continuous.waitFor((message) => message.id === after.id, 'everything on the continuous client');
    const continuousIds = idsOf(continuous);
    expect(continuousIds.slice(continuousIds.indexOf(seen.id) + 1)).toEqual(idsOf(resumed));
  });

  it('says "gap" when the resume window no longer holds the missed events, and after a restart', async () => {
    const old = bulletin('soon forgotten');
    for (let index = 0; index <= RESUME_WINDOW.news; index++) bulletin(`flood ${index}`);
    const resumed = track(await openSse(service, 'topics=news', { 'last-event-id': old.id }));
    const gap = await resumed.waitFor((message) => message.name === 'gap', 'the gap');
    expect(gap.body).toEqual({ lastEventId: old.id, topics: ['news'], reason: 'window' });
    expect(resumed.received[0]?.name).toBe('gap'); // before anything replayed
    await eventually(() => (idsOf(resumed).length === RESUME_WINDOW.news ? true : undefined));
    expect(idsOf(resumed).at(-1)).toBe(hub.lastEventId);

    const restarted = track(await openWebsocket(service, 'topics=news,orders&lastEventId=0abc.17'));
    const restartGap = await restarted.waitFor((message) => message.name === 'gap', 'the restart gap');
    expect(restartGap.body).toMatchObject({
      type: 'gap',
      lastEventId: '0abc.17',
      reason: 'restarted',
      topics: expect.arrayContaining(['news', 'orders']) as unknown,
    });
  });

  it('streams quotes of the named symbols only, and refuses an unknown symbol with 404', async () => {
    const sse = track(await openSse(service, 'topics=quotes&symbols=AAPL,MSFT'));
    const websocket = track(await openWebsocket(service, 'topics=quotes&symbols=MSFT'));
    for (const conId of [AAPL_CON_ID, MSFT_CON_ID]) {
      await sse.waitFor(
        (message) => (message.body.data as { conId?: number } | undefined)?.conId === conId,
        `a quote of ${conId}`,
      );
    }
    await websocket.waitFor((message) => message.name === 'quotes', 'a quote on the WebSocket');
    expect(new Set(websocket.received.map((message) => message.body.symbol))).toEqual(new Set(['MSFT']));
    const quote = sse.received.find((message) => message.name === 'quotes');
    expect(quote?.body).toMatchObject({ topic: 'quotes', type: 'quote' });
    expect(quote?.body.data).toMatchObject({ source: 'stream' });

    const unknown = await fetch(`${service.urls.base}/events?topics=quotes&symbols=NOSUCHSYM`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect(await upgradeStatus(eventsWebsocketUrl(service, 'topics=quotes&symbols=NOSUCHSYM'), {})).toBe(404);
    const noSymbols = await fetch(`${service.urls.base}/events?topics=quotes`);
    expect(noSymbols.status).toBe(400);
    expect(((await noSymbols.json()) as { message: string }).message).toMatch(/needs symbols/);
    const badTopic = await fetch(`${service.urls.base}/events?topics=orders,fills`);
    expect(badTopic.status).toBe(400);
    expect(((await badTopic.json()) as { message: string }).message).toMatch(/unknown topic fills/);
  });

  it('leaves an unknown websocket path to nobody (404) and keeps the VNC websocket path to the VNC proxy', async () => {
    const base = service.urls.base.replace(/^http/, 'ws');
    expect(await upgradeStatus(`${base}/nowhere`, {})).toBe(404);
    expect(await upgradeStatus(`${base}/events?topics=news`, {})).toBe(101);
    expect(await upgradeStatus(`${base}/vnc/websockify`, {})).toBe(101);
  });
});
