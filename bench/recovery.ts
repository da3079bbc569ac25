import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { RunningService } from '../src/main';
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
 * Recovery: the service supervising the simulator image on a real Docker daemon. For each rung of the ladder a
 * fault that exactly that rung cures is injected through the container's control API (freeze scope
 * subscriptions → resubscribe, connections → reconnect, gateway → container restart), and the time from the
 * freeze to detection (the ladder's first action) and from detection to fresh ticks (the ladder back at idle)
 * is measured.
 */
const REPEATS = Number(process.env.BENCH_RECOVERY_REPEATS ?? 3);
const STALE_AFTER_SECONDS = 5;
const IMAGE = 'ib-gateway-simulator:local';
/** A Wednesday afternoon: the EUR.USD probe trades (the real clock may be a weekend). */
const MARKET_OPEN = '2026-11-18T15:00:00Z';
const REPO_ROOT = resolve(__dirname, '..', '..');

const run = promisify(execFile);

interface Rung {
  rung: 'resubscribe' | 'reconnect' | 'restart';
  scope: 'subscriptions' | 'connections' | 'gateway';
}
const RUNGS: Rung[] = [
  { rung: 'resubscribe', scope: 'subscriptions' },
  { rung: 'reconnect', scope: 'connections' },
  { rung: 'restart', scope: 'gateway' },
];

interface LadderEvent {
  at: string;
  from: string;
  to: string;
  reason: string;
}

async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    check(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function flowingAndIdle(base: string): Promise<void> {
  await until('data flowing with the ladder idle', async () => {
    const status = await getJson<{ state: string; ladder: { rung: string } }>(`${base}/health/status`);
    return status.state === 'data-flowing' && status.ladder.rung === 'idle' ? true : undefined;
  });
}

async function freeze(containerName: string, scope: Rung['scope']): Promise<void> {
  const { stdout } = await run('docker', [
    'inspect',
    '--format',
    '{{.NetworkSettings.IPAddress}}',
    containerName,
  ]);
  const response = await fetch(`http://${stdout.trim()}:4010/market-data/freeze`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scope }),
  });
  check(response.status === 200, `freeze answered ${response.status}`);
}

export async function runRecovery(): Promise<Record<string, unknown>> {
  console.log('  recovery: building the simulator image (skipped when up to date)');
  await run('bash', ['docker/build-simulator-image.sh', IMAGE], { cwd: REPO_ROOT, timeout: 600_000 });
  const containerName = `ibgs-bench-recovery-${process.pid}`;
  const base = benchConfig();
  const config = benchConfig({
    ib: { ...base.ib, username: 'bench', password: `pw-${randomBytes(12).toString('hex')}` },
    gateway: { ...base.gateway, image: IMAGE, containerName, apiPort: 0, vncPort: 0 },
    watchdog: {
      ...base.watchdog,
      staleAfterSeconds: STALE_AFTER_SECONDS,
      backoffInitialSeconds: 1,
      backoffMaxSeconds: 2,
      maxRestartsPerHour: 100,
    },
  });
  let service: RunningService | undefined;
  try {
    service = await startReadyService(config, {
      gatewayContainer: {
        labels: { 'ib-gateway-supervisor.bench': 'recovery' },
        env: {
          SIM_LOGIN_DELAY_MS: '300',
          SIM_ACCEPTED_PASSWORD_FILE: '/run/secrets/tws_password',
          SIM_CLOCK: MARKET_OPEN,
        },
      },
    });
    const url = service.urls.base;
    const rows: Record<string, { detectionS: number[]; recoveryS: number[]; totalS: number[] }> = {};
    for (const { rung, scope } of RUNGS) {
      rows[rung] = { detectionS: [], recoveryS: [], totalS: [] };
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        await flowingAndIdle(url);
        await sleep(1000); // a steady stream before the fault
        const frozenAt = Date.now();
        await freeze(containerName, scope);
        const ladder = await until('the ladder to act and settle', async () => {
          const { events } = await getJson<{ events: LadderEvent[] }>(`${url}/health/events?source=ladder`);
          const mine = events.filter((event) => Date.parse(event.at) >= frozenAt);
          return mine.some((event) => event.to === 'idle') ? mine : undefined;
        });
        const detected = ladder[0];
        const settled = ladder.find((event) => event.to === 'idle');
        check(detected !== undefined && settled !== undefined, 'ladder events');
        check(detected.to === 'resubscribe', `the ladder started with ${detected.to}`);
        check(settled.from === rung, `the '${scope}' freeze was cured by ${settled.from}, not ${rung}`);
        const detectionS = (Date.parse(detected.at) - frozenAt) / 1000;
        const totalS = (Date.parse(settled.at) - frozenAt) / 1000;
        rows[rung].detectionS.push(detectionS);
        rows[rung].recoveryS.push(totalS - detectionS);
        rows[rung].totalS.push(totalS);
        console.log(
          `  recovery: ${rung} #${repeat + 1}: detected after ${round(detectionS)} s, data back ${round(totalS - detectionS)} s later`,
        );
      }
    }
    const summary = RUNGS.map(({ rung }) => {
      const row = rows[rung];
      check(row !== undefined, rung);
      return {
        rung,
        detection: percentiles(row.detectionS),
        recovery: percentiles(row.recoveryS),
        total: percentiles(row.totalS),
      };
    });
    printTable(
      `Recovery on Docker (simulator image), staleness threshold ${STALE_AFTER_SECONDS} s, ${REPEATS} runs per rung (seconds)`,
      [
        [
          'cured by',
          'detection p50',
          'detection max',
          'max - threshold',
          'recovery p50',
          'recovery max',
          'total p50',
        ],
        ...summary.map((row) => [
          row.rung,
          row.detection.p50,
          row.detection.max,
          round(row.detection.max - STALE_AFTER_SECONDS),
          row.recovery.p50,
          row.recovery.max,
          row.total.p50,
        ]),
      ],
    );
    console.log(
      'targets: detection within threshold + 1 s; resubscribe within 1 s; reconnect within 3 s (recovery counts from ' +
        'detection and includes the ladder climbing through the rungs below the one that cures)',
    );
    const result = { staleAfterSeconds: STALE_AFTER_SECONDS, repeats: REPEATS, rungs: summary };
    writeResult('recovery', result);
    return result;
  } finally {
    await service?.close();
    await run('docker', ['rm', '-f', containerName]).catch(() => undefined);
  }
}

if (require.main === module) {
  runRecovery()
    .then(() => process.exit(0))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
