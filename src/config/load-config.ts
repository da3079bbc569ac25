import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import {
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  fileKeyOf,
  readConfigFile,
  secretFilePath,
  type ConfigFileValues,
} from './config-file';
import { AppConfigSchema, CONFIG_DEFAULTS, type AppConfig } from './config.schema';
import { planGateways } from './gateway-plans';
import {
  SETTINGS,
  flagName,
  formatValue,
  setAtPath,
  settingLabel,
  valueAtPath,
  type Setting,
} from './settings';

/** Flags given on the command line, keyed by flag name ('--port'); switches are true, lists arrays. */
export type CommandLineFlags = Readonly<Record<string, string | boolean | readonly string[] | undefined>>;
export type Environment = Readonly<Record<string, string | undefined>>;

/** An invalid configuration: every problem found, each naming the flag and environment variable. */
export class ConfigError extends Error {
  /** The exit code of a usage error. */
  readonly exitCode = 2;

  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: AppConfig;
  /** Things a person should know but that do not stop the start (a secret passed as a flag). */
  warnings: string[];
}

/** A value found for a setting and where it came from ('--port', 'IBGS_PORT'). */
interface Found {
  value: unknown;
  source: string;
}

/**
 * Resolves every setting: command-line flags beat environment variables beat the configuration file
 * (--config / IBGS_CONFIG) beat CONFIG_DEFAULTS. Secrets come
 * from a file (flag or *_FILE variable) or a value. Throws a ConfigError listing every problem, never a
 * secret's value.
 */
export function loadConfig(flags: CommandLineFlags, env: Environment): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const input = structuredClone(CONFIG_DEFAULTS) as unknown as Record<string, unknown>;
  const sources = new Map<string, Found>();
  // Settings whose value could not even be read: the schema's follow-up complaints would only repeat them.
  const unusable = new Set<string>();

  const file = configFileOf(flags, env, problems);

  for (const setting of SETTINGS) {
    const problemsBefore = problems.length;
    const given = setting.secret
      ? findSecret(setting, flags, env, problems, warnings)
      : findValue(setting, flags, env, problems);
    const found = given ?? (problems.length > problemsBefore ? undefined : fromFile(setting, file, problems));
    if (problems.length > problemsBefore) unusable.add(setting.path);
    if (found === undefined) continue;
    sources.set(setting.path, found);
    setAtPath(input, setting.path, found.value);
  }

  if (file?.gateways !== undefined) input.gateways = file.gateways;

  const result = AppConfigSchema.safeParse(input, { error: readableMessage });
  if (result.success) problems.push(...planGateways(result.data).problems);
  if (result.success && problems.length === 0) return { config: result.data, warnings };
  for (const issue of result.error?.issues ?? []) {
    const path = issue.path.join('.');
    const setting = SETTINGS.find(
      (candidate) => path === candidate.path || path.startsWith(`${candidate.path}.`),
    );
    if (setting === undefined) {
      problems.push(`${path || 'configuration'}: ${issue.message}`);
      continue;
    }
    if (unusable.has(setting.path)) continue;
    const found = sources.get(setting.path);
    const origin =
      found === undefined ? '' : setting.secret ? ` (from ${found.source})` : ` (got ${show(found)})`;
    problems.push(`${settingLabel(setting)}: ${inFlagTerms(issue.message)}${origin}`);
  }
  throw new ConfigError(problems);
}

function configFileOf(flags: CommandLineFlags, env: Environment, problems: string[]) {
  const flag = flags[CONFIG_FILE_FLAG];
  const path = typeof flag === 'string' && flag !== '' ? flag : env[CONFIG_FILE_ENV];
  return path === undefined || path === '' ? undefined : readConfigFile(path, problems);
}

/** A setting the configuration file gave; a secret's file is read, relative to the configuration file. */
function fromFile(
  setting: Setting,
  file: ConfigFileValues | undefined,
  problems: string[],
): Found | undefined {
  if (file === undefined || !file.values.has(setting.path)) return undefined;
  const value = file.values.get(setting.path);
  if (!setting.secret) return { value, source: `${setting.path} in ${file.path}` };
  const named = (value as { file: unknown }).file;
  const source = `${fileKeyOf(setting)} in ${file.path}`;
  if (typeof named !== 'string' || named === '') {
    problems.push(`${settingLabel(setting)}: ${source} must be the path of a file`);
    return undefined;
  }
  return readSecretFile(setting, secretFilePath(named, file.path), source, problems);
}

/** The values of every secret setting that is set: for scrubbing them from any text shown or logged. */
export function secretValues(config: AppConfig): string[] {
  const secrets = SETTINGS.filter((setting) => setting.secret);
  return [config, ...config.gateways]
    .flatMap((source) => secrets.map((setting) => valueAtPath(source, setting.path)))
    .filter((value): value is string => typeof value === 'string' && value !== '');
}

/** One line per setting, secrets masked: for the start banner and debugging. */
export function describeConfig(config: AppConfig): string[] {
  const width = Math.max(...SETTINGS.map((setting) => setting.path.length));
  return SETTINGS.map((setting) => {
    const value = valueAtPath(config, setting.path);
    let shown: string;
    if (value === undefined) shown = '(not set)';
    else if (setting.secret) shown = '******** (set)';
    else if (Array.isArray(value) && value.length === 0) shown = '(none)';
    else shown = formatValue(value);
    return `${setting.path.padEnd(width)}  ${shown}`;
  });
}

