#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { runSimulator } from './simulator/run-simulator';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new InvalidArgumentError('must be a port number (0-65535)');
  }
  return parsed;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('must be an integer');
  return parsed;
}

/** Resolves on SIGINT/SIGTERM so long-running commands can shut down cleanly. */
async function untilSignalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export function buildProgram(): Command {
  const program = new Command('ib-gateway-supervisor')
    .description('Runs IB Gateway in Docker, keeps it healthy, and serves it as REST + MCP.')
    .showHelpAfterError();

  program
    .command('simulator')
    .description(
      'Run the IB Gateway simulator alone: a TWS API server (server version 193) with a simulated market and broker.',
    )
    .addOption(
      new Option('--port <port>', 'TWS API port').default(4002).argParser(port).env('SIMULATOR_PORT'),
    )
    .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1').env('SIMULATOR_HOST'))
    .addOption(
      new Option('--control-port <port>', 'fault-injection HTTP API port (GET /state)')
        .default(4010)
        .argParser(port)
        .env('SIMULATOR_CONTROL_PORT'),
    )
    .addOption(new Option('--no-control', 'do not start the fault-injection HTTP API'))
    .addOption(
      new Option('--vnc-port <port>', 'serve the status screen over VNC on this port')
        .argParser(port)
        .env('SIMULATOR_VNC_PORT'),
    )
    .addOption(
      new Option('--vnc-password-file <path>', 'file holding the VNC password').env(
        'SIMULATOR_VNC_PASSWORD_FILE',
      ),
    )
    .addOption(
      new Option('--seed <n>', 'seed of the simulated market')
        .default(42)
        .argParser(integer)
        .env('SIMULATOR_SEED'),
    )
    .addOption(
      new Option('--accounts <list>', 'comma-separated managed accounts')
        .default('DU1234567')
        .env('SIMULATOR_ACCOUNTS'),
    )
    .addOption(
      new Option('--state <state>', 'gateway state at start')
        .choices(['starting', 'logging-in', 'awaiting-2fa', 'login-failed', 'logged-in'])
        .default('logged-in'),
    )
    .option('--verbose', 'log protocol events', false)
    .action(async (options: Record<string, unknown>) => {
      const running = await runSimulator({
        host: options.host as string,
        port: options.port as number,
        controlPort: options.control === false ? undefined : (options.controlPort as number),
        vncPort: options.vncPort as number | undefined,
        vncPasswordFile: options.vncPasswordFile as string | undefined,
        seed: options.seed as number,
        accounts: String(options.accounts)
          .split(',')
          .map((account) => account.trim())
          .filter(Boolean),
        state: options.state as string,
        verbose: options.verbose === true,
      });
      const signal = await untilSignalled();
      console.log(`${signal}: stopping the simulator`);
      await running.stop();
    });

  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}
