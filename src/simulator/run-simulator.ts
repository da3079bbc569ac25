import { readFileSync } from 'node:fs';
import { startControlServer, type ControlServer } from './control/control-http-server';
import { GATEWAY_STATES, type GatewayState } from './control/gateway-login';
import { IbGatewaySimulator } from './simulator';
import { ServerVersion } from './protocol/versions';

export interface RunSimulatorOptions {
  host: string;
  port: number;
  controlPort: number | undefined;
  vncPort: number | undefined;
  vncPasswordFile: string | undefined;
  seed: number;
  accounts: string[];
  state: string;
  verbose: boolean;
}

export interface RunningSimulator {
  simulator: IbGatewaySimulator;
  control: ControlServer | undefined;
  stop(): Promise<void>;
}

/** Starts a standalone simulator (the `simulator` CLI command) and says where everything listens. */
export async function runSimulator(options: RunSimulatorOptions): Promise<RunningSimulator> {
  if (!(GATEWAY_STATES as readonly string[]).includes(options.state)) {
    throw new Error(`--state must be one of ${GATEWAY_STATES.join(', ')}`);
  }
  const vncPassword = options.vncPasswordFile
    ? readFileSync(options.vncPasswordFile, 'utf8').trim()
    : undefined;
  const simulator = new IbGatewaySimulator({
    host: options.host,
    port: options.port,
    seed: options.seed,
    accounts: options.accounts,
    initialState: options.state as GatewayState,
    vnc:
      options.vncPort === undefined
        ? undefined
        : { host: options.host, port: options.vncPort, ...(vncPassword ? { password: vncPassword } : {}) },
    log: options.verbose ? (line) => console.log(`[simulator] ${line}`) : undefined,
  });
  const port = await simulator.start();
  const control =
    options.controlPort === undefined
      ? undefined
      : await startControlServer(simulator, { host: options.host, port: options.controlPort });
  console.log(
    `IB Gateway simulator listening on ${options.host}:${port} (TWS API, server versions ${ServerVersion.OLDEST} to ${ServerVersion.NEWEST})`,
  );
  console.log(
    `  accounts: ${options.accounts.join(', ')}   seed: ${options.seed}   state: ${simulator.login.state}`,
  );
  if (control) console.log(`  control API: http://${options.host}:${control.port}/state`);
  if (simulator.vncPort !== undefined) {
    console.log(
      `  VNC status screen: ${options.host}:${simulator.vncPort}${vncPassword ? ' (password)' : ''}`,
    );
  }
  return {
    simulator,
    control,
    stop: async () => {
      await control?.close();
      await simulator.stop();
    },
  };
}
