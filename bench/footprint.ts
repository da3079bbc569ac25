import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SIMULATOR_PORTS_LINE } from './footprint-gateways';
import { runLoadClient } from './load';
import { check, elapsedMs, percentiles, printTable, round, sleep, writeResult } from './support';

/**
 * Footprint: the built CLI (`node dist/cli.js start`, simulator mode, no container) as a user runs it:
 * time from spawn to /health/ready, then resident memory and CPU idle (the process and its in-process simulator:
 * watchdog, probe stream, simulated market), and memory under load (streaming stocks quoted by 50 concurrent
 * clients). Start-up is measured several times; the median is the figure.
 *
 * Then per gateway: the same CLI with a --config file listing 1, 4 and 8 gateways of the address kind, each
 * attached to its own simulator; the simulators run in one separate process, so only the supervisor's own
 * memory and CPU are measured.
 */
const STARTS = Number(process.env.BENCH_FOOTPRINT_STARTS ?? 5);
const IDLE_SETTLE_MS = 5_000;
/** How long idle CPU is measured: long enough for several health checks and probe ticks. */
const IDLE_CPU_MS = Number(process.env.BENCH_FOOTPRINT_IDLE_CPU_MS ?? 10_000);
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;
const LOAD_MS = 10_000;
const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');
const SYMBOLS = ['AAPL', 'MSFT', 'SPY', 'QQQ', 'NVDA', 'AMZN', 'GOOGL', 'TSLA', 'META', 'IWM'];
/** Resident memory is sampled this many times, a second apart; the median is the figure. */
const RSS_SAMPLES = 5;
const RSS_SAMPLE_INTERVAL_MS = 1_000;
const GATEWAY_COUNTS = (process.env.BENCH_FOOTPRINT_GATEWAYS ?? '1,4,8').split(',').map(Number);
const SIMULATOR_HOST = resolve(__dirname, 'footprint-gateways.js');
/** The issue's targets for the per-gateway table. */
const TARGET_MB_PER_EXTRA_GATEWAY = 20;
const TARGET_IDLE_CPU_PERCENT_PER_GATEWAY = 1;

/** Every child process still running: killed when this process exits, whatever went wrong. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL if it is still running after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

function residentMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  check(kb !== undefined, `VmRSS of ${pid}`);
  return Number(kb) / 1024;
}

/** The median of {@link RSS_SAMPLES} readings a second apart: one reading can catch a GC or allocation peak. */
async function medianResidentMb(pid: number): Promise<{ median: number; samples: number[] }> {
  const samples: number[] = [];
  for (let sample = 0; sample < RSS_SAMPLES; sample++) {
    if (sample > 0) await sleep(RSS_SAMPLE_INTERVAL_MS);
    samples.push(round(residentMb(pid), 1));
  }
  return { median: percentiles(samples).p50, samples };
}

/** User plus system CPU time the process used so far, in ms (/proc/<pid>/stat fields 14 and 15). */
function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  check(Number.isFinite(ticks), `CPU time of ${pid}`);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU the process uses over {@link IDLE_CPU_MS} of idling, in % of one core. */
async function idleCpuPercent(pid: number): Promise<number> {
  const cpuBefore = cpuTimeMs(pid);
  const idleStart = process.hrtime.bigint();
  await sleep(IDLE_CPU_MS);
  return round(((cpuTimeMs(pid) - cpuBefore) / elapsedMs(idleStart)) * 100, 2);
}

interface StartedCli {
  child: ChildProcess;
  base: string;
  readyMs: number;
  /** The throw-away data dir startCli made, removed by stopCli. */
  ownedDataDir: string | undefined;
}

/**
 * Starts the built CLI and waits for /health/ready (`args`: e.g. --config). Its data dir is `dataDir`, else a
 * throw-away one it removes when stopped. A CLI that never gets ready is killed before this throws.
 */
