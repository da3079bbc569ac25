import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { LoadClientResult } from './load-client';
import { IbGatewaySimulator } from '../src/simulator/simulator';
import { benchConfig, check, printTable, round, startReadyService, writeResult } from './support';

/**
 * Load: 50 concurrent HTTP clients (in a second process, which first opens five SSE streams of 20 AAPL options
 * each, so that the service already streams all 100) ask quotes of those contracts for a fixed time, in several
 * rounds. The service runs in this process with its in-process simulator, as without credentials. Reports
 * each round, the median round's throughput and p99, and the simulator's count of pacing errors.
 */
const CLIENTS = 50;
const CONTRACTS = 100;
const DURATION_MS = Number(process.env.BENCH_LOAD_DURATION_MS ?? 15_000);
/** Throughput on a shared 2-core VM varies by a quarter from run to run: the median of several rounds is reported. */
const ROUNDS = Number(process.env.BENCH_LOAD_ROUNDS ?? 3);
const UNDERLYING = 'AAPL';

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = (await response.json()) as T;
  check(response.status === 200, `${url} answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

export type { LoadClientResult };

export async function runLoadClient(
  base: string,
  conIds: number[],
  durationMs: number = DURATION_MS,
): Promise<LoadClientResult> {
  const script = join(__dirname, 'load-client.js');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [script, base, conIds.join(','), String(CLIENTS), String(durationMs)],
      { maxBuffer: 512 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`load client failed: ${stderr || error.message}`));
        else resolve(JSON.parse(stdout) as LoadClientResult);
      },
    );
  });
}

export async function runLoad(): Promise<Record<string, unknown>> {
  // An account with 200 market data lines (IB's default is 100, and the watchdog's probe holds one), on a
  // Wednesday so that the options trade.
  const simulator = new IbGatewaySimulator({ marketData: { maxTickersPerClient: 200 } });
  await simulator.start();
  simulator.setClock(Date.parse('2026-11-18T17:00:00Z'));
  const service = await startReadyService(benchConfig(), { simulator });
  try {
    const base = service.urls.base;
    const chain = await getJson<{ chains: { expirations: string[] }[] }>(
      `${base}/contracts/option-chain?symbol=${UNDERLYING}`,
    );
    const expirations = chain.chains[0]?.expirations ?? [];
    const conIds: number[] = [];
    for (const expiry of expirations) {
      if (conIds.length >= CONTRACTS) break;
      const options = await getJson<{ contracts: { conId: number }[] }>(
        `${base}/contracts/options?symbol=${UNDERLYING}&expiry=${expiry}&limit=${CONTRACTS - conIds.length}`,
      );
      conIds.push(...options.contracts.map((option) => option.conId));
    }
    check(conIds.length === CONTRACTS, `${CONTRACTS} option contracts (got ${conIds.length})`);

    const violationsBefore = simulator.stats().pacingViolations;
    const rounds: (LoadClientResult & { quotesPerSecond: number })[] = [];
    for (let index = 1; index <= ROUNDS; index++) {
      console.log(`  load: round ${index}/${ROUNDS}, ${CLIENTS} clients for ${DURATION_MS / 1000} s`);
      const load = await runLoadClient(base, conIds);
      rounds.push({ ...load, quotesPerSecond: load.requests / (load.durationMs / 1000) });
    }
    const pacingErrors = simulator.stats().pacingViolations - violationsBefore;
    const byThroughput = [...rounds].sort((a, b) => a.quotesPerSecond - b.quotesPerSecond);
    const median = byThroughput[Math.floor(byThroughput.length / 2)];
    check(median !== undefined, 'at least one load round');
    printTable(`Load: ${CLIENTS} concurrent clients, quotes of ${CONTRACTS} streaming contracts, per round`, [
      ['round', 'quotes', 'quotes/s', 'p50 ms', 'p99 ms', 'from stream', 'failures'],
      ...rounds.map((load, index) => [
        index + 1,
        load.requests,
        round(load.quotesPerSecond, 0),
        load.latencyMs.p50,
        load.latencyMs.p99,
        load.fromStream,
        load.failures,
      ]),
    ]);
    console.log(
      `median round: ${round(median.quotesPerSecond, 0)} quotes/s, p99 ${median.latencyMs.p99} ms; ` +
        `simulator pacing errors over all rounds: ${pacingErrors}`,
    );
    console.log(`target: >= 5000 quotes/s for streaming contracts, zero pacing errors`);
    const sum = (pick: (load: LoadClientResult) => number) =>
      rounds.reduce((total, load) => total + pick(load), 0);
    const result = {
      clients: CLIENTS,
      contracts: CONTRACTS,
      roundDurationMs: DURATION_MS,
      quotesPerSecond: median.quotesPerSecond,
      latencyMs: median.latencyMs,
      rounds: rounds.map(({ quotesPerSecond, requests, latencyMs, failures }) => ({
        quotesPerSecond,
        requests,
        latencyMs,
        failures,
      })),
      requests: sum((load) => load.requests),
      fromStream: sum((load) => load.fromStream),
      failures: sum((load) => load.failures),
      pacingErrors,
    };
    writeResult('load', result);
    return result;
  } finally {
    await service.close();
    await simulator.stop();
  }
}

if (require.main === module) {
  runLoad().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
