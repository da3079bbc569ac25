import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { addressOf, AppConfigSchema, CONFIG_DEFAULTS, gatewayKind } from '../../../src/config/config.schema';
import {
  ConfigError,
  describeConfig,
  loadConfig,
  secretValues,
  type CommandLineFlags,
  type Environment,
} from '../../../src/config/load-config';
import { SETTINGS, flagName, settingDefault, valueAtPath } from '../../../src/config/settings';
import { dataGatewayName, gatewayPlans } from '../../../src/config/gateway-plans';

const directory = mkdtempSync(join(tmpdir(), 'ibgs-config-'));
let files = 0;
function secretFile(content: string): string {
  const path = join(directory, `secret-${files++}`);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** The problems a ConfigError lists; fails the test when loading succeeds. */
function problemsOf(flags: CommandLineFlags, env: Environment = {}): readonly string[] {
  try {
    loadConfig(flags, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the configuration to be rejected');
}

function schemaLeafPaths(shape: Record<string, z.ZodType>, prefix = ''): string[] {
  return Object.entries(shape).flatMap(([key, schema]) =>
    schema instanceof z.ZodObject
      ? schemaLeafPaths(schema.shape as Record<string, z.ZodType>, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

describe('the settings table', () => {
  it('has exactly one row per field of AppConfigSchema, with unique flags and environment variables', () => {
    const paths = SETTINGS.map((setting) => setting.path);
    // The gateways list is a configuration file's alone: no flag can describe a list of gateways.
    const leaves = schemaLeafPaths(AppConfigSchema.shape).filter((path) => path !== 'gateways');
    expect([...paths].sort()).toEqual(leaves.sort());
    const flags = SETTINGS.flatMap((setting) => [setting.flag, setting.secret?.plainFlag]).filter(Boolean);
    const envs = SETTINGS.flatMap((setting) => [setting.env, setting.secret?.plainEnv]).filter(Boolean);
    expect(new Set(flags.map((flag) => flagName(flag ?? ''))).size).toBe(flags.length);
    expect(new Set(envs).size).toBe(envs.length);
    for (const env of envs) expect(env).toMatch(/^IBGS_[A-Z0-9_]+$/);
  });

  it('gives secrets no default', () => {
    for (const setting of SETTINGS.filter((row) => row.secret))
      expect(settingDefault(setting)).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('uses CONFIG_DEFAULTS when nothing is given: the simulator, paper, loopback', () => {
    const { config, warnings } = loadConfig({}, {});
    expect(config).toEqual(AppConfigSchema.parse(CONFIG_DEFAULTS));
    expect(warnings).toEqual([]);
    for (const setting of SETTINGS)
      expect(valueAtPath(config, setting.path)).toEqual(settingDefault(setting));
  });

  it('lets an environment variable beat the default and a flag beat the environment variable', () => {
    const env = { IBGS_PORT: '9100', IBGS_HOST: 'localhost', IBGS_STALE_AFTER: '12.5' };
    expect(loadConfig({}, env).config).toMatchObject({
      port: 9100,
      host: 'localhost',
      watchdog: { staleAfterSeconds: 12.5 },
    });
    expect(loadConfig({ '--port': '9200' }, env).config).toMatchObject({ port: 9200, host: 'localhost' });
  });

  it('reads switches, booleans, enums and lists from flags and environment variables', () => {
    const fromEnv = loadConfig(
      {},
      {
        IBGS_TRADING_MODE: 'live',
        IBGS_KEEP_GATEWAY: 'yes',
        IBGS_READ_ONLY: 'false',
        IBGS_CORS_ORIGINS: 'https://a.example, https://b.example',
      },
    ).config;
    expect(fromEnv.ib.tradingMode).toBe('live');
    expect(fromEnv.gateway.keepRunning).toBe(true);
    expect(fromEnv.orders.readOnly).toBe(false);
    expect(fromEnv.security.corsOrigins).toEqual(['https://a.example', 'https://b.example']);

    const fromFlags = loadConfig(
      { '--live': true, '--read-only': true, '--cors-origin': ['https://c.example'] },
      { IBGS_TRADING_MODE: 'paper', IBGS_READ_ONLY: 'false', IBGS_CORS_ORIGINS: 'https://a.example' },
    ).config;
    expect(fromFlags.ib.tradingMode).toBe('live');
    expect(fromFlags.orders.readOnly).toBe(true);
    expect(fromFlags.security.corsOrigins).toEqual(['https://c.example']);
  });

  it('attaches to a gateway at an address: the address kind, without credentials', () => {
    const { config } = loadConfig({ '--gateway-address': '127.0.0.1:7497' }, {});
    expect(config.gateway.address).toBe('127.0.0.1:7497');
    expect(gatewayKind(config)).toBe('address');
    expect(addressOf('[::1]:4002')).toEqual({ host: '::1', port: 4002 });
    expect(gatewayKind(loadConfig({}, {}).config)).toBe('simulator');
    expect(problemsOf({ '--gateway-address': 'localhost' })).toEqual([
      expect.stringMatching(/--gateway-address.*must be host:port/),
    ]);
    const both = problemsOf(
      { '--gateway-address': 'tws.lan:7496', '--username': 'trader' },
      { IBGS_PASSWORD: 'secret-pw' },
    );
    expect(both).toEqual([expect.stringMatching(/credentials are not used with --gateway-address/)]);
  });

  it('reads a YAML or JSON --config file; environment variables and flags override it', () => {
    const folder = mkdtempSync(join(directory, 'config-'));
    writeFileSync(join(folder, 'ib-password'), 'pw-from-file\n', { mode: 0o600 });
    const yamlFile = join(folder, 'supervisor.yaml');
    writeFileSync(
      yamlFile,
      [
        'port: 8100',
        'logLevel: warn',
        'ib:',
        '  username: trader',
        '  passwordFile: ib-password # relative to this file',
        '  clientId: 4242',
        'watchdog: { probeSymbol: AAPL, staleAfterSeconds: 12 }',
        'security:',
        '  corsOrigins: [https://a.example, https://b.example]',
      ].join('\n'),
    );
    const fromFile = loadConfig({ '--config': yamlFile }, {}).config;
    expect(fromFile).toMatchObject({
      port: 8100,
      logLevel: 'warn',
      ib: { username: 'trader', password: 'pw-from-file', clientId: 4242, tradingMode: 'paper' },
      watchdog: { probeSymbol: 'AAPL', staleAfterSeconds: 12 },
      security: { corsOrigins: ['https://a.example', 'https://b.example'] },
    });
    const overridden = loadConfig(
      { '--port': '8200' },
      { IBGS_CONFIG: yamlFile, IBGS_PORT: '8300', IBGS_CLIENT_ID: '77' },
    ).config;
    expect([overridden.port, overridden.ib.clientId, overridden.watchdog.probeSymbol]).toEqual([
      8200,
      77,
      'AAPL',
    ]);

    const jsonFile = join(folder, 'supervisor.json');
    writeFileSync(
      jsonFile,
      JSON.stringify({ gateway: { address: '127.0.0.1:7497' }, orders: { readOnly: true } }),
    );
    expect(loadConfig({ '--config': jsonFile }, {}).config).toMatchObject({
      gateway: { address: '127.0.0.1:7497' },
      orders: { readOnly: true },
    });
  });

  it('lists every problem of a --config file: unknown keys, secrets written in it, bad values, bad files', () => {
    const folder = mkdtempSync(join(directory, 'config-'));
    const file = join(folder, 'bad.yaml');
    writeFileSync(
      file,
      [
        'prot: 8000',
        'ib: { password: hunter2-hunter2, tradingMode: demo }',
        'watchdog: { probeSymbol: 5 }',
      ].join('\n'),
    );
    const problems = problemsOf({ '--config': file });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/prot is not a setting/),
        expect.stringMatching(/ib\.password is a secret .* name that file as ib\.passwordFile/),
        expect.stringMatching(/--live.*must be one of paper, live.*ib\.tradingMode in/),
        expect.stringMatching(/--probe-symbol.*must be a string/),
      ]),
    );
    expect(problems.join('\n')).not.toContain('hunter2-hunter2');
    writeFileSync(file, 'port: [unclosed');
    expect(problemsOf({ '--config': file })).toEqual([expect.stringMatching(/not valid YAML or JSON/)]);
    writeFileSync(file, '- a list');
    expect(problemsOf({ '--config': file })).toEqual([expect.stringMatching(/must be a mapping/)]);
    expect(problemsOf({ '--config': join(folder, 'missing.yaml') })).toEqual([
      expect.stringMatching(/cannot read the file \(ENOENT\)/),
    ]);
  });

  it('reads a gateways list: each entry over the top-level settings, secrets from files, its own folder and container', () => {
    const folder = mkdtempSync(join(directory, 'config-'));
    writeFileSync(join(folder, 'paper-password'), 'paper-pw-secret\n', { mode: 0o600 });
    writeFileSync(join(folder, 'live-password'), 'live-pw-secret\n', { mode: 0o600 });
    const file = join(folder, 'two.yaml');
    writeFileSync(
      file,
      [
        'watchdog: { probeSymbol: AAPL }',
        'orders: { maxQuantity: 10 }',
        'dataGateway: live',
        'gateways:',
        '  - name: paper',
        '    ib: { username: paper-user, passwordFile: paper-password }',
        '  - name: live',
        '    required: false',
        '    ib: { username: live-user, passwordFile: live-password, tradingMode: live, clientId: 9 }',
        '    gateway: { apiPort: 4101 }',
        '    orders: { accounts: [U1234568] }',
        '  - name: desk',
        '    gateway: { address: "127.0.0.1:7497" }',
        '    watchdog: { probeSymbol: EUR.USD }',
      ].join('\n'),
    );
    const { config } = loadConfig({ '--config': file, '--data-dir': join(folder, 'data') }, {});
    const plans = gatewayPlans(config);
    expect(plans.map((plan) => [plan.name, plan.required, gatewayKind(plan.config)])).toEqual([
      ['paper', true, 'container'],
      ['live', false, 'container'],
      ['desk', true, 'address'],
    ]);
    const [paper, live, desk] = plans.map((plan) => plan.config);
    expect(paper).toMatchObject({
      ib: { username: 'paper-user', password: 'paper-pw-secret', tradingMode: 'paper', clientId: 1707 },
      gateway: {
        name: 'paper',
        containerName: 'ib-gateway-supervisor-gateway-paper',
        apiPort: 0,
        vncPort: 0,
      },
      watchdog: { probeSymbol: 'AAPL' },
      orders: { maxQuantity: 10, accounts: [] },
      dataDir: join(folder, 'data', 'gateways', 'paper'),
      gateways: [],
    });
    expect(live).toMatchObject({
      ib: { username: 'live-user', password: 'live-pw-secret', tradingMode: 'live', clientId: 9 },
      gateway: { name: 'live', apiPort: 4101 },
      orders: { maxQuantity: 10, accounts: ['U1234568'] },
    });
    expect(desk).toMatchObject({
      gateway: { address: '127.0.0.1:7497' },
      watchdog: { probeSymbol: 'EUR.USD' },
    });
    expect(dataGatewayName(config, plans)).toBe('live');
    // Every listed secret is scrubbed, and the user names with them.
    expect(secretValues(config).sort()).toEqual(['live-pw-secret', 'paper-pw-secret']);
  });

  it('lists every problem of a gateways list at once', () => {
    const folder = mkdtempSync(join(directory, 'config-'));
    const file = join(folder, 'bad-list.yaml');
    writeFileSync(
      file,
      [
        'gateways:',
        '  - name: paper',
        '    ib: { password: written-here-secret, clientId: -1 }',
        '  - name: paper',
        '    port: 9000',
        '    gateway: { image: 5 }',
        '  - name: "bad name"',
        '    ib: { passwordFile: missing-file }',
      ].join('\n'),
    );
    const problems = problemsOf({ '--config': file });
    expect(problems).toEqual([
      expect.stringMatching(
        /gateways\[0\]: ib\.password is a secret; name the file holding it as ib\.passwordFile/,
      ),
      expect.stringMatching(/gateways\[1\]: port is shared by every gateway; set it at the top of the file/),
      expect.stringMatching(
        /gateways\[2\]: ib\.passwordFile: cannot read the file .*missing-file \(ENOENT\)/,
      ),
      'gateways.0.ib.clientId: must be at least 0',
      'gateways.1.gateway.image: must be a string',
      expect.stringMatching(/^gateways\.2\.name: must be 1 to 32 letters/),
    ]);
    expect(problems.join('\n')).not.toContain('written-here-secret');
    writeFileSync(file, 'gateways: { name: paper }');
    expect(problemsOf({ '--config': file })).toEqual([expect.stringMatching(/gateways must be a list/)]);
  });

  it('checks the list as a whole: unique names, a data gateway that exists, no single-gateway settings beside it', () => {
    const folder = mkdtempSync(join(directory, 'config-'));
    const file = join(folder, 'list.yaml');
    writeFileSync(
      file,
      ['dataGateway: nowhere', 'gateways:', '  - name: paper', '  - name: paper'].join('\n'),
    );
    const problems = problemsOf(
      { '--config': file, '--gateway-address': '127.0.0.1:7497' },
      { IBGS_USERNAME: 'shared', IBGS_PASSWORD: 'shared-password' },
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'gateways.1.name: paper is named twice',
        expect.stringMatching(/--data-gateway.*names no gateway of the list \(paper, paper\)/),
        expect.stringMatching(/--username.*describes one gateway: with a gateways list/),
        expect.stringMatching(/--gateway-address.*describes one gateway/),
      ]),
    );
  });

  it('reports a listed gateway whose merged settings are invalid, naming the gateway', () => {
    const folder = mkdtempSync(join(directory, 'config-'));
    const file = join(folder, 'merged.yaml');
    writeFileSync(file, ['gateways:', '  - name: half', '    ib: { username: only-a-user }'].join('\n'));
    expect(problemsOf({ '--config': file })).toEqual([
      expect.stringMatching(/gateways\[0\] \(half\): ib\.password: a password is required/),
    ]);
  });

  it('treats an empty environment variable as unset', () => {
    expect(loadConfig({}, { IBGS_USERNAME: '', IBGS_PORT: '' }).config).toMatchObject({ port: 8000 });
  });

  it('lists every problem at once, each naming the flag and the environment variable', () => {
    const problems = problemsOf(
      {
        '--port': '70000',
        '--log-level': 'loud',
        '--java-heap-mb': '12.5',
        '--backoff-initial': '10',
        '--backoff-max': '5',
        '--host': '0.0.0.0',
        '--container-name': '-bad',
      },
      { IBGS_STALE_AFTER: 'soon', IBGS_KEEP_GATEWAY: 'maybe', IBGS_USERNAME: 'trader1' },
    );
    const expected: Array<[string, RegExp]> = [
      ['--port / IBGS_PORT', /must be at most 65535 \(got 70000 from --port\)/],
      ['--log-level / IBGS_LOG_LEVEL', /must be one of fatal, error, warn, info, debug, trace, silent/],
      ['--java-heap-mb / IBGS_JAVA_HEAP_MB', /must be a whole number/],
      ['--backoff-max / IBGS_BACKOFF_MAX', /must not be less than --backoff-initial/],
      ['--api-token-file / IBGS_API_TOKEN_FILE', /non-loopback address 0\.0\.0\.0/],
      ['--container-name / IBGS_CONTAINER_NAME', /must be a valid container name/],
      ['--stale-after / IBGS_STALE_AFTER', /must be a number \(got "soon" from IBGS_STALE_AFTER\)/],
      ['--keep-gateway / IBGS_KEEP_GATEWAY', /must be true or false/],
      ['--password-file / IBGS_PASSWORD_FILE', /a password is required with a username/],
    ];
    for (const [label, rule] of expected) {
      const problem = problems.find((line) => line.startsWith(`${label}: `));
      expect(problem).toMatch(rule);
    }
    expect(problems).toHaveLength(expected.length);
  });

  it('reads secrets from a file flag, a *_FILE variable or a variable, trimming the trailing newline', () => {
    const fromFileFlag = loadConfig(
      { '--username': 'trader1', '--password-file': secretFile('pass word 1\n') },
      { IBGS_PASSWORD: 'ignored-because-the-flag-wins' },
    );
    expect(fromFileFlag.config.ib.password).toBe('pass word 1');
    expect(fromFileFlag.warnings).toEqual([]);

    const fromFileEnv = loadConfig(
      {},
      {
        IBGS_USERNAME: 'trader1',
        IBGS_PASSWORD_FILE: secretFile('pass-from-file\r\n'),
        IBGS_VNC_PASSWORD_FILE: secretFile('vnc-pass'),
        IBGS_API_TOKEN_FILE: secretFile('a-token-of-32-characters-length!\n'),
      },
    ).config;
    expect(fromFileEnv.ib.password).toBe('pass-from-file');
    expect(fromFileEnv.gateway.vncPassword).toBe('vnc-pass');
    expect(fromFileEnv.security.apiToken).toBe('a-token-of-32-characters-length!');

    const fromEnv = loadConfig({}, { IBGS_READ_ONLY_TOKEN: 'read-only-token-123456' });
    expect(fromEnv.config.security.readOnlyToken).toBe('read-only-token-123456');
    expect(fromEnv.warnings).toEqual([]);
  });

  it('warns, without the value, when a secret is passed as a flag', () => {
    const { config, warnings } = loadConfig({ '--username': 'trader1', '--password': 'hunter2-secret' }, {});
    expect(config.ib.password).toBe('hunter2-secret');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/--password puts a secret in the process arguments.*--password-file/);
    expect(warnings[0]).not.toContain('hunter2-secret');

    const token = loadConfig({ '--api-token': 'token-on-the-command-line' }, {}).warnings;
    expect(token[0]).toMatch(/^--api-token .*--api-token-file or IBGS_API_TOKEN_FILE/);
  });

  it('names an unreadable secret file by its path, and never echoes a secret in a problem', () => {
    const missing = join(directory, 'does-not-exist');
    const unreadable = mkdtempSync(join(directory, 'a-directory-'));
    const problems = problemsOf(
      { '--username': 'trader1', '--password-file': missing, '--api-token': 'short-token' },
      { IBGS_VNC_PASSWORD_FILE: unreadable, IBGS_READ_ONLY_TOKEN: 'tiny' },
    );
    expect(problems).toContain(
      `--password-file / IBGS_PASSWORD_FILE: cannot read the file ${missing} given by --password-file (ENOENT)`,
    );
    expect(problems).toContain(
      `--vnc-password-file / IBGS_VNC_PASSWORD_FILE: cannot read the file ${unreadable} given by IBGS_VNC_PASSWORD_FILE (EISDIR)`,
    );
    expect(problems).toContain(
      '--api-token-file / IBGS_API_TOKEN_FILE: must be at least 16 characters (from --api-token)',
    );
    expect(problems).toContain(
      '--read-only-token-file / IBGS_READ_ONLY_TOKEN_FILE: must be at least 16 characters (from IBGS_READ_ONLY_TOKEN)',
    );
    const all = problems.join('\n');
    for (const secret of ['short-token', 'tiny']) expect(all).not.toContain(secret);
  });

  it('refuses a secret given both as a file and as a value at the same level', () => {
    const problems = problemsOf(
      { '--username': 'trader1', '--password': 'value-one', '--password-file': secretFile('value-two') },
      { IBGS_API_TOKEN: 'token-value-0123456789', IBGS_API_TOKEN_FILE: secretFile('token-file-0123456789') },
    );
    expect(problems).toEqual([
      '--password-file / IBGS_PASSWORD_FILE: give either --password-file or --password, not both',
      '--api-token-file / IBGS_API_TOKEN_FILE: give either IBGS_API_TOKEN_FILE or IBGS_API_TOKEN, not both',
    ]);
  });
});

describe('describeConfig', () => {
  it('shows every setting, with every secret masked', () => {
    const secrets = {
      password: 'ib-password-value',
      vnc: 'vnc-password-value',
      api: 'api-token-value-0123456789',
      readOnly: 'read-only-token-value-0123456789',
    };
    const { config } = loadConfig(
      {
        '--username': 'trader1',
        '--port': '8123',
        '--password-file': secretFile(secrets.password),
        '--vnc-password': secrets.vnc,
      },
      { IBGS_API_TOKEN: secrets.api, IBGS_READ_ONLY_TOKEN_FILE: secretFile(secrets.readOnly) },
    );
    const lines = describeConfig(config);
    expect(lines).toHaveLength(SETTINGS.length);
    const text = lines.join('\n');
    for (const secret of Object.values(secrets)) expect(text).not.toContain(secret);
    for (const path of [
      'ib.password',
      'gateway.vncPassword',
      'security.apiToken',
      'security.readOnlyToken',
    ]) {
      expect(lines.find((line) => line.startsWith(`${path} `))).toMatch(/\*{8} \(set\)$/);
    }
    expect(lines.find((line) => line.startsWith('port '))).toMatch(/ 8123$/);
    expect(lines.find((line) => line.startsWith('ib.username '))).toMatch(/ trader1$/);
    expect(lines.find((line) => line.startsWith('orders.maxQuantity '))).toMatch(/\(not set\)$/);
    expect(secretValues(config).sort()).toEqual(Object.values(secrets).sort());
  });
});
