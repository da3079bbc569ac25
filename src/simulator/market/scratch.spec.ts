import { SimulatorClock } from '../control/simulator-clock';
import { Market } from './market';
it('scratch', () => {
  const clock = new SimulatorClock();
  clock.set(Date.parse('2026-11-24T15:00:00Z')); // Tue 10:00 ET
  const m = new Market({ seed: 42, clock });
  let t0 = Date.now();
  for (const i of m.instruments()) m.quote(i.conId);
  console.log(`quotes all ${m.instruments().length} took ${Date.now() - t0}`);
  t0 = Date.now();
  for (const i of m.instruments()) m.quote(i.conId);
  console.log(`again took ${Date.now() - t0}`);
  const t1 = Date.now();
  const d = m.bars(12087792, clock.now() - 365 * 86400000, clock.now(), 86400000);
  console.log(`daily ${d.length} took ${Date.now() - t1}`);
  const t2 = Date.now();
  const e = m.bars(265598, clock.now() - 30 * 86400000, clock.now(), 60000);
  console.log(`1min ${e.length} took ${Date.now() - t2}`);
});
