import {
  FAULT_KINDS,
  formatStormReport,
  runFaultStorm,
  type FaultKind,
  type StormReport,
} from '../test/support/fault-storm';
import { writeResult } from './support';

/**
 * The long fault storm (test/support/fault-storm.ts): STORM_ORDERS (default 300) resting paper orders through
 * POST /orders by STORM_WORKERS clients (default 6), each retried with its idempotency key, while every fault
 * kind happens STORM_REPEATS times (default 3) in a shuffled order, overlapping ones included (a docker kill
 * while a gateway freeze is active, a supervisor SIGKILL during a container restart). Prints the counts and
 * the recovery times per fault kind with the machine, writes bench/results/storm.json, and fails (exit code
 * 1 from run-all) when anything was lost, duplicated, untrue or given up, or the container is not exactly one.
 * STORM_SEED replays a storm's random choices.
 */

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, not ${text}`);
  return value;
}

/** Every kind `repeats` times, shuffled with the storm's own seed so that a run can be replayed. */
function faultPlan(repeats: number, seed: number): FaultKind[] {
  const plan = FAULT_KINDS.flatMap((kind) => Array.from({ length: repeats }, () => kind));
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: enough to shuffle a plan reproducibly
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  for (let index = plan.length - 1; index > 0; index--) {
    const other = Math.floor(next() * (index + 1));
    [plan[index], plan[other]] = [plan[other] as FaultKind, plan[index] as FaultKind];
  }
  return plan;
}

export async function runStorm(): Promise<StormReport> {
  const orders = positiveInteger('STORM_ORDERS', 300);
  const workers = positiveInteger('STORM_WORKERS', 6);
  const repeats = positiveInteger('STORM_REPEATS', 3);
  const seed =
    process.env.STORM_SEED === undefined
      ? Math.floor(Math.random() * 2 ** 31)
      : Number(process.env.STORM_SEED);
  // STORM_FAULTS=docker-restart,freeze,...: exactly these faults in this order (to chase one behaviour).
  const chosen = (process.env.STORM_FAULTS ?? '').split(',').filter(Boolean);
  const unknown = chosen.filter((kind) => !(FAULT_KINDS as readonly string[]).includes(kind));
  if (unknown.length > 0)
    throw new Error(`unknown STORM_FAULTS ${unknown.join(', ')}; choose from ${FAULT_KINDS.join(', ')}`);
  const faults = chosen.length > 0 ? (chosen as FaultKind[]) : faultPlan(repeats, seed);
  console.log(
    `  storm: ${orders} orders, ${workers} workers, ${faults.length} faults` +
      (chosen.length > 0 ? ' (STORM_FAULTS)' : ` (${repeats} of each kind)`) +
      `, seed ${seed}`,
  );
  const report = await runFaultStorm({
    label: 'bench',
    orders,
    workers,
    faults,
    seed,
    gapMs: [1_000, 4_000],
    log: (line) => console.log(`  storm: ${line}`),
  });
  console.log(`\n${formatStormReport(report, 40)}`);
  const { offending, keys: _keys, ...summary } = report;
  writeResult('storm', {
    ...summary,
    // The full attempt history of the first offending keys, for debugging; the rest by key and finding.
    offending: offending.slice(0, 50),
    offendingKeys: offending.map((key) => ({
      key: key.key,
      findings: key.findings.map((item) => item.finding),
    })),
  });
  const failed = [
    report.counts.lost > 0 && `${report.counts.lost} lost`,
    report.counts.duplicated > 0 && `${report.counts.duplicated} duplicated`,
    report.counts.untrue > 0 && `${report.counts.untrue} untrue`,
    report.counts.givenUp > 0 && `${report.counts.givenUp} given up`,
    report.counts.containers !== 1 && `${report.counts.containers} containers (not 1)`,
    report.counts.unrecoveredFaults > 0 && `${report.counts.unrecoveredFaults} unrecovered faults`,
    report.counts.unexpectedSupervisorExits > 0 &&
      `${report.counts.unexpectedSupervisorExits} unexpected supervisor exits`,
    !report.brokerTruth.complete && "the broker's truth is incomplete (no orders array with orderRef)",
  ].filter((item): item is string => typeof item === 'string');
  if (failed.length > 0) throw new Error(`fault storm failed: ${failed.join(', ')}`);
  return report;
}

if (require.main === module) {
  runStorm()
    .then(() => process.exit(0))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
