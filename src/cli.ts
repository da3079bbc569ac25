#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { constants } from 'node:os';
import { gatewayKind, usesSimulator, type AppConfig } from './config/config.schema';
import { dataGatewayName, gatewayPlans, type GatewayPlan } from './config/gateway-plans';
import { Redactor } from './common/redactor';
import { ConfigError, describeConfig, loadConfig, type CommandLineFlags } from './config/load-config';
import { CONFIG_FILE_ENV, CONFIG_FILE_FLAG } from './config/config-file';
import { SERVICE_VERSION } from './config/config.tokens';
import { SETTINGS, flagName, formatDefault, settingDefault } from './config/settings';
import { SupervisorConflictError } from './gateway/supervisor-lock';
import type { RunningService } from './main';
import { runSimulator } from './simulator/run-simulator';

const CLI_NAME = 'ib-gateway-supervisor';

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

/**
 * Resolves on the first SIGINT/SIGTERM; a second one exits at once (a stuck shutdown must stay
 * interruptible).
 */
async function firstStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received !== undefined) {
        console.error(`${signal} again: exiting without a clean shutdown`);
        process.exit(128 + constants.signals[signal]);
      }
      received = signal;
      console.log(`${signal}: stopping (a second signal exits at once)`);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** The start command's options, one per row of the settings table (plus each secret's value flag). */
function settingOptions(): Option[] {
  return SETTINGS.flatMap((setting) => {
    const option = new Option(setting.flag, setting.description).env(setting.env);
    const shown = formatDefault(setting);
    // The value only feeds --help: loadConfig applies defaults itself, from CONFIG_DEFAULTS.
    if (shown !== undefined && setting.switchValue === undefined) {
      option.default(settingDefault(setting), shown);
    }
    if (setting.type === 'list') {
      option.argParser((value: string, previous: unknown) => [
        ...(Array.isArray(previous) ? (previous as string[]) : []),
        value,
      ]);
    }
    if (!setting.secret) return [option];
    const plain = new Option(
      setting.secret.plainFlag,
      `the secret itself instead of a file: other processes can read process arguments (ps), so prefer ${flagName(setting.flag)}`,
    ).env(setting.secret.plainEnv);
    return [option, plain];
  });
}

/**
 * The flags typed on the command line. Commander also fills options from env vars and defaults (for --help);
 * loadConfig resolves those itself, so only command-line values pass.
 */
function commandLineFlags(command: Command): CommandLineFlags {
  const flags: Record<string, unknown> = {};
  for (const option of command.options) {
    const key = option.attributeName();
    if (option.long !== undefined && command.getOptionValueSource(key) === 'cli') {
      flags[option.long] = command.getOptionValue(key);
    }
  }
  return flags as CommandLineFlags;
}

