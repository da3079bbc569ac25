import { runFanout } from './fanout';
import { runFootprint } from './footprint';
import { runLoad } from './load';
import { runOverhead } from './overhead';
import { runReads } from './reads';
import { runRecovery } from './recovery';
import { runStorm } from './storm';

/** `npm run bench`: every benchmark in turn (or those named: `npm run bench -- load footprint`). */
const BENCHMARKS: Record<string, () => Promise<unknown>> = {
  overhead: runOverhead,
  load: runLoad,
  recovery: runRecovery,
  footprint: runFootprint,
  storm: runStorm,
  reads: runReads,
  fanout: runFanout,
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHMARKS).join(', ')}`,
    );
  }
  for (const name of asked.length > 0 ? asked : Object.keys(BENCHMARKS)) {
    console.log(`\n=== ${name} ===`);
    await BENCHMARKS[name]?.();
  }
}

main()
  .then(() => process.exit(0)) // the IB client library may leave a reconnect timer behind
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
