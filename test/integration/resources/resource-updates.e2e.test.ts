import type { Client as ClientV2, McpSubscription } from '@modelcontextprotocol/client';
import type { RunningService } from '../../../src/main';
import { RESOURCE_UPDATE_INTERVAL_MS } from '../../../src/events/resource-update-coalescer';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { EVENT_HUB, type EventHub } from '../../../src/events/event-hub';
import { readEvents } from '../market-data/market-data-support';
import { MARKET_OPEN, restingPrice } from '../orders/orders-harness';
import {
  connectModernClient,
  eventually,
  placeOrder,
  readJson,
  READ_ONLY_TOKEN,
  startServiceWithTokens,
} from './resources-harness';

const AAPL_CON_ID = 265598;
const MSFT_CON_ID = 272093;
const POSITIONS = 'ibgs://account/positions';
const OPEN_ORDERS = 'ibgs://orders/open';
const JOURNAL = 'ibgs://orders/journal';
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';
/** Quotes tick every 25 ms here (40 a second per contract), ten times IB's pace, to make a storm. */
const TICK_INTERVAL_MS = 25;

/** One MCP client with one subscriptions/listen stream, and what it was told, with when. */
interface Listener {
  client: ClientV2;
  subscription: McpSubscription;
  updates: Array<{ uri: string; at: number; subscriptionId: unknown }>;
}

async function listen(service: RunningService, uris: string[]): Promise<Listener> {
  const client = await connectModernClient(service, READ_ONLY_TOKEN);
  const updates: Listener['updates'] = [];
  client.setNotificationHandler('notifications/resources/updated', (notification) => {
    updates.push({
      uri: notification.params.uri,
      at: Date.now(),
      subscriptionId: notification.params._meta?.[SUBSCRIPTION_ID],
    });
  });
  const subscription = await client.listen({ resourceSubscriptions: uris });
  expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: uris });
  return { client, subscription, updates };
}

async function stop(listener: Listener | undefined): Promise<void> {
  await listener?.subscription.close();
  await listener?.client.close();
}

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for an update of `uri` after `since`; answers how long after `since` it came. */
async function updateOf(listener: Listener, uri: string, since: number): Promise<number> {
  const update = await eventually(
    () => listener.updates.find((each) => each.uri === uri && each.at >= since),
    3000,
  );
  return update.at - since;
}

/** The AAPL position of the first account in a positions answer (0 when none). */
function aaplPosition(positions: unknown): number {
  const { positions: list } = positions as {
    positions: Array<{ symbol?: string; position?: number; quantity?: number }>;
  };
  const aapl = list.find((each) => each.symbol === 'AAPL');
  return aapl?.position ?? aapl?.quantity ?? 0;
}

