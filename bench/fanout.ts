import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EVENT_HUB, type EventHub } from '../src/events/event-hub';
import { EventStreams } from '../src/events/event-subscriber';
import type { LiveEvent } from '../src/events/live-event';
import { runDirectFanout } from './fanout-direct';
import { MarketDataFeed } from '../src/simulator/market/market-data-feed';
import { BROAD_US_STOCKS } from '../src/simulator/market/universe-stocks';
import { IbGatewaySimulator } from '../src/simulator/simulator';
import type { FanoutClientResult, FanoutClientSpec, ParentMessage } from './fanout-client';
import {
  benchConfig,
  check,
  percentiles,
  printTable,
  round,
  sleep,
  startReadyService,
  writeResult,
} from './support';

/**
 * Fan-out: SUBSCRIBERS clients of /events (half server-sent events, half WebSocket, in two child processes)
 * on SYMBOLS streaming stocks plus the orders and account topics; each asks for SYMBOLS_PER_CLIENT symbols, so
 * every symbol has SUBSCRIBERS * SYMBOLS_PER_CLIENT / SYMBOLS subscribers. The service and its in-process
 * simulator run in this process; an order is placed now and then so that orders flow too. One more client
 * sends its request and never reads. Measured: the latency from the simulator's tick cycle (the moment it
 * wrote the cycle's batch of ticks to the service's socket) to each client's receipt; the events delivered per second;
 * missing events per client (what it received against what the hub published for its filter); the slow
 * client's fate; the service's resident memory. Then the same subscribers against a bare server (the direct
 * path, fanout-direct.ts), to which the service's latency is compared.
 */
const SUBSCRIBERS = Number(process.env.BENCH_FANOUT_SUBSCRIBERS ?? 1000);
const SYMBOLS = 100;
const SYMBOLS_PER_CLIENT = 10;
const DURATION_MS = Number(process.env.BENCH_FANOUT_DURATION_MS ?? 20_000);
const WARM_UP_MS = 3_000;
const SETTLE_MS = 3_000;
const ORDER_EVERY_MS = 500;
const TOPICS = 'quotes,orders,account';
/** Child processes the subscribers are spread over (their reads of one tick cycle queue within a process). */
const CLIENT_PROCESSES = Number(process.env.BENCH_FANOUT_CLIENT_PROCESSES ?? 2);
const SLOW_CLIENT_WAIT_MS = Number(process.env.BENCH_FANOUT_SLOW_WAIT_MS ?? 120_000);

/**
 * The simulator's tick cycles, as wall-clock ms with sub-millisecond precision: when each began, and when it
 * returned, having written its batch of ticks (one write per connection) to the service's socket.
 */
function recordTickCycles(): { started: number[]; sent: number[] } {
  const cycles = { started: [] as number[], sent: [] as number[] };
  const feed = MarketDataFeed.prototype as unknown as { publishAll: () => void };
  const original = feed.publishAll;
  feed.publishAll = function publishAllTimed(this: unknown) {
    cycles.started.push(performance.timeOrigin + performance.now());
    original.call(this);
    cycles.sent.push(performance.timeOrigin + performance.now());
  };
  return cycles;
}

function sequenceOf(id: string): number {
  return Number(id.slice(id.indexOf('.') + 1));
}

/** What the hub published within the window, per topic and symbol ('' for none): count and sum of sequences. */
class PublishedRecord {
  private readonly byKey = new Map<string, { count: number; sum: number }>();
  constructor(
    private readonly after: number,
    private readonly through: () => number,
  ) {}

  add(event: LiveEvent): void {
    const sequence = sequenceOf(event.id);
    if (sequence <= this.after || sequence > this.through()) return;
    const key = `${event.topic}|${event.symbol ?? ''}`;
    const entry = this.byKey.get(key) ?? { count: 0, sum: 0 };
    entry.count++;
    entry.sum += sequence;
    this.byKey.set(key, entry);
  }

  /** What a client of these topics and symbols should have received (events naming no symbol pass). */
  expected(topics: string[], symbols: string[]): { count: number; sum: number } {
    let count = 0;
    let sum = 0;
    for (const topic of topics) {
      for (const symbol of [...symbols, '']) {
        const entry = this.byKey.get(`${topic}|${symbol}`);
        count += entry?.count ?? 0;
        sum += entry?.sum ?? 0;
      }
    }
    return { count, sum };
  }

  get total(): number {
    let count = 0;
    for (const entry of this.byKey.values()) count += entry.count;
    return count;
  }
}

function percentileOf(buckets: Record<number, number>, p: number): number {
  const entries = Object.entries(buckets)
    .map(([bucket, count]) => [Number(bucket), count] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  let seen = 0;
  for (const [bucket, count] of entries) {
    seen += count;
    if (seen >= Math.ceil((p / 100) * total)) return bucket / 10;
  }
  return Number.NaN;
}

function figure(buckets: Record<number, number>): { p50: number; p99: number; max: number } {
  return { p50: percentileOf(buckets, 50), p99: percentileOf(buckets, 99), max: percentileOf(buckets, 100) };
}

function merge(all: Array<Record<number, number>>): Record<number, number> {
  const merged: Record<number, number> = {};
  for (const buckets of all) {
    for (const [bucket, count] of Object.entries(buckets)) {
      merged[Number(bucket)] = (merged[Number(bucket)] ?? 0) + count;
    }
  }
  return merged;
}

async function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`fan-out client exited with ${code ?? 'a signal'}`)));
  });
}

