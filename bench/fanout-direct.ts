import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { FanoutClientResult, FanoutClientSpec, ParentMessage } from './fanout-client';

/**
 * The direct path of the fan-out benchmark: the same subscriber processes, connections and symbols, fed by a
 * bare server (node:http and ws, nothing else) that writes every symbol's quote to its subscribers the moment
 * a 250 ms cycle begins, framed as /events frames them (one write per SSE client, one message per event
 * over WebSocket, corked per round). What it measures is what this machine costs for 1,000 sockets on
 * loopback with the subscribers on the same cores; the service's figure is judged against it.
 */
const CYCLE_MS = 250;

/** A quote event about as large as the service's (its JSON is ~600 bytes). */
function quoteEvent(sequence: number, symbol: string, timestamp: string): string {
  return JSON.stringify({
    id: `direct.${sequence}`,
    topic: 'quotes',
    type: 'quote',
    at: timestamp,
    gateway: 'direct',
    symbol,
    data: {
      symbol,
      conId: 265598,
      secType: 'STK',
      exchange: 'SMART',
      currency: 'USD',
      dataType: 'real-time',
      source: 'stream',
      bid: 187.12,
      ask: 187.14,
      last: 187.13,
      bidSize: 300,
      askSize: 500,
      lastSize: 100,
      volume: 1234567,
      high: 188.5,
      low: 185.25,
      open: 186,
      close: 186.4,
      halted: false,
      timestamp,
    },
  });
}

interface DirectClient {
  symbols: Set<string>;
  send(frames: string[]): void;
}

function symbolsOf(url: string | undefined): Set<string> {
  return new Set((new URL(url ?? '/', 'http://direct').searchParams.get('symbols') ?? '').split(','));
}

export interface DirectFanoutResult {
  latencyBuckets: Record<number, number>;
  cycles: number;
}

/** Runs the subscribers of `specs` against the bare server for `durationMs`; their latency from each cycle's start. */
export async function runDirectFanout(
  specs: readonly FanoutClientSpec[][],
  symbols: readonly string[],
  durationMs: number,
): Promise<DirectFanoutResult> {
  const clients = new Set<DirectClient>();
  const websockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.flushHeaders();
    const client: DirectClient = {
      symbols: symbolsOf(request.url),
      send: (frames) => response.write(frames.map((json) => `event: quotes\ndata: ${json}\n\n`).join('')),
    };
    clients.add(client);
    response.on('close', () => clients.delete(client));
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    websockets.handleUpgrade(request, socket, head, (websocket: WebSocket) => {
      const client: DirectClient = {
        symbols: symbolsOf(request.url),
        send: (frames) => {
          socket.cork();
          for (const json of frames) websocket.send(json);
          process.nextTick(() => socket.uncork());
        },
      };
      clients.add(client);
      websocket.on('close', () => clients.delete(client));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const children: ChildProcess[] = specs.map(() =>
    fork(join(__dirname, 'fanout-client.js'), [], { stdio: 'inherit' }),
  );
  const cycles = { started: [] as number[], sent: [] as number[] };
  let sequence = 0;
  const cycle = (): void => {
    const started = performance.timeOrigin + performance.now();
    const timestamp = new Date(Math.floor(started)).toISOString();
    const events = new Map(symbols.map((symbol) => [symbol, quoteEvent(++sequence, symbol, timestamp)]));
    cycles.started.push(started);
    cycles.sent.push(started); // the data exists from here on: everything after is fan-out
    for (const client of clients) {
      client.send([...client.symbols].flatMap((symbol) => events.get(symbol) ?? []));
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.all(
      children.map(async (child, index) => {
        const ready = message<{ type: 'ready' }>(child, 'ready');
        child.send({
          type: 'start',
          base,
          clients: specs[index] ?? [],
          slowQuery: undefined,
        } satisfies ParentMessage);
        await ready;
      }),
    );
    timer = setInterval(cycle, CYCLE_MS);
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    clearInterval(timer);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const results = await Promise.all(
      children.map(async (child) => {
        const answer = message<{ result: FanoutClientResult }>(child, 'result');
        child.send({
          type: 'report',
          afterSequence: 0,
          throughSequence: sequence,
          cycles,
        } satisfies ParentMessage);
        return (await answer).result;
      }),
    );
    const latencyBuckets: Record<number, number> = {};
    for (const result of results) {
      for (const [bucket, count] of Object.entries(result.latencyBuckets)) {
        latencyBuckets[Number(bucket)] = (latencyBuckets[Number(bucket)] ?? 0) + count;
      }
    }
    return { latencyBuckets, cycles: cycles.started.length };
  } finally {
    clearInterval(timer);
    for (const child of children) child.kill();
    for (const websocket of websockets.clients) websocket.terminate();
    websockets.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function message<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (received: { type: string }) => {
      if (received.type !== type) return;
      child.off('message', onMessage);
      resolve(received as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`fan-out client exited with ${code ?? 'a signal'}`)));
  });
}
