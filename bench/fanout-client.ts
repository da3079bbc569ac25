import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

/**
 * The subscribers of the fan-out benchmark, run as a child process (forked with an IPC channel) so that the
 * service's process does not measure itself. Each subscriber counts the events it receives within the
 * measurement window (count and sum of their sequence numbers, which the parent checks against what the hub
 * published) and keeps, for each quote, when it arrived (wall clock, sub-millisecond) and when the service
 * received the tick (the quote's timestamp), to be matched with the simulator's send times at the end.
 */
export interface FanoutClientSpec {
  transport: 'sse' | 'websocket';
  query: string;
}

export type ParentMessage =
  | { type: 'start'; base: string; clients: FanoutClientSpec[]; slowQuery: string | undefined }
  | {
      type: 'report';
      afterSequence: number;
      throughSequence: number;
      /** When each simulator tick cycle began, and when its batch of ticks was written to the service. */
      cycles: { started: number[]; sent: number[] };
    };

export interface FanoutClientResult {
  /** Per subscriber, in the order given: events within the window, and the sum of their sequences. */
  counts: Array<{ count: number; sum: number; closed: boolean; notices: number }>;
  /** Latency from the simulator's send to arrival, in 0.1 ms buckets (bucket index → samples). */
  latencyBuckets: Record<number, number>;
  /** The same, up to the service's receipt of the tick (ms resolution of the quote's timestamp). */
  toServiceBuckets: Record<number, number>;
  unmatched: number;
}

const BUCKET_MS = 0.1;
const CONNECT_BATCH = 50;

/** A growable list of numbers in a typed array (millions of entries, little garbage). */
class Numbers {
  values: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
}

interface Subscriber {
  /** The sequence of every event received, in order; the window is cut out at the end. */
  sequences: Numbers;
  closed: boolean;
  notices: number;
}

/** Triples (sequence, arrival wall time in ms, the quote's timestamp in ms) of every quote received. */
const samples = new Numbers(1 << 21);

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Reads what is needed without parsing the whole event: a client that keeps up must not be the bottleneck. */
function record(subscriber: Subscriber, json: string, arrivedAt: number): void {
  const idAt = json.indexOf('"id":"');
  if (idAt < 0) {
    subscriber.notices++;
    return;
  }
  const sequence = Number(json.slice(json.indexOf('.', idAt) + 1, json.indexOf('"', idAt + 6)));
  subscriber.sequences.push(sequence);
  if (!json.startsWith('"topic":"quotes"', json.indexOf('"topic":"'))) return;
  const timestampAt = json.indexOf('"timestamp":"');
  if (timestampAt < 0) return;
  samples.push(sequence);
  samples.push(arrivedAt);
  samples.push(Date.parse(json.slice(timestampAt + 13, timestampAt + 37)));
}

async function openSse(base: string, query: string, subscriber: Subscriber): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}/events?${query}`, (response: IncomingMessage) => {
      if (response.statusCode !== 200) {
        reject(new Error(`SSE answered ${response.statusCode ?? 0}`));
        return;
      }
      resolve();
      response.setEncoding('utf8');
      let buffer = '';
      response.on('data', (chunk: string) => {
        const arrivedAt = wallNow();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.indexOf('\ndata: ');
          if (data >= 0) record(subscriber, block.slice(data + 7), arrivedAt);
          else if (block.startsWith('event: ')) subscriber.notices++;
        }
      });
      response.on('close', () => (subscriber.closed = true));
    });
    request.on('error', reject);
    request.end();
  });
}

async function openWebsocket(base: string, query: string, subscriber: Subscriber): Promise<void> {
  const websocket = new WebSocket(`${base.replace(/^http/, 'ws')}/events?${query}`, {
    skipUTF8Validation: true,
  });
  websocket.on('message', (data: Buffer) => record(subscriber, data.toString('utf8'), wallNow()));
  websocket.on('close', () => (subscriber.closed = true));
  return new Promise((resolve, reject) => {
    websocket.once('open', () => resolve());
    websocket.once('error', reject);
  });
}

/** A subscriber that sends its request and never reads: the service must drop it, not wait for it. */
function openSilent(base: string, query: string): void {
  const url = new URL(base);
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  socket.pause();
  socket.write(`GET /events?${query} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
}

function bucketsOf(values: Iterable<number>): Record<number, number> {
  const buckets: Record<number, number> = {};
  for (const value of values) {
    const bucket = Math.max(0, Math.round(value / BUCKET_MS));
    buckets[bucket] = (buckets[bucket] ?? 0) + 1;
  }
  return buckets;
}

/**
 * Each sample's latency from the moment the simulator wrote the tick cycle that carried it: the latest cycle
 * begun before the service received the tick.
 */
function latencies(
  cycles: { started: number[]; sent: number[] },
  after: number,
  through: number,
): { total: number[]; toService: number[]; unmatched: number } {
  const total: number[] = [];
  const toService: number[] = [];
  let unmatched = 0;
  for (let index = 0; index + 2 < samples.length; index += 3) {
    const sequence = samples.values[index] ?? 0;
    if (sequence <= after || sequence > through) continue;
    const arrivedAt = samples.values[index + 1] ?? 0;
    const receivedAt = samples.values[index + 2] ?? 0;
    // The quote's timestamp has whole milliseconds: the cycle may have started within the same one.
    let low = 0;
    let high = cycles.started.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((cycles.started[middle] ?? 0) <= receivedAt + 1) low = middle + 1;
      else high = middle;
    }
    const sent = cycles.sent[low - 1];
    if (sent === undefined) {
      unmatched++;
      continue;
    }
    total.push(arrivedAt - sent);
    toService.push(Math.max(0, receivedAt - Math.floor(sent)));
  }
  return { total, toService, unmatched };
}

const subscribers: Subscriber[] = [];

process.on('message', (message: ParentMessage) => {
  void handle(message).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});

async function handle(message: ParentMessage): Promise<void> {
  if (message.type === 'start') {
    for (let offset = 0; offset < message.clients.length; offset += CONNECT_BATCH) {
      await Promise.all(
        message.clients.slice(offset, offset + CONNECT_BATCH).map(async (client) => {
          const subscriber: Subscriber = { sequences: new Numbers(1024), closed: false, notices: 0 };
          subscribers.push(subscriber);
          if (client.transport === 'sse') await openSse(message.base, client.query, subscriber);
          else await openWebsocket(message.base, client.query, subscriber);
        }),
      );
    }
    if (message.slowQuery !== undefined) openSilent(message.base, message.slowQuery);
    process.send?.({ type: 'ready' });
  } else {
    const { afterSequence: after, throughSequence: through } = message;
    const { total, toService, unmatched } = latencies(message.cycles, after, through);
    const result: FanoutClientResult = {
      counts: subscribers.map(({ sequences, closed, notices }) => {
        let count = 0;
        let sum = 0;
        for (let index = 0; index < sequences.length; index++) {
          const sequence = sequences.values[index] ?? 0;
          if (sequence <= after || sequence > through) continue;
          count++;
          sum += sequence;
        }
        return { count, sum, closed, notices };
      }),
      latencyBuckets: bucketsOf(total),
      toServiceBuckets: bucketsOf(toService),
      unmatched,
    };
    process.send?.({ type: 'result', result }, () => process.exit(0));
  }
}
