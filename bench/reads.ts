import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { IbGatewaySimulator } from '../src/simulator/simulator';
import { Request } from '../src/simulator/protocol/message-ids';
import {
  benchConfig,
  check,
  percentiles,
  printTable,
  round,
  sleep,
  startReadyService,
  writeResult,
  type Percentiles,
} from './support';

/**
 * Reads: 20 concurrent HTTP clients (in a second process, so that they do not share the service's event loop)
 * each read the account summary, positions, PnL, open orders and the quote of a streaming contract back to
 * back for a fixed time. The service runs here with its in-process simulator, which counts every message the
 * service sends it: IB messages per read. Account reads are answered from the subscriptions the service
 * holds; the quote from its stream (AAPL, opened first over /market-data/stream): their p50s are compared.
 */
const CLIENTS = 20;
const DURATION_MS = Number(process.env.BENCH_READS_DURATION_MS ?? 10_000);
const ACCOUNT = 'DU1234567';
const OPERATIONS = {
  get_account_summary: '/account/summary',
  get_positions: '/account/positions',
  get_pnl: '/account/pnl',
  get_open_orders: '/orders/open',
  get_quote: '/market-data/quote?symbol=AAPL',
} as const;
type Operation = keyof typeof OPERATIONS;
/** Requests that account reads would send if they were not answered from live state. */
const ACCOUNT_REQUESTS: ReadonlySet<number> = new Set([
  Request.REQ_ACCOUNT_SUMMARY,
  Request.CANCEL_ACCOUNT_SUMMARY,
  Request.REQ_POSITIONS,
  Request.CANCEL_POSITIONS,
  Request.REQ_PNL,
  Request.CANCEL_PNL,
  Request.REQ_ACCOUNT_DATA,
  Request.REQ_MANAGED_ACCTS,
]);

interface ClientResult {
  durationMs: number;
  failures: number;
  /** Latencies in ms per operation. */
  latencies: Record<Operation, number[]>;
  /** Answers per operation that said they came from live state (freshness.source / quote source). */
  live: Record<Operation, number>;
}

/** The client process: CLIENTS loops over every operation, for `durationMs`. Prints one JSON line. */
async function runClients(base: string, durationMs: number): Promise<ClientResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const url = new URL(base);
  const get = async (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const sent = request({ host: url.hostname, port: url.port, path, agent }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      sent.on('error', reject);
      sent.end();
    });
  const names = Object.keys(OPERATIONS) as Operation[];
  const latencies = Object.fromEntries(
    names.map((name) => [name, [] as number[]]),
  ) as ClientResult['latencies'];
  const live = Object.fromEntries(names.map((name) => [name, 0])) as ClientResult['live'];
  let failures = 0;
  const started = Date.now();
  const loop = async (offset: number) => {
    for (let index = offset; Date.now() - started < durationMs; index++) {
      const name = names[index % names.length] as Operation;
      const startNs = process.hrtime.bigint();
      const answer = await get(OPERATIONS[name]).catch(() => ({ status: 0, body: '' }));
      latencies[name].push(Number(process.hrtime.bigint() - startNs) / 1e6);
      if (answer.status !== 200) failures++;
      else if (answer.body.includes('"source":"live"') || answer.body.includes('"source":"stream"'))
        live[name]++;
    }
  };
  // Each client starts at another operation, so that every operation is read concurrently throughout.
  await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => loop(client)));
  agent.destroy();
  return { durationMs: Date.now() - started, failures, latencies, live };
}

async function runClientProcess(base: string): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [__filename, '--client', base, String(DURATION_MS)],
      { maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`reads client failed: ${stderr || error.message}`));
        else resolve(JSON.parse(stdout) as ClientResult);
      },
    );
  });
}

