import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runLoadClient } from './load';
import { check, elapsedMs, percentiles, printTable, round, sleep, writeResult } from './support';

/**
 * Footprint: the built CLI (`node dist/cli.js start`, simulator mode, no container) as a user runs it:
 * time from spawn to /health/ready, then resident memory and CPU idle (the process and its in-process simulator:
 * watchdog, probe stream, simulated market), and memory under load (streaming stocks quoted by 50 concurrent
 * clients). Start-up is measured several times; the median is the figure.
 */
const STARTS = Number(process.env.BENCH_FOOTPRINT_STARTS ?? 5);
const IDLE_SETTLE_MS = 5_000;
/** How long idle CPU is measured: long enough for several health checks and probe ticks. */
const IDLE_CPU_MS = 10_000;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;
const LOAD_MS = 10_000;
const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');
const SYMBOLS = ['AAPL', 'MSFT', 'SPY', 'QQQ', 'NVDA', 'AMZN', 'GOOGL', 'TSLA', 'META', 'IWM'];

function residentMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  check(kb !== undefined, `VmRSS of ${pid}`);
  return Number(kb) / 1024;
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

interface StartedCli {
  child: ChildProcess;
  base: string;
  readyMs: number;
}

async function startCli(): Promise<StartedCli> {
  const start = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [CLI, 'start', '--port', '0', '--log-level', 'warn', '--rate-limit', '10000000'],
    {
      env: { ...process.env, IBGS_DATA_DIR: mkdtempSync(join(tmpdir(), 'ibgs-footprint-')) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  let base: string | undefined;
  while (Date.now() < deadline) {
    base ??= /(http:\/\/127\.0\.0\.1:\d+)\/docs\b/.exec(output)?.[1];
    if (base !== undefined) {
      const response = await fetch(`${base}/health/ready`).catch(() => undefined);
      if (response?.status === 200) return { child, base, readyMs: elapsedMs(start) };
    }
    check(child.exitCode === null, `the CLI exited early:\n${output}`);
    await sleep(10);
  }
  child.kill('SIGKILL');
  throw new Error(`the CLI was not ready within 30 s:\n${output}`);
}

async function stopCli(cli: StartedCli): Promise<void> {
  const exited = new Promise((resolveExit) => cli.child.once('exit', resolveExit));
  cli.child.kill('SIGTERM');
  await exited;
}

export async function runFootprint(): Promise<Record<string, unknown>> {
  const readyTimes: number[] = [];
  for (let attempt = 0; attempt < STARTS; attempt++) {
    const cli = await startCli();
    readyTimes.push(cli.readyMs);
    await stopCli(cli);
  }
  const cli = await startCli();
  try {
    const pid = cli.child.pid;
    check(pid !== undefined, 'the CLI has a pid');
    await sleep(IDLE_SETTLE_MS);
    const idleMb = residentMb(pid);
    const cpuBefore = cpuTimeMs(pid);
    const idleStart = process.hrtime.bigint();
    await sleep(IDLE_CPU_MS);
    const idleCpuPercent = round(((cpuTimeMs(pid) - cpuBefore) / elapsedMs(idleStart)) * 100, 2);

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
        idleCpuPercent,
        loadedMb,
        round(load.requests / (load.durationMs / 1000), 0),
      ],
    ]);
    console.log('targets: ready within 2 s (without the container), under 150 MB idle');
    const result = {
      starts: STARTS,
      readyMs: { median: ready.p50, all: readyTimes },
      residentMb: { idle: idleMb, peakUnderLoad: loadedMb },
      idleCpuPercent,
      load: { quotes: load.requests, failures: load.failures, durationMs: load.durationMs },
    };
    writeResult('footprint', result);
    return result;
  } finally {
    await stopCli(cli);
  }
}

if (require.main === module) {
  runFootprint().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
