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
 * subscriptions → resubscribe, connections → reconnect, gateway → container restart). Measured from the
 * freeze: detection (the ladder's first action) and fresh ticks (the first probe tick the service received
 * after detection, read from /health/status every POLL_MS, so its error is one poll); and from detection to
 * those ticks (recovery, which includes climbing through the rungs below the one that cures).
 */
const REPEATS = Number(process.env.BENCH_RECOVERY_REPEATS ?? 3);
const STALE_AFTER_SECONDS = 5;
const POLL_MS = 20;
const IMAGE = 'ib-gateway-simulator:local';
/** A Wednesday afternoon: the EUR.USD probe trades (the real clock may be a weekend). */
const MARKET_OPEN = '2026-11-18T15:00:00Z';
const REPO_ROOT = resolve(__dirname, '..', '..');

const run = promisify(execFile);

interface Rung {
  rung: 'resubscribe' | 'reconnect' | 'restart';
  scope: 'subscriptions' | 'connections' | 'gateway';
  /** Issue 7's target for recovery after detection, if it sets one. */
  recoveryTargetS: number | undefined;
}
const RUNGS: Rung[] = [
  { rung: 'resubscribe', scope: 'subscriptions', recoveryTargetS: 1 },
  { rung: 'reconnect', scope: 'connections', recoveryTargetS: 3 },
  { rung: 'restart', scope: 'gateway', recoveryTargetS: undefined },
];
const DETECTION_MARGIN_S = 1;

interface LadderEvent {
  at: string;
  from: string;
  to: string;
  reason: string;
}

interface HealthStatus {
  state: string;
  probe: { lastTickAt: string | null };
  ladder: { rung: string };
}

interface Sample {
  detectionS: number;
  /** From detection to the first fresh probe tick. */
  recoveryS: number;
  /** From the curing rung's action to the first fresh probe tick. */
  cureS: number;
  totalS: number;
  /** From the freeze until the ladder, having seen the ticks, was back at idle. */
  settledS: number;
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
    const status = await getJson<HealthStatus>(`${base}/health/status`);
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

/**
 * Freezes with the rung's scope, then polls the probe's last tick and the ladder's events until the ladder is
 * back at idle. Fails when the ladder was not started by the silence or was cured by another rung.
 */
async function measure(url: string, containerName: string, { rung, scope }: Rung): Promise<Sample> {
  const tickTimes = new Set<number>();
  const frozenAt = Date.now();
  await freeze(containerName, scope);
  const ladder = await until('the ladder to act and settle', async () => {
    const status = await getJson<HealthStatus>(`${url}/health/status`);
    if (status.probe.lastTickAt !== null) tickTimes.add(Date.parse(status.probe.lastTickAt));
    const { events } = await getJson<{ events: LadderEvent[] }>(`${url}/health/events?source=ladder`);
    const mine = events.filter((event) => Date.parse(event.at) >= frozenAt);
    if (mine.some((event) => event.to === 'idle')) return mine;
    await sleep(POLL_MS);
    return undefined;
  });
  const detected = ladder[0];
  const cured = ladder.find((event) => event.to === rung);
  const settled = ladder.find((event) => event.to === 'idle');
  check(detected !== undefined && cured !== undefined && settled !== undefined, 'ladder events');
  const steps = ladder.map((event) => event.to).join(' → ');
  check(detected.to === 'resubscribe', `the ladder started with ${detected.to} (${steps})`);
  check(settled.from === rung, `the '${scope}' freeze was cured by ${settled.from}, not ${rung} (${steps})`);
  const detectedAt = Date.parse(detected.at);
  // Ticks already on the wire when the freeze landed are not a failed freeze; later ones are.
  const quietAfterFreeze = [...tickTimes].filter((at) => at > frozenAt + 500 && at < detectedAt);
  check(quietAfterFreeze.length === 0, `the probe ticked during the '${scope}' freeze`);
  const freshAt = Math.min(...[...tickTimes].filter((at) => at > Date.parse(cured.at)));
  check(Number.isFinite(freshAt), `no probe tick seen after the ${rung}`);
  return {
    detectionS: (detectedAt - frozenAt) / 1000,
    recoveryS: (freshAt - detectedAt) / 1000,
    cureS: (freshAt - Date.parse(cured.at)) / 1000,
    totalS: (freshAt - frozenAt) / 1000,
    settledS: (Date.parse(settled.at) - frozenAt) / 1000,
  };
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
    const summary = [];
    for (const rungToCure of RUNGS) {
      const samples: Sample[] = [];
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        await flowingAndIdle(url);
        await sleep(1000); // a steady stream before the fault
        const sample = await measure(url, containerName, rungToCure);
        samples.push(sample);
        console.log(
          `  recovery: ${rungToCure.rung} #${repeat + 1}: detected after ${round(sample.detectionS)} s, ` +
            `fresh ticks ${round(sample.recoveryS)} s later (${round(sample.cureS)} s after the ${rungToCure.rung})`,
        );
      }
      const of = (field: keyof Sample) => percentiles(samples.map((sample) => sample[field]));
      const detection = of('detectionS');
      const recovery = of('recoveryS');
      const detectionMet = detection.max <= STALE_AFTER_SECONDS + DETECTION_MARGIN_S;
      const recoveryMet =
        rungToCure.recoveryTargetS === undefined ? undefined : recovery.max <= rungToCure.recoveryTargetS;
      summary.push({
        rung: rungToCure.rung,
        freezeScope: rungToCure.scope,
        detection,
        recovery,
        cure: of('cureS'),
        total: of('totalS'),
        ladderSettled: of('settledS'),
        targets: {
          detectionWithinS: STALE_AFTER_SECONDS + DETECTION_MARGIN_S,
          detectionMet,
          recoveryWithinS: rungToCure.recoveryTargetS ?? null,
          recoveryMet: recoveryMet ?? null,
        },
      });
    }
    const verdict = (met: boolean | null) => (met === null ? 'report' : met ? 'met' : 'MISSED');
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
          'rung → ticks p50',
          'total p50',
          'total max',
          'detection target',
          'recovery target',
        ],
        ...summary.map((row) => [
          row.rung,
          row.detection.p50,
          row.detection.max,
          round(row.detection.max - STALE_AFTER_SECONDS),
          row.recovery.p50,
          row.recovery.max,
          row.cure.p50,
          row.total.p50,
          row.total.max,
          verdict(row.targets.detectionMet),
          `${verdict(row.targets.recoveryMet)}${row.targets.recoveryWithinS === null ? '' : ` (≤ ${row.targets.recoveryWithinS})`}`,
        ]),
      ],
    );
    console.log(
      `targets (issue 7): detection within threshold + ${DETECTION_MARGIN_S} s; resubscribe within 1 s; reconnect within 3 s; ` +
        'restart: reported. Detection runs from the freeze (the last tick came a little before it, so it can be under ' +
        'the threshold); recovery runs from detection to the first fresh probe tick and includes the ladder climbing ' +
        `through the rungs below the one that cures; "rung → ticks" from the curing rung's action. Ticks are read every ${POLL_MS} ms.`,
    );
    const result = {
      staleAfterSeconds: STALE_AFTER_SECONDS,
      backoffSeconds: { initial: 1, max: 2 },
      repeats: REPEATS,
      pollMs: POLL_MS,
      rungs: summary,
    };
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