/** One line per gateway of a gateways list: what it is and what it runs. */
function gatewayLine(plan: GatewayPlan, dataGateway: string): string {
  const { config } = plan;
  const mode = config.ib.tradingMode === 'live' ? 'LIVE' : 'paper';
  const kind = gatewayKind(config);
  const what =
    kind === 'address'
      ? `attached to ${config.gateway.address ?? ''} (a human restarts it)`
      : kind === 'container'
        ? `container ${config.gateway.containerName} (${config.gateway.image}) for IB user ${config.ib.username ?? ''}`
        : 'the built-in simulator';
  const roles = [
    plan.required ? undefined : 'not required for readiness',
    plan.name === dataGateway ? 'market data' : undefined,
  ];
  const extra = roles.filter((role) => role !== undefined);
  return `  ${plan.name}: ${what}, ${mode} trading${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
}

function printBanner(config: AppConfig): void {
  if (config.gateways.length > 0) {
    const plans = gatewayPlans(config);
    const dataGateway = dataGatewayName(config, plans);
    console.log(
      [
        `${CLI_NAME}: supervising ${plans.length} gateways; orders and account reads go by account (or the gateway argument):`,
        ...plans.map((plan) => gatewayLine(plan, dataGateway)),
      ].join('\n'),
    );
    if (plans.some((plan) => plan.config.ib.tradingMode === 'live') && !config.orders.allowLive) {
      console.log('  Orders are refused on live accounts unless --allow-live-orders is given.');
    }
    return;
  }
  if (config.gateway.address !== undefined) {
    const mode = config.ib.tradingMode === 'live' ? 'LIVE' : 'paper';
    console.log(
      [
        `${CLI_NAME}: attaching to the TWS or IB Gateway at ${config.gateway.address} (${mode} trading, as you said: --live for a live one).`,
        '  It runs outside the supervisor: nothing is started or stopped, and when only a restart would cure it, a human must restart it.',
      ].join('\n'),
    );
    return;
  }
  if (usesSimulator(config)) {
    console.log(
      [
        `${CLI_NAME}: no IB credentials given, so it runs against the built-in IB Gateway simulator:`,
        '  no IB account, a simulated market and broker, paper trading only.',
        '  To supervise a real IB Gateway, give --username and --password-file (or IBGS_USERNAME and IBGS_PASSWORD_FILE).',
      ].join('\n'),
    );
    return;
  }
  const mode = config.ib.tradingMode === 'live' ? 'LIVE' : 'paper';
  console.log(
    `${CLI_NAME}: supervising IB Gateway (${config.gateway.image}) for IB user ${config.ib.username ?? ''}, ${mode} trading.`,
  );
  if (config.ib.tradingMode === 'live' && !config.orders.allowLive) {
    console.log('  Orders are refused on this live account unless --allow-live-orders is given.');
  }
}

function printUrls(service: RunningService): void {
  const { urls } = service;
  const rows: Array<[string, string | undefined]> = [
    ['REST API + Swagger UI', urls.docs],
    ['OpenAPI JSON', `${urls.base}/docs-json`],
    ['MCP (streamable HTTP)', urls.mcp],
    ['noVNC (gateway screen)', urls.vnc],
    ['Health', urls.health],
    ['Prometheus metrics', urls.metrics],
  ];
  console.log(`Ready (${service.mode} mode):`);
  for (const [label, url] of rows) if (url !== undefined) console.log(`  ${label.padEnd(24)}${url}`);
  console.log('Stop with Ctrl+C (SIGINT) or SIGTERM.');
}

/** The start command: resolve the settings, start the service, serve until a signal. Returns the exit code. */
async function start(flags: CommandLineFlags): Promise<number> {
  let config: AppConfig;
  try {
    const loaded = loadConfig(flags, process.env);
    config = loaded.config;
    for (const warning of loaded.warnings) console.error(`warning: ${warning}`);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    console.error(`Run "${CLI_NAME} start --help" to see every setting.`);
    return error.exitCode;
  }
  const stopSignal = firstStopSignal();
  printBanner(config);
  if (config.logLevel === 'debug' || config.logLevel === 'trace') {
    console.log(['Settings:', ...describeConfig(config).map((line) => `  ${line}`)].join('\n'));
  }

  // Loaded here so --help and the simulator command do not pay for Nest's start-up.
  const { startService } = await import('./main');
  let service: RunningService;
  try {
    service = await startService(config);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Start-up errors should never carry a credential; scrubbed anyway, since this line is shown as is.
    console.error(`error: ${Redactor.fromConfig(config).redact(message)}`);
    // 3: another supervisor (or process) holds the HTTP port, the data dir or the container; nothing was touched.
    return error instanceof SupervisorConflictError ? error.exitCode : 1;
  }
  printUrls(service);
  await stopSignal;
  await service.close();
  return 0;
}

export function buildProgram(): Command {
  const program = new Command(CLI_NAME)
    .description('Runs IB Gateway in Docker, keeps it healthy, and serves it as REST + MCP.')
    .version(SERVICE_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError(`(run "${CLI_NAME} <command> --help" for the options)`)
    .exitOverride();

  const startCommand = program
    .command('start', { isDefault: true })
    .description(
      'Start the service (the default command). Without --username it runs against the built-in IB Gateway simulator.\n' +
        'Every flag is also an environment variable; flags win over environment variables, which win over the --config file, which wins over defaults.\n' +
        'Secrets come from files (--password-file, IBGS_PASSWORD_FILE) or environment variables (IBGS_PASSWORD).',
    )
    .helpOption('-h, --help', 'show every setting')
    .action(async (_options: unknown, command: Command) => {
      process.exitCode = await start(commandLineFlags(command));
    });
  startCommand.addOption(
    new Option(
      `${CONFIG_FILE_FLAG} <file>`,
      'a YAML or JSON file of settings, keyed by their names nested as in the config (ib: {username: ...}, watchdog: {probeSymbol: ...}); secrets only as files (ib: {passwordFile: ...}); flags and environment variables override it',
    ).env(CONFIG_FILE_ENV),
  );
  for (const option of settingOptions()) startCommand.addOption(option);

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

/** Edit distance of two short words (a typed command and a known one). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * A first word that is no command (start is the default and takes no arguments, so commander would say
 * "too many arguments for 'start'"): the message names the nearest command instead.
 */
export function unknownCommandMessage(program: Command, argv: readonly string[]): string | undefined {
  const [word] = argv;
  if (word === undefined || word.startsWith('-')) return undefined;
  const names = program.commands.map((command) => command.name());
  // commander's own help command ("help start") is not in the list
  if (names.includes(word) || word === 'help') return undefined;
  const [nearest] = names
    .map((name) => ({ name, away: distance(word, name) }))
    .filter((candidate) => candidate.away <= Math.max(2, Math.floor(candidate.name.length / 3)))
    .sort((a, b) => a.away - b.away);
  return (
    `error: unknown command '${word}'` +
    (nearest === undefined ? '' : `. Did you mean '${nearest.name}'?`) +
    `\n(the commands: ${names.join(', ')}; run "${CLI_NAME} --help")`
  );
}

/** Runs the CLI; usage errors exit 2, help 0. Exits explicitly: a closed service may leave idle handles. */
async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  const unknown = unknownCommandMessage(program, argv.slice(2));
  if (unknown !== undefined) {
    console.error(unknown);
    process.exit(2);
  }
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the message (or the help).
      process.exit(error.exitCode === 0 ? 0 : 2);
    }
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}

if (require.main === module) {
  void main(process.argv);
}