async function startCli(args: readonly string[] = [], dataDir?: string): Promise<StartedCli> {
  const ownedDataDir = dataDir === undefined ? mkdtempSync(join(tmpdir(), 'ibgs-footprint-')) : undefined;
  const start = process.hrtime.bigint();
  const child = track(
    spawn(
      process.execPath,
      [CLI, 'start', '--port', '0', '--log-level', 'warn', '--rate-limit', '10000000', ...args],
      {
        env: { ...process.env, IBGS_DATA_DIR: dataDir ?? ownedDataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const deadline = Date.now() + 30_000;
    let base: string | undefined;
    while (Date.now() < deadline) {
      base ??= /(http:\/\/127\.0\.0\.1:\d+)\/docs\b/.exec(output)?.[1];
      if (base !== undefined) {
        const response = await fetch(`${base}/health/ready`).catch(() => undefined);
        if (response?.status === 200) return { child, base, readyMs: elapsedMs(start), ownedDataDir };
      }
      check(!hasExited(child), `the CLI exited early:\n${output}`);
      await sleep(10);
    }
    throw new Error(`the CLI was not ready within 30 s:\n${output}`);
  } catch (error) {
    await stopChild(child);
    if (ownedDataDir !== undefined) rmSync(ownedDataDir, { recursive: true, force: true });
    throw error;
  }
}

async function stopCli(cli: StartedCli): Promise<void> {
  await stopChild(cli.child);
  if (cli.ownedDataDir !== undefined) rmSync(cli.ownedDataDir, { recursive: true, force: true });
}

/** N simulators in one process of their own (bench/footprint-gateways.ts); resolves with their ports. */
async function startSimulators(count: number): Promise<{ child: ChildProcess; ports: number[] }> {
  const child = track(
    spawn(process.execPath, [SIMULATOR_HOST, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const line = output.split('\n').find((each) => each.startsWith(SIMULATOR_PORTS_LINE));
    if (line !== undefined) {
      const ports = JSON.parse(line.slice(SIMULATOR_PORTS_LINE.length)) as number[];
      check(ports.length === count, `${count} simulator ports in ${line}`);
      return { child, ports };
    }
    if (hasExited(child)) break;
    await sleep(20);
  }
  await stopChild(child);
  throw new Error(`the ${count} simulators did not start:\n${output}`);
}

interface GatewayListBody {
  gateways: Array<{ name: string; kind: string; connected: boolean; health: string }>;
}

interface GatewayFootprint {
  gateways: number;
  readyMs: number;
  residentMb: number;
  residentMbSamples: number[];
  idleCpuPercent: number;
  gatewayHealth: string[];
}

/** The supervisor with a --config file listing `count` address gateways, each on its own simulator. */
async function measureGateways(count: number): Promise<GatewayFootprint> {
  const folder = mkdtempSync(join(tmpdir(), 'ibgs-footprint-gateways-'));
  let simulators: { child: ChildProcess } | undefined;
  let cli: StartedCli | undefined;
  try {
    const started = await startSimulators(count);
    simulators = started;
    const configFile = join(folder, 'gateways.yaml');
    writeFileSync(
      configFile,
      [
        'gateways:',
        ...started.ports.map(
          (port, index) => `  - name: g${index + 1}\n    gateway: { address: "127.0.0.1:${port}" }`,
        ),
        '',
      ].join('\n'),
    );
    cli = await startCli(['--config', configFile], join(folder, 'data'));
    const pid = cli.child.pid;
    check(pid !== undefined, 'the CLI has a pid');
    const listed = (await (await fetch(`${cli.base}/gateway/list`)).json()) as GatewayListBody;
    check(listed.gateways.length === count, `${count} gateways listed: ${JSON.stringify(listed)}`);
    check(
      listed.gateways.every((gateway) => gateway.kind === 'address' && gateway.connected),
      `every gateway attached and connected: ${JSON.stringify(listed)}`,
    );
    await sleep(IDLE_SETTLE_MS);
    const rss = await medianResidentMb(pid);
    const cpu = await idleCpuPercent(pid);
    const after = (await (await fetch(`${cli.base}/gateway/list`)).json()) as GatewayListBody;
    return {
      gateways: count,
      readyMs: round(cli.readyMs, 0),
      residentMb: rss.median,
      residentMbSamples: rss.samples,
      idleCpuPercent: cpu,
      gatewayHealth: after.gateways.map((gateway) => `${gateway.name}:${gateway.health}`),
    };
  } finally {
    if (cli) await stopCli(cli);
    if (simulators) await stopChild(simulators.child);
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The per-gateway table: 1, 4 and 8 gateways, their memory and idle CPU, against the issue's targets. */
async function runGatewayFootprint(): Promise<Record<string, unknown>> {
  const measured: GatewayFootprint[] = [];
  for (const count of GATEWAY_COUNTS) measured.push(await measureGateways(count));
  const single = measured.find((each) => each.gateways === 1);
  const rows = measured.map((each) => {
    const extra = single && each.gateways > 1 ? each.gateways - 1 : undefined;
    return {
      ...each,
      mbPerExtraGateway: single && extra ? round((each.residentMb - single.residentMb) / extra, 2) : null,
      idleCpuPercentPerGateway: round(each.idleCpuPercent / each.gateways, 3),
      /** What one more gateway adds, without the process's fixed idle cost that N = 1 carries alone. */
      idleCpuPercentPerExtraGateway:
        single && extra ? round((each.idleCpuPercent - single.idleCpuPercent) / extra, 3) : null,
    };
  });
  printTable(
    'Footprint per gateway: the built CLI with a --config file of N address gateways (simulators in a separate process)',
    [
      [
        'gateways',
        'RSS idle MB (median of ' + RSS_SAMPLES + ')',
        'MB per extra gateway',
        'idle CPU % of a core',
        'idle CPU % per gateway',
        'idle CPU % per extra gateway',
        'start to ready',
      ],
      ...rows.map((row) => [
        row.gateways,
        row.residentMb,
        row.mbPerExtraGateway ?? '-',
        row.idleCpuPercent,
        round(row.idleCpuPercentPerGateway, 3),
        row.idleCpuPercentPerExtraGateway === null ? '-' : round(row.idleCpuPercentPerExtraGateway, 3),
        `${row.readyMs} ms`,
      ]),
    ],
  );
  console.log(
    `"idle": no client requests; per gateway, its watchdog probe stream (EUR.USD) ticking about every 250 ms, ` +
      `its health check twice a second and a gateway clock re-sync (reqCurrentTime) once a minute; per ` +
      `process, the /metrics event-loop-delay monitor (a 100 ms timer) and V8's garbage collection; RSS is the median of ${RSS_SAMPLES} VmRSS ` +
      `readings ${RSS_SAMPLE_INTERVAL_MS / 1000} s apart after ${IDLE_SETTLE_MS / 1000} s of settling, CPU is ` +
      `user+system ticks over ${IDLE_CPU_MS / 1000} s; the simulators' own CPU and memory are not counted`,
  );
  const extra = rows.filter((row) => row.mbPerExtraGateway !== null);
  const memoryMet =
    extra.length > 0 && extra.every((row) => (row.mbPerExtraGateway ?? 0) < TARGET_MB_PER_EXTRA_GATEWAY);
  const cpuMet = rows.every((row) => row.idleCpuPercentPerGateway < TARGET_IDLE_CPU_PERCENT_PER_GATEWAY);
  console.log(
    `target: under ${TARGET_MB_PER_EXTRA_GATEWAY} MB per extra gateway: ${memoryMet ? 'met' : 'MISSED'} ` +
      `(${extra.map((row) => `${row.gateways}: ${row.mbPerExtraGateway} MB`).join(', ')})`,
  );
  console.log(
    `target: idle CPU under ${TARGET_IDLE_CPU_PERCENT_PER_GATEWAY} % of a core per gateway: ${cpuMet ? 'met' : 'MISSED'} ` +
      `(${rows.map((row) => `${row.gateways}: ${row.idleCpuPercentPerGateway} %`).join(', ')})`,
  );
  return {
    rssSamples: RSS_SAMPLES,
    idleSettleMs: IDLE_SETTLE_MS,
    idleCpuMs: IDLE_CPU_MS,
    rows,
    targets: {
      mbPerExtraGateway: { target: TARGET_MB_PER_EXTRA_GATEWAY, met: memoryMet },
      idleCpuPercentPerGateway: { target: TARGET_IDLE_CPU_PERCENT_PER_GATEWAY, met: cpuMet },
    },
  };
}

export async function runFootprint(): Promise<Record<string, unknown>> {
  const readyTimes: number[] = [];
  for (let attempt = 0; attempt < STARTS; attempt++) {
    const cli = await startCli();
    readyTimes.push(cli.readyMs);
    await stopCli(cli);
  }
  let simulatorMode: Record<string, unknown> | undefined;
  const cli = await startCli();
  try {
    const pid = cli.child.pid;
    check(pid !== undefined, 'the CLI has a pid');
    await sleep(IDLE_SETTLE_MS);
    const idleMb = (await medianResidentMb(pid)).median;
    const idleCpu = await idleCpuPercent(pid);

    const conIds: number[] = [];
    for (const symbol of SYMBOLS) {
      const response = await fetch(`${cli.base}/contracts/details?symbol=${symbol}`);
      const body = (await response.json()) as { match?: string; contract?: { conId: number } };
      if (body.match === 'unique' && body.contract) conIds.push(body.contract.conId);
    }
    check(conIds.length > 0, 'some symbols resolve');
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(residentMb(pid)), 200);
    const load = await runLoadClient(cli.base, conIds, LOAD_MS);
    clearInterval(sampler);
    const loadedMb = Math.max(...samples);
    const ready = percentiles(readyTimes);
    printTable('Footprint: the built CLI in simulator mode (no container)', [
      [
        'start to ready (median of ' + STARTS + ')',
        'fastest',
        'RSS idle MB',
        'idle CPU % of a core',
        'RSS peak under load MB',
        'load quotes/s',
      ],
      [
        `${round(ready.p50, 0)} ms`,
        `${round(Math.min(...readyTimes), 0)} ms`,
        idleMb,
        idleCpu,
        loadedMb,
        round(load.requests / (load.durationMs / 1000), 0),
      ],
    ]);
    console.log('targets: ready within 2 s (without the container), under 150 MB idle');
    simulatorMode = {
      starts: STARTS,
      readyMs: { median: ready.p50, all: readyTimes },
      residentMb: { idle: idleMb, peakUnderLoad: loadedMb },
      idleCpuPercent: idleCpu,
      load: { quotes: load.requests, failures: load.failures, durationMs: load.durationMs },
    };
  } finally {
    await stopCli(cli);
  }
  check(simulatorMode !== undefined, 'the simulator-mode figures');
  const result = { ...simulatorMode, perGateway: await runGatewayFootprint() };
  writeResult('footprint', result);
  return result;
}

if (require.main === module) {
  runFootprint().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
