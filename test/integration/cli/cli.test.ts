import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_FILE_FLAG } from '../../../src/config/config-file';
import { SERVICE_VERSION } from '../../../src/config/config.tokens';
import { SETTINGS, flagName, formatDefault } from '../../../src/config/settings';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The built CLI as a child process, with its output collected. */
class CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout = '';
  stderr = '';

  constructor(args: string[], env: Record<string, string> = {}) {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('IBGS_')),
    );
    // Runs without --data-dir keep their state in a scratch state home, not the user's.
    const state = { XDG_STATE_HOME: join(directory, 'state') };
    this.child = spawn(process.execPath, [CLI, ...args], {
      env: { ...inherited, ...state, ...env },
      cwd: ROOT,
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Waits until stdout matches, failing if the process exits first. */
  async waitForStdout(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let running = true;
    void this.exited.then(() => (running = false));
    while (Date.now() < deadline) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      if (!running) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`stdout never matched ${String(pattern)}; output so far:\n${this.output}`);
  }

  /** The process's own argument list as the kernel shows it to every other process (ps). */
  commandLine(): string {
    return readFileSync(`/proc/${this.child.pid}/cmdline`, 'utf8').split('\0').join(' ');
  }

  async stop(): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }
}

async function runToEnd(
  args: string[],
  env: Record<string, string> = {},
): Promise<CliProcess & { exit: Exit }> {
  const cli = new CliProcess(args, env);
  const exit = await cli.exited;
  return Object.assign(cli, { exit });
}

const directory = mkdtempSync(join(tmpdir(), 'ibgs-cli-'));
/** Gateway mode with test credentials must never reach a real Docker daemon (or IB's login servers). */
const NO_DOCKER = { DOCKER_HOST: `unix://${join(directory, 'no-docker.sock')}` };
const running: CliProcess[] = [];
function start(args: string[], env: Record<string, string> = {}): CliProcess {
  const cli = new CliProcess(args, env);
  running.push(cli);
  return cli;
}

beforeAll(() => {
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' });
  } catch (error) {
    const { stdout, stderr } = error as { stdout: Buffer; stderr: Buffer };
    throw new Error(`npm run build failed:\n${stdout.toString()}${stderr.toString()}`, { cause: error });
  }
}, 120_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map(async (cli) => cli.stop()));
});