function findValue(
  setting: Setting,
  flags: CommandLineFlags,
  env: Environment,
  problems: string[],
): Found | undefined {
  const name = flagName(setting.flag);
  const flag = flags[name];
  if (flag !== undefined && flag !== false) {
    if (flag === true) return { value: setting.switchValue ?? true, source: name };
    if (Array.isArray(flag)) return { value: flag, source: name };
    return convert(setting, flag as string, name, problems);
  }
  const fromEnv = env[setting.env];
  // An empty variable counts as unset (compose files often pass `VAR=${VAR}` through).
  if (fromEnv === undefined || fromEnv === '') return undefined;
  return convert(setting, fromEnv, setting.env, problems);
}

function convert(setting: Setting, raw: string, source: string, problems: string[]): Found | undefined {
  const fail = (rule: string): undefined => {
    problems.push(`${settingLabel(setting)}: ${rule} (got ${JSON.stringify(raw)} from ${source})`);
    return undefined;
  };
  switch (setting.type) {
    case 'string':
      // Checked here, not by the schema: zod skips the cross-field checks after a bad enum value.
      if (setting.choices !== undefined && !setting.choices.includes(raw)) {
        return fail(`must be one of ${setting.choices.join(', ')}`);
      }
      return { value: raw, source };
    case 'integer':
    case 'number': {
      const value = raw.trim() === '' ? Number.NaN : Number(raw);
      if (!Number.isFinite(value)) return fail('must be a number');
      // Checked here, not by the schema: zod skips the cross-field checks after a non-integer.
      if (setting.type === 'integer' && !Number.isInteger(value)) return fail('must be a whole number');
      return { value, source };
    }
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(raw.trim())) return { value: true, source };
      if (/^(false|0|no|off)$/i.test(raw.trim())) return { value: false, source };
      return fail('must be true or false');
    case 'list':
      return {
        value: raw
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== ''),
        source,
      };
  }
}

/**
 * A secret from (in order) the file flag or the value flag, then the *_FILE variable or the value variable.
 * Giving both forms at the same level is a problem: one of them would be silently ignored.
 */
function findSecret(
  setting: Setting,
  flags: CommandLineFlags,
  env: Environment,
  problems: string[],
  warnings: string[],
): Found | undefined {
  const secret = setting.secret;
  if (secret === undefined) return undefined;
  const fileFlag = flagName(setting.flag);
  const plainFlag = flagName(secret.plainFlag);
  const candidates: Array<{ file: string; plain: string; fileValue: unknown; plainValue: unknown }> = [
    { file: fileFlag, plain: plainFlag, fileValue: flags[fileFlag], plainValue: flags[plainFlag] },
    {
      file: setting.env,
      plain: secret.plainEnv,
      fileValue: env[setting.env],
      plainValue: env[secret.plainEnv],
    },
  ];
  for (const { file, plain, fileValue, plainValue } of candidates) {
    const hasFile = typeof fileValue === 'string' && fileValue !== '';
    const hasPlain = typeof plainValue === 'string' && plainValue !== '';
    if (hasFile && hasPlain) {
      problems.push(`${settingLabel(setting)}: give either ${file} or ${plain}, not both`);
      return undefined;
    }
    if (hasPlain) {
      if (plain === plainFlag) {
        warnings.push(
          `${plainFlag} puts a secret in the process arguments, which other processes on this machine can read (ps); ` +
            `use ${fileFlag} or ${setting.env} instead`,
        );
      }
      return { value: plainValue, source: plain };
    }
    if (hasFile) return readSecretFile(setting, fileValue, file, problems);
  }
  return undefined;
}

function readSecretFile(
  setting: Setting,
  path: string,
  source: string,
  problems: string[],
): Found | undefined {
  try {
    // Editors and `echo` end files with a newline that is not part of the secret.
    return { value: readFileSync(path, 'utf8').replace(/\r?\n$/, ''), source: `the file ${path}` };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    problems.push(`${settingLabel(setting)}: cannot read the file ${path} given by ${source} (${reason})`);
    return undefined;
  }
}

/** Schema messages may name other settings by path ('watchdog.backoffInitialSeconds'): say the flag. */
function inFlagTerms(message: string): string {
  return SETTINGS.filter((setting) => setting.path.includes('.')).reduce(
    (text, setting) => text.replaceAll(setting.path, flagName(setting.flag)),
    message,
  );
}

function show(found: Found): string {
  return `${JSON.stringify(found.value)} from ${found.source}`;
}

/** Zod's messages reworded for people who typed a flag, not for programmers. */
function readableMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'int') return 'must be a whole number';
      return `must be a ${issue.expected}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters`;
      return issue.inclusive === false
        ? `must be less than ${String(issue.maximum)}`
        : `must be at most ${String(issue.maximum)}`;
    case 'too_small':
      if (issue.origin === 'string') {
        return issue.minimum === 1
          ? 'must not be empty'
          : `must be at least ${String(issue.minimum)} characters`;
      }
      return issue.inclusive === false
        ? `must be greater than ${String(issue.minimum)}`
        : `must be at least ${String(issue.minimum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return undefined;
  }
}