/** Keeps a quote stream of `symbol` open (reading and discarding) until `abort`; resolves on its first quote. */
async function openQuoteStream(base: string, symbol: string, abort: AbortSignal): Promise<void> {
  const response = await fetch(`${base}/market-data/stream?symbols=${symbol}`, { signal: abort });
  check(response.status === 200 && response.body !== null, `the quote stream answered ${response.status}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('"conId"')) {
    const { value, done } = await reader.read();
    check(!done, 'the quote stream ended before its first quote');
    text += decoder.decode(value as Uint8Array, { stream: true });
  }
  void (async () => {
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
    }
  })();
}

async function post(base: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  check(response.status < 300, `POST ${path} answered ${response.status}: ${await response.text()}`);
}

/** One run of the clients against `base`, with the IB messages the service sent meanwhile. */
async function measure(simulator: IbGatewaySimulator, base: string) {
  const sent = new Map<number, number>();
  const untap = simulator.tap((direction, _session, fields) => {
    const id = Number(fields[0]);
    if (direction === 'in') sent.set(id, (sent.get(id) ?? 0) + 1);
  });
  console.log(`  reads: ${CLIENTS} clients for ${DURATION_MS / 1000} s against ${base}`);
  const result = await runClientProcess(base);
  untap();

  const names = Object.keys(OPERATIONS) as Operation[];
  const reads = names.reduce((total, name) => total + result.latencies[name].length, 0);
  const accountReads = names
    .filter((name) => name !== 'get_open_orders' && name !== 'get_quote')
    .reduce((total, name) => total + result.latencies[name].length, 0);
  const count = (pick: (id: number) => boolean) =>
    [...sent].filter(([id]) => pick(id)).reduce((total, [, times]) => total + times, 0);
  const accountMessages = count((id) => ACCOUNT_REQUESTS.has(id));
  const openOrderMessages = count((id) => id === Request.REQ_ALL_OPEN_ORDERS);
  const allMessages = count(() => true);
  const byOperation = Object.fromEntries(
    names.map((name) => [
      name,
      {
        ...percentiles(result.latencies[name]),
        readsPerSecond: result.latencies[name].length / (result.durationMs / 1000),
        live: result.live[name],
      },
    ]),
  ) as Record<Operation, Percentiles & { readsPerSecond: number; live: number }>;
  check(result.failures === 0, `${result.failures} reads failed`);
  printTable(`Reads: ${CLIENTS} concurrent clients, back to back, ${DURATION_MS / 1000} s (${base})`, [
    ['operation', 'reads', 'reads/s', 'p50 ms', 'p99 ms', 'live answers'],
    ...names.map((name) => [
      name,
      byOperation[name].count,
      round(byOperation[name].readsPerSecond, 0),
      round(byOperation[name].p50, 3),
      round(byOperation[name].p99, 3),
      byOperation[name].live,
    ]),
  ]);
  const quoteP50 = byOperation.get_quote.p50;
  const accountP50s = (['get_account_summary', 'get_positions', 'get_pnl'] as const).map(
    (name) => byOperation[name].p50 - quoteP50,
  );
  console.log(
    `IB messages: ${allMessages} in all (${round(allMessages / reads, 3)} per read); account requests ` +
      `${accountMessages} for ${accountReads} account reads (${round(accountMessages / accountReads, 3)} per read); ` +
      `open-order requests ${openOrderMessages} for ${byOperation.get_open_orders.count} reads`,
  );
  console.log(
    `account read p50 minus streamed quote p50: ${accountP50s.map((delta) => round(delta, 3)).join(', ')} ms ` +
      `(target: within 1 ms; 0 IB messages per account read)`,
  );
  return {
    durationMs: result.durationMs,
    reads,
    readsPerSecond: reads / (result.durationMs / 1000),
    operations: byOperation,
    ibMessages: {
      total: allMessages,
      perRead: allMessages / reads,
      accountRequests: accountMessages,
      perAccountRead: accountMessages / accountReads,
      openOrderRequests: openOrderMessages,
      perOpenOrdersRead: openOrderMessages / byOperation.get_open_orders.count,
      byMessageId: Object.fromEntries([...sent].sort(([a], [b]) => a - b)),
    },
    accountP50MinusQuoteP50Ms: Object.fromEntries(
      (['get_account_summary', 'get_positions', 'get_pnl'] as const).map((name, index) => [
        name,
        accountP50s[index],
      ]),
    ),
  };
}

export async function runReads(): Promise<Record<string, unknown>> {
  const simulator = new IbGatewaySimulator({ accounts: [ACCOUNT] });
  await simulator.start();
  simulator.setClock(Date.parse('2026-11-18T17:00:00Z')); // a Wednesday, US market open
  const service = await startReadyService(benchConfig(), { simulator });
  const streams = new AbortController();
  try {
    const base = service.urls.base;
    // Something to read: a position (a filled market order) and a resting order.
    const order = { account: ACCOUNT, symbol: 'MSFT', side: 'BUY', quantity: 10, tif: 'DAY' };
    await post(base, '/orders', { ...order, orderType: 'MKT', idempotencyKey: 'bench-reads-fill' });
    await post(base, '/orders', {
      ...order,
      orderType: 'LMT',
      limitPrice: 1,
      idempotencyKey: 'bench-reads-rest',
    });
    await openQuoteStream(base, 'AAPL', streams.signal);
    await sleep(2_000); // the fill's pushes, and the service's start-up requests, are over

    // The account reads, like the quote, are fast routes of the service (in front of Express and Nest).
    const measured = await measure(simulator, base);
    const summary = { clients: CLIENTS, ...measured };
    writeResult('reads', summary);
    return summary;
  } finally {
    streams.abort();
    await service.close();
    await simulator.stop();
  }
}

if (require.main === module) {
  const [flag, base, duration] = process.argv.slice(2);
  const run =
    flag === '--client' && base !== undefined
      ? runClients(base, Number(duration)).then((result) =>
          process.stdout.write(`${JSON.stringify(result)}\n`),
        )
      : runReads();
  run.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