describe('ib-gateway-supervisor (the built CLI)', () => {
  it('start --help lists every setting with its flag, environment variable and default, never a secret', async () => {
    const secrets = { IBGS_PASSWORD: 'help-must-not-show-this', IBGS_API_TOKEN: 'nor-this-token-0123456789' };
    const help = await runToEnd(['start', '--help'], secrets);
    expect(help.exit.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const setting of SETTINGS) {
      expect(text).toContain(`${setting.flag} `);
      expect(text).toContain(`env: ${setting.env})`);
      if (setting.secret) {
        expect(text).toContain(`${setting.secret.plainFlag} `);
        expect(text).toContain(`env: ${setting.secret.plainEnv})`);
      }
      const shown = formatDefault(setting);
      if (shown !== undefined && setting.switchValue === undefined)
        expect(text).toContain(`default: ${shown},`);
    }
    for (const secret of Object.values(secrets)) expect(help.output).not.toContain(secret);
  });

  it('rejects invalid settings with exit code 2, listing every problem by flag and environment variable', async () => {
    const result = await runToEnd(
      ['start', '--port', '70000', '--log-level', 'loud', '--username', 'trader1'],
      {
        IBGS_STALE_AFTER: 'soon',
      },
    );
    expect(result.exit.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--port / IBGS_PORT: must be at most 65535');
    expect(result.stderr).toContain('--log-level / IBGS_LOG_LEVEL: must be one of');
    expect(result.stderr).toContain('--stale-after / IBGS_STALE_AFTER: must be a number');
    expect(result.stderr).toContain(
      '--password-file / IBGS_PASSWORD_FILE: a password is required with a username',
    );
  });

  it('prints its version with --version, and names the nearest command for a typo (exit code 2)', async () => {
    const version = await runToEnd(['--version']);
    expect(version.exit.code).toBe(0);
    expect(version.stdout.trim()).toBe(SERVICE_VERSION);
    const typo = await runToEnd(['strat']);
    expect(typo.exit.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'strat'. Did you mean 'start'?");
    expect(typo.stderr).not.toContain('too many arguments');
    const unknown = await runToEnd(['deploy']);
    expect(unknown.exit.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'deploy'");
    expect(unknown.stderr).not.toContain('Did you mean');
  });

  it('rejects an unknown flag with exit code 2', async () => {
    const result = await runToEnd(['start', '--no-such-flag']);
    expect(result.exit.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
  });

  it('without credentials runs the simulator by default, prints URLs that answer, and exits 0 on SIGTERM', async () => {
    const cli = start(['--port', '0', '--log-level', 'warn', '--data-dir', join(directory, 'data')]);
    await cli.waitForStdout(/Stop with Ctrl\+C/);
    expect(cli.stdout).toMatch(/built-in IB Gateway simulator/);
    expect(cli.stdout).toMatch(/no IB account, a simulated market and broker, paper trading only/);

    const url = (label: string): string => {
      const match = cli.stdout.match(new RegExp(`${label.replace(/[+()]/g, '\\$&')}\\s+(http://\\S+)`));
      expect(match?.[1]).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\//);
      return match?.[1] ?? '';
    };
    const docs = url('REST API + Swagger UI');
    expect(docs).toMatch(/\/docs$/);
    expect((await fetch(docs)).headers.get('content-type')).toMatch(/text\/html/);
    for (const label of ['Health', 'Prometheus metrics']) expect((await fetch(url(label))).status).toBe(200);

    const openApi = url('OpenAPI JSON');
    expect(openApi).toMatch(/\/docs-json$/);
    const document = (await (await fetch(openApi)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    expect(document.openapi).toMatch(/^3\./);
    const operationIds = Object.values(document.paths).flatMap((methods) =>
      Object.values(methods).map((operation) => operation.operationId),
    );
    expect(operationIds.length).toBeGreaterThan(0);

    const mcp = new Client({ name: 'ibgs-cli-test', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(url('MCP (streamable HTTP)'))));
    try {
      // Every MCP tool is one of the REST operations (a few REST routes, e.g. /health, are not tools).
      const { tools } = await mcp.listTools();
      expect(tools.length).toBeGreaterThan(0);
      expect(operationIds).toEqual(expect.arrayContaining(tools.map((tool) => tool.name)));
    } finally {
      await mcp.close();
    }

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout).toContain('SIGTERM: stopping');
  });

  it('keeps a password given by IBGS_PASSWORD_FILE out of its arguments and its output', async () => {
    const password = 'pw-from-a-file-7d1f';
    const passwordFile = join(directory, 'ib-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const cli = start(['start', '--username', 'trader1', '--log-level', 'debug', '--port', '0'], {
      ...NO_DOCKER,
      IBGS_PASSWORD_FILE: passwordFile,
      IBGS_DATA_DIR: join(directory, 'data'),
    });
    // spawn() returns after exec, so this is the live process's argument list.
    const commandLine = cli.commandLine();
    expect(commandLine).toContain('dist/cli.js start --username trader1');
    expect(commandLine).not.toContain(password);

    await cli.waitForStdout(/ib\.password\s+\*{8} \(set\)/);
    expect(cli.stdout).toMatch(/supervising IB Gateway .* for IB user trader1, paper trading/);
    // Without a Docker daemon the start fails, with one clean error line (and the secret nowhere).
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toMatch(/^error: \S.*$/m);
    expect(cli.output).not.toContain(password);
  });

  it('accepts --password but warns that other processes can read it, without printing it', async () => {
    const password = 'pw-on-the-command-line-91c2';
    const cli = start(['start', '--username', 'trader1', '--password', password, '--log-level', 'debug'], {
      ...NO_DOCKER,
      IBGS_DATA_DIR: join(directory, 'data'),
    });
    await cli.waitForStdout(/ib\.password\s+\*{8} \(set\)/);
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toMatch(
      /warning: --password puts a secret in the process arguments, which other processes on this machine can read \(ps\); use --password-file or IBGS_PASSWORD_FILE instead/,
    );
    expect(cli.output).not.toContain(password);
  });

  it('shuts down cleanly on a signal during start-up, and exits at once on a second one', async () => {
    const once = start(['--port', '0', '--log-level', 'silent', '--data-dir', join(directory, 'data')]);
    await once.waitForStdout(/built-in IB Gateway simulator/);
    once.child.kill('SIGINT');
    expect(await once.exited).toEqual({ code: 0, signal: null });
    expect(once.stdout).toContain('SIGINT: stopping');

    const twice = start(['--port', '0', '--log-level', 'silent', '--data-dir', join(directory, 'data')]);
    await twice.waitForStdout(/built-in IB Gateway simulator/);
    // Two signals back to back (of two kinds: pending signals of one kind merge): the first starts the clean
    // shutdown, the second must end the process at once, whichever the kernel delivers first.
    twice.child.kill('SIGTERM');
    twice.child.kill('SIGINT');
    const exited = await twice.exited;
    expect(exited.signal).toBeNull();
    expect([128 + 2, 128 + 15]).toContain(exited.code);
    expect(twice.stderr).toMatch(/(SIGINT|SIGTERM) again: exiting without a clean shutdown/);
  });

  it('names each setting once in --help (no flag is missing from the table), and --config', async () => {
    const help = await runToEnd(['start', '--help']);
    const listed = [...help.stdout.matchAll(/^\s{2}(--[a-z0-9-]+)/gm)].map((match) => match[1]);
    const fromTable = SETTINGS.flatMap((setting) => [setting.flag, setting.secret?.plainFlag])
      .filter((flag): flag is string => flag !== undefined)
      .map(flagName);
    expect(listed.sort()).toEqual([CONFIG_FILE_FLAG, ...fromTable].sort());
  });

  it('starts from a --config file, and refuses a bad one with every problem and exit code 2', async () => {
    const file = join(directory, 'supervisor.yaml');
    writeFileSync(file, `port: 0\nlogLevel: silent\ndataDir: ${join(directory, 'config-data')}\n`);
    const started = start(['--config', file]);
    await started.waitForStdout(/Ready \(simulator mode\)/);
    started.child.kill('SIGTERM');
    expect((await started.exited).code).toBe(0);

    writeFileSync(file, 'port: 0\nib: { password: not-here-please }\nwatchdg: { probeSymbol: AAPL }\n');
    const refused = await runToEnd(['start', '--config', file]);
    expect(refused.exit.code).toBe(2);
    expect(refused.stderr).toMatch(/ib\.password is a secret/);
    expect(refused.stderr).toMatch(/watchdg.probeSymbol is not a setting/);
    expect(refused.stderr).not.toContain('not-here-please');
  });

  it('starts several gateways from a --config gateways list, naming each in its banner and its URLs', async () => {
    const file = join(directory, 'two-gateways.yaml');
    writeFileSync(
      file,
      [
        'port: 0',
        'logLevel: warn',
        `dataDir: ${join(directory, 'two-data')}`,
        'dataGateway: second',
        'gateways:',
        '  - name: first',
        '  - name: second',
        '    required: false',
        '    ib: { tradingMode: live }',
      ].join('\n'),
    );
    const started = start(['--config', file]);
    const [, base = ''] = await started.waitForStdout(/REST API \+ Swagger UI\s+(http:\/\/\S+)\/docs/);
    expect(started.output).toContain('supervising 2 gateways; orders and account reads go by account');
    expect(started.output).toMatch(/ {2}first: the built-in simulator, paper trading\n/);
    expect(started.output).toMatch(
      / {2}second: the built-in simulator, LIVE trading \(not required for readiness, market data\)/,
    );
    const list = (await (await fetch(`${base}/gateway/list`)).json()) as {
      gateways: Array<{ name: string }>;
    };
    expect(list.gateways.map((gateway) => gateway.name)).toEqual(['first', 'second']);
    started.child.kill('SIGTERM');
    expect((await started.exited).code).toBe(0);
  });
});