/** The service's fan-out: the subscribers on /events, fed by the simulator's ticks through the whole service. */
async function measureService() {
  const cycles = recordTickCycles();
  // The machine is shared: what else ran shows in the load average, recorded beside the figures.
  const loadBefore = loadavg().map((load) => round(load));
  const simulator = new IbGatewaySimulator({ marketData: { maxTickersPerClient: 200 } });
  await simulator.start();
  simulator.setClock(Date.parse('2026-11-18T17:00:00Z')); // a Wednesday, US stocks trade
  const service = await startReadyService(benchConfig(), { simulator });
  const children: ChildProcess[] = [];
  const memory: number[] = [];
  const heap: number[] = [];
  try {
    const base = service.urls.base;
    const hub = service.app.get<EventHub>(EVENT_HUB, { strict: false });
    const streams = service.app.get(EventStreams, { strict: false });
    const symbols = BROAD_US_STOCKS.slice(0, SYMBOLS).map((stock) => stock.symbol);
    check(
      symbols.length === SYMBOLS,
      `${SYMBOLS} stocks and ETFs in the simulator (found ${symbols.length})`,
    );
    // Subscriber i takes symbols 7i + 10k (mod 100), k < 10: distinct, and each symbol gets the same count.
    const specs: Array<FanoutClientSpec & { symbols: string[] }> = Array.from(
      { length: SUBSCRIBERS },
      (_, index) => {
        const mine = Array.from(
          { length: SYMBOLS_PER_CLIENT },
          (_unused, k) => symbols[(index * 7 + k * 10) % SYMBOLS] ?? '',
        );
        return {
          transport: index % 2 === 0 ? 'sse' : 'websocket',
          query: `topics=${TOPICS}&symbols=${mine.join(',')}`,
          symbols: mine,
        };
      },
    );
    // Each process gets SSE and WebSocket clients alike (index % 2 is the transport).
    const halves = Array.from({ length: CLIENT_PROCESSES }, (_, process) =>
      specs.filter((_, index) => Math.floor(index / 2) % CLIENT_PROCESSES === process),
    );
    const connectStarted = Date.now();
    for (const [index, half] of halves.entries()) {
      const child = fork(join(__dirname, 'fanout-client.js'), [], { stdio: 'inherit' });
      children.push(child);
      const slowQuery = index === 0 ? `topics=${TOPICS}&symbols=${symbols.join(',')}` : undefined;
      child.send({ type: 'start', base, clients: half, slowQuery } satisfies ParentMessage);
    }
    await Promise.all(children.map(async (child) => nextMessage(child, 'ready')));
    const connectMs = Date.now() - connectStarted;
    console.log(`  fanout: ${SUBSCRIBERS} subscribers connected in ${connectMs} ms; warming up`);
    // The silent client is the one beyond SUBSCRIBERS; its drop is timed from here.
    const connectedAt = Date.now();
    let slowDroppedAfterMs: number | undefined;
    const watching = setInterval(() => {
      if (slowDroppedAfterMs === undefined && streams.clientCount <= SUBSCRIBERS) {
        slowDroppedAfterMs = Date.now() - connectedAt;
      }
    }, 100);
    await sleep(WARM_UP_MS);

    const after = sequenceOf(hub.lastEventId);
    let through = Number.POSITIVE_INFINITY;
    const record = new PublishedRecord(after, () => through);
    const recording = hub.subscribe({ topics: new Set(['quotes', 'orders', 'account']) }, (event) =>
      record.add(event),
    );
    const started = Date.now();
    let orders = 0;
    const placing = setInterval(() => {
      const symbol = symbols[orders++ % SYMBOLS] ?? 'AAPL';
      void fetch(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          symbol,
          side: orders % 2 === 0 ? 'SELL' : 'BUY',
          quantity: 1,
          orderType: 'MKT',
        }),
      }).catch(() => undefined);
    }, ORDER_EVERY_MS);
    while (Date.now() - started < DURATION_MS) {
      await sleep(1000);
      memory.push(process.memoryUsage().rss);
      heap.push(process.memoryUsage().heapUsed);
    }
    clearInterval(placing);
    through = sequenceOf(hub.lastEventId);
    const windowMs = Date.now() - started;
    await sleep(SETTLE_MS);
    recording.unsubscribe();
    // The silent client's backlog first fills the kernel's socket buffers: give it time to reach the bound.
    const slowDeadline = Date.now() + SLOW_CLIENT_WAIT_MS;
    while (slowDroppedAfterMs === undefined && Date.now() < slowDeadline) await sleep(500);
    clearInterval(watching);
    const results = await Promise.all(
      children.map(async (child) => {
        const answer = nextMessage<{ result: FanoutClientResult }>(child, 'result');
        child.send({
          type: 'report',
          afterSequence: after,
          throughSequence: through,
          cycles,
        } satisfies ParentMessage);
        return (await answer).result;
      }),
    );

    const topics = TOPICS.split(',');
    const clientSpecs = halves.flat();
    const counts = results.flatMap((result) => result.counts);
    let missing = 0;
    let clientsWithGaps = 0;
    let delivered = 0;
    let closed = 0;
    let notices = 0;
    counts.forEach((got, index) => {
      const want = record.expected(topics, clientSpecs[index]?.symbols ?? []);
      delivered += got.count;
      if (got.closed) closed++;
      notices += got.notices;
      if (got.count !== want.count || got.sum !== want.sum) {
        clientsWithGaps++;
        missing += Math.max(0, want.count - got.count);
      }
    });
    const latency = merge(results.map((result) => result.latencyBuckets));
    const toService = merge(results.map((result) => result.toServiceBuckets));
    const rssMiB = Math.max(...memory) / 2 ** 20;
    const slow = {
      dropped: slowDroppedAfterMs !== undefined,
      droppedAfterMs: slowDroppedAfterMs ?? null,
    };
    const result = {
      subscribers: SUBSCRIBERS,
      transports: { sse: SUBSCRIBERS / 2, websocket: SUBSCRIBERS / 2 },
      symbols: SYMBOLS,
      symbolsPerSubscriber: SYMBOLS_PER_CLIENT,
      topics,
      windowMs,
      connectMs,
      publishedEvents: record.total,
      ordersPlaced: orders,
      deliveredEvents: delivered,
      eventsPerSecond: round(delivered / (windowMs / 1000), 0),
      latencyMs: figure(latency),
      simulatorToServiceMs: figure(toService),
      latencySamples: Object.values(latency).reduce((sum, count) => sum + count, 0),
      missingEvents: missing,
      clientsWithGaps,
      clientsClosed: closed,
      notices,
      unmatchedSamples: results.reduce((sum, r) => sum + r.unmatched, 0),
      slowClient: slow,
      simulatorCycleMs: percentiles(cycles.sent.map((sent, index) => sent - (cycles.started[index] ?? sent))),
      loadAverage: { before: loadBefore, after: loadavg().map((load) => round(load)) },
      serverRssMiB: round(rssMiB, 0),
      serverHeapUsedMiB: round(Math.max(...heap) / 2 ** 20, 0),
      processes: 'service + simulator in one process, subscribers in two child processes, on the same cores',
    };
    return { result, specs: halves, symbols };
  } finally {
    for (const child of children) child.kill();
    await service.close();
    await simulator.stop();
  }
}