describe('MCP resource updates on subscriptions/listen streams (2026-07-28), with the read-only token', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let orders: Listener | undefined;
  let journal: Listener | undefined;
  let reader: ClientV2;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ marketData: { tickIntervalMs: TICK_INTERVAL_MS } });
    simulator.setClock(MARKET_OPEN);
    await simulator.start();
    service = await startServiceWithTokens({ simulator });
    reader = await connectModernClient(service, READ_ONLY_TOKEN);
  });

  afterAll(async () => {
    await stop(orders);
    await stop(journal);
    await reader.close();
    await service.close();
    await simulator.stop();
  });

  it('opens listen streams for chosen URIs; the server honours them (resources.subscribe advertised)', async () => {
    orders = await listen(service, [POSITIONS, OPEN_ORDERS]);
    journal = await listen(service, [JOURNAL]);
    expect(reader.getServerCapabilities()?.resources?.subscribe).toBe(true);
  });

  it('tells of a new working order on the open-orders URI, and the next read shows it', async () => {
    if (!orders || !journal) throw new Error('no listen streams');
    const before = Date.now();
    const placed = await placeOrder(service, {
      symbol: 'MSFT',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: restingPrice(simulator, MSFT_CON_ID, 'BUY'),
    });
    expect(placed.status).toBe(200);
    const latency = await updateOf(orders, OPEN_ORDERS, before);
    process.stdout.write(`open-orders update ${latency} ms after the POST was sent\n`);
    expect(latency).toBeLessThan(3000);
    const open = (await readJson(reader, OPEN_ORDERS)) as { orders: Array<{ orderId: number }> };
    expect(open.orders.map((order) => order.orderId)).toContain(placed.body.orderId);
    await updateOf(journal, JOURNAL, before);
    // A stream hears only of what it asked for (the positions URI changes too: its values follow the PnL IB
    // pushes every second while prices move, so it is not a witness of this order).
    await sleep(2 * RESOURCE_UPDATE_INTERVAL_MS);
    expect(journal.updates.filter((update) => update.uri !== JOURNAL)).toEqual([]);
  });

  it('tells of a fill on the positions URI within seconds, and the next read shows the new position', async () => {
    if (!orders || !journal) throw new Error('no listen streams');
    const positionBefore = aaplPosition(await readJson(reader, POSITIONS));
    const before = Date.now();
    const placed = await placeOrder(service, { symbol: 'AAPL', side: 'BUY', quantity: 3, orderType: 'MKT' });
    expect(placed.status).toBe(200);
    const positionLatency = await updateOf(orders, POSITIONS, before);
    const ordersLatency = await updateOf(orders, OPEN_ORDERS, before);
    process.stdout.write(
      `after a fill: positions update in ${positionLatency} ms, open orders in ${ordersLatency} ms\n`,
    );
    expect(Math.max(positionLatency, ordersLatency)).toBeLessThan(3000);
    expect(aaplPosition(await readJson(reader, POSITIONS))).toBe(positionBefore + 3);
    expect(
      simulator.broker.snapshot().accounts[0]?.positions.find((each) => each.conId === AAPL_CON_ID),
    ).toMatchObject({
      position: positionBefore + 3,
    });
  });

  it('sends each stream only the URIs it asked for, each tagged with its subscription id', async () => {
    if (!orders || !journal) throw new Error('no listen streams');
    await sleep(2 * RESOURCE_UPDATE_INTERVAL_MS);
    expect(new Set(orders.updates.map((update) => update.uri))).toEqual(new Set([POSITIONS, OPEN_ORDERS]));
    expect(new Set(journal.updates.map((update) => update.uri))).toEqual(new Set([JOURNAL]));
    for (const update of [...orders.updates, ...journal.updates]) {
      expect(update.subscriptionId).toEqual(expect.any(String));
    }
    expect(new Set(orders.updates.map((update) => update.subscriptionId)).size).toBe(1);
  });

  it('announces a streaming quote in a storm about once per 250 ms, not once per tick', async () => {
    const quotes = await listen(service, ['ibgs://quotes/AAPL']);
    // The ticks as the service's hub has them: what the announcements are made from.
    const hub = service.app.get<EventHub>(EVENT_HUB, { strict: false });
    const ticks: number[] = [];
    const tap = hub.subscribe({ topics: new Set(['quotes']), symbols: new Set(['AAPL']) }, () =>
      ticks.push(Date.now()),
    );
    const abort = new AbortController();
    const stream = await fetch(`${service.urls.base}/market-data/stream?symbols=AAPL`, {
      headers: { authorization: `Bearer ${READ_ONLY_TOKEN}` },
      signal: abort.signal,
    });
    const reading = readEvents(stream, []);
    try {
      await eventually(() => (quotes.updates.length > 0 ? true : undefined));
      const windowMs = 2000;
      const start = Date.now();
      await sleep(windowMs);
      const inWindow = quotes.updates.filter((update) => update.at >= start).length;
      const tickCount = ticks.filter((at) => at >= start).length;
      process.stdout.write(`AAPL ticks in ${windowMs} ms: ${tickCount}; announcements: ${inWindow}\n`);
      expect(tickCount).toBeGreaterThan(4 * (windowMs / RESOURCE_UPDATE_INTERVAL_MS));
      expect(inWindow).toBeGreaterThanOrEqual(windowMs / RESOURCE_UPDATE_INTERVAL_MS - 2);
      expect(inWindow).toBeLessThanOrEqual(windowMs / RESOURCE_UPDATE_INTERVAL_MS + 1);
      for (let index = 1; index < quotes.updates.length; index++) {
        const gap = (quotes.updates[index]?.at ?? 0) - (quotes.updates[index - 1]?.at ?? 0);
        // Timers and the network may bunch two announcements a little; never a storm.
        expect(gap).toBeGreaterThan(RESOURCE_UPDATE_INTERVAL_MS - 100);
      }
      expect(new Set(quotes.updates.map((update) => update.uri))).toEqual(new Set(['ibgs://quotes/AAPL']));
      expect(await readJson(reader, 'ibgs://quotes/AAPL')).toMatchObject({
        symbol: 'AAPL',
        source: 'stream',
      });
    } finally {
      tap.unsubscribe();
      abort.abort();
      await reading;
      await stop(quotes);
    }
  });
});
