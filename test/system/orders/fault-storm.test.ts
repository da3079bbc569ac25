import { writeFileSync } from 'node:fs';
import { assertDockerAvailable, run } from '../../support/docker';
import {
  abortFaultStorms,
  formatStormReport,
  runFaultStorm,
  SIMULATOR_IMAGE,
  SINGLE_FAULTS,
  type StormReport,
} from '../../support/fault-storm';

/**
 * The short fault storm: ~36 resting paper orders through POST /orders (LMT mostly, and LIT, vertical call
 * spreads as BAG combos, and staged LMTs sent on with POST /orders/{id}/transmit), each retried with its
 * idempotency key (a staged one's transmit with its order id) until a definitive answer, while each fault happens once with orders in flight (docker kill, docker
 * restart, a gateway data freeze, a connection drop before and after the broker accepts an order, a SIGKILL of
 * the supervisor and the same command started again). Then the broker's truth decides: nothing lost,
 * nothing duplicated, no answer the broker contradicts, no key without an answer, one container.
 * The long version is `npm run bench -- storm`.
 */

jest.setTimeout(240_000);

describe('a fault storm of orders against the supervisor in container mode', () => {
  beforeAll(async () => {
    await assertDockerAvailable();
    await run('bash', ['docker/build-simulator-image.sh', SIMULATOR_IMAGE], { timeoutMs: 280_000 });
  }, 300_000);

  // Only does something when the test timed out with the storm still going: its supervisor and container go.
  afterAll(async () => {
    await abortFaultStorms();
  }, 60_000);

  it('answers every order truthfully through every fault, exactly once at the broker', async () => {
    const report: StormReport = await runFaultStorm({
      label: 'test',
      orders: Number(process.env.STORM_ORDERS ?? 36),
      workers: 4,
      faults: SINGLE_FAULTS,
      buildImage: false,
      seed: process.env.STORM_SEED === undefined ? undefined : Number(process.env.STORM_SEED),
      keyDeadlineMs: 90_000,
      recoveryTimeoutMs: 60_000,
      log: (line) => process.stdout.write(`  storm: ${line}\n`),
    });
    console.log(formatStormReport(report));
    // The whole report, every attempt of every key included, for debugging a failed run.
    if (process.env.STORM_REPORT_FILE) {
      writeFileSync(process.env.STORM_REPORT_FILE, `${JSON.stringify(report, null, 2)}\n`);
    }

    expect(report.faults.map((fault) => fault.kind)).toEqual(SINGLE_FAULTS);
    expect({
      brokerTruthComplete: report.brokerTruth.complete,
      lost: report.counts.lost,
      duplicated: report.counts.duplicated,
      untrue: report.counts.untrue,
      givenUp: report.counts.givenUp,
      containers: report.counts.containers,
      unrecoveredFaults: report.counts.unrecoveredFaults,
      unexpectedSupervisorExits: report.counts.unexpectedSupervisorExits,
      eventsUntold: report.counts.eventsUntold,
    }).toEqual({
      brokerTruthComplete: true,
      lost: 0,
      duplicated: 0,
      untrue: 0,
      givenUp: 0,
      containers: 1,
      unrecoveredFaults: 0,
      unexpectedSupervisorExits: 0,
      eventsUntold: 0,
    });
    expect(report.counts.asked).toBe(
      report.counts.acknowledged + report.counts.refused + report.counts.givenUp,
    );
  });
});