export async function runFanout(): Promise<Record<string, unknown>> {
  const { result: service, specs, symbols } = await measureService();
  // The same subscribers against a bare server on the same machine: what 1,000 loopback sockets cost here.
  const direct = figure((await runDirectFanout(specs, symbols, DURATION_MS)).latencyBuckets);
  const result = { ...service, directPathMs: direct };
  printTable(`Fan-out: ${SUBSCRIBERS} subscribers (half SSE, half WebSocket), ${SYMBOLS} symbols`, [
    ['figure', 'value'],
    ['tick → client p50 (ms)', service.latencyMs.p50],
    ['tick → client p99 (ms)', service.latencyMs.p99],
    ['tick → client max (ms)', service.latencyMs.max],
    ['direct path p50 / p99 / max (ms)', `${direct.p50} / ${direct.p99} / ${direct.max}`],
    ['p99 over the direct path (ms)', round(service.latencyMs.p99 - direct.p99, 1)],
    [
      'simulator cycle p50/p99 (ms)',
      `${round(service.simulatorCycleMs.p50)} / ${round(service.simulatorCycleMs.p99)}`,
    ],
    [
      'load average before / after',
      `${service.loadAverage.before.join(' ')} / ${service.loadAverage.after.join(' ')}`,
    ],
    [
      'tick → service p50/p99 (ms)',
      `${service.simulatorToServiceMs.p50} / ${service.simulatorToServiceMs.p99}`,
    ],
    ['events delivered / s', service.eventsPerSecond],
    ['events published (window)', service.publishedEvents],
    ['missing events (clients that keep up)', service.missingEvents],
    ['clients with gaps', service.clientsWithGaps],
    [
      'slow client',
      service.slowClient.dropped ? `dropped after ${service.slowClient.droppedAfterMs} ms` : 'not dropped',
    ],
    ['server RSS / heap used peak (MiB)', `${service.serverRssMiB} / ${service.serverHeapUsedMiB}`],
  ]);
  console.log('targets: p99 < 50 ms, 0 missing events, RSS < 300 MiB');
  writeResult('fanout', result);
  return result;
}

if (require.main === module) {
  runFanout().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
