import { IbGatewaySimulator } from '../src/simulator/simulator';

/**
 * The gateways of footprint's per-gateway table: N IB Gateway simulators hosted in ONE process of their own,
 * so that their CPU and memory never count as the supervisor's. Run as
 * `node dist-bench/bench/footprint-gateways.js <N>`; it prints {@link SIMULATOR_PORTS_LINE} followed by the
 * JSON list of their TWS API ports, and stops them all on SIGTERM or SIGINT.
 */
export const SIMULATOR_PORTS_LINE = 'footprint simulators listening on ports ';

/** Each simulator its own account (routing by account stays unambiguous) and its own market seed. */
export function simulatorAccount(index: number): string {
  return `DU${1_000_001 + index}`;
}

async function hostSimulators(count: number): Promise<void> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`a simulator count, not ${String(count)}`);
  const simulators: IbGatewaySimulator[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(simulators.map(async (simulator) => simulator.stop()));
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  const ports: number[] = [];
  for (let index = 0; index < count; index++) {
    const simulator = new IbGatewaySimulator({
      host: '127.0.0.1',
      port: 0,
      seed: 42 + index,
      accounts: [simulatorAccount(index)],
    });
    simulators.push(simulator);
    ports.push(await simulator.start());
  }
  console.log(`${SIMULATOR_PORTS_LINE}${JSON.stringify(ports)}`);
}

if (require.main === module) {
  hostSimulators(Number(process.argv[2])).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
