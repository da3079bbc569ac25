import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { SETTINGS, setAtPath, type Setting } from './settings';

/** Where the configuration file is named: the flag, else the environment variable. */
export const CONFIG_FILE_FLAG = '--config';
export const CONFIG_FILE_ENV = 'IBGS_CONFIG';

/**
 * A secret never sits in the configuration file itself: the file names the file that holds it, under the
 * setting's name plus "File" (ib.passwordFile, gateway.vncPasswordFile, security.apiTokenFile, ...).
 */
export function fileKeyOf(setting: Setting): string {
  return `${setting.path}File`;
}

/** The settings a configuration file gave, by setting path; secrets as the path of the file holding them. */
export interface ConfigFileValues {
  path: string;
  values: Map<string, unknown>;
  /** The `gateways:` list, each entry nested as the schema has it, its secrets read from their files. */
  gateways?: Array<Record<string, unknown>>;
}

/** The sections a gateway of the list may give values of its own for. */
const PER_GATEWAY_SECTIONS = ['ib.', 'gateway.', 'watchdog.', 'orders.'];

/** A secret's file as the configuration file names it: relative to the configuration file, `~/` expanded. */
export function secretFilePath(named: string, configPath: string): string {
  const expanded = named.startsWith('~/') ? join(homedir(), named.slice(2)) : named;
  return resolve(dirname(configPath), expanded);
}

/**
 * Reads a YAML (or JSON: YAML's subset) configuration file whose keys are the settings' paths, nested
 * (`ib: {username: ..., clientId: 1707}`, `watchdog: {probeSymbol: AAPL}`). Every problem goes to `problems`:
 * an unreadable or unparsable file, a key that is no setting (a typo must not be silently ignored), a secret
 * written into the file.
 */
export function readConfigFile(path: string, problems: string[]): ConfigFileValues | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    problems.push(`${CONFIG_FILE_FLAG} ${path}: cannot read the file (${reason})`);
    return undefined;
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    problems.push(`${CONFIG_FILE_FLAG} ${path}: not valid YAML or JSON (${(error as Error).message})`);
    return undefined;
  }
  if (document === null || document === undefined) return { path, values: new Map() };
  if (typeof document !== 'object' || Array.isArray(document)) {
    problems.push(`${CONFIG_FILE_FLAG} ${path}: must be a mapping of settings (e.g. "port: 8000")`);
    return undefined;
  }
  const { gateways, ...settings } = document as Record<string, unknown>;
  const values = new Map<string, unknown>();
  for (const [key, value] of leaves(settings)) {
    const setting = SETTINGS.find((candidate) => candidate.path === key);
    const secretFor = SETTINGS.find((candidate) => candidate.secret && fileKeyOf(candidate) === key);
    if (setting?.secret) {
      problems.push(
        `${CONFIG_FILE_FLAG} ${path}: ${key} is a secret and does not belong in a configuration file; put it in a file of its own and name that file as ${fileKeyOf(setting)}`,
      );
    } else if (setting) values.set(key, value);
    else if (secretFor) values.set(secretFor.path, { file: value });
    else problems.push(`${CONFIG_FILE_FLAG} ${path}: ${key} is not a setting (see --help for every setting)`);
  }
  if (gateways === undefined) return { path, values };
  return { path, values, gateways: gatewayEntries(gateways, path, problems) };
}

/**
 * The `gateways:` list: each entry a name, optionally `required`, and values of the per-gateway sections;
 * a secret as the file holding it (`ib.passwordFile`), read here.
 */
function gatewayEntries(list: unknown, path: string, problems: string[]): Array<Record<string, unknown>> {
  if (!Array.isArray(list)) {
    problems.push(`${CONFIG_FILE_FLAG} ${path}: gateways must be a list of gateways, each with a name`);
    return [];
  }
  return list.map((item: unknown, index) => {
    const label = `${CONFIG_FILE_FLAG} ${path}: gateways[${index}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      problems.push(`${label} must be a mapping (name: paper, ib: {...}, gateway: {...})`);
      return {};
    }
    const { name, required, ...sections } = item as Record<string, unknown>;
    const entry: Record<string, unknown> = { name, ...(required === undefined ? {} : { required }) };
    const perGateway = (setting: Setting) =>
      PER_GATEWAY_SECTIONS.some((prefix) => setting.path.startsWith(prefix));
    for (const [key, value] of leaves(sections)) {
      const setting = SETTINGS.find((candidate) => candidate.path === key);
      const secretFor = SETTINGS.find((candidate) => candidate.secret && fileKeyOf(candidate) === key);
      if (setting?.secret) {
        problems.push(`${label}: ${key} is a secret; name the file holding it as ${fileKeyOf(setting)}`);
      } else if (setting && perGateway(setting)) {
        setAtPath(entry, key, value);
      } else if (secretFor && perGateway(secretFor)) {
        const secret = readEntrySecret(value, path, `${label}: ${key}`, problems);
        if (secret !== undefined) setAtPath(entry, secretFor.path, secret);
      } else if (setting ?? secretFor) {
        problems.push(`${label}: ${key} is shared by every gateway; set it at the top of the file`);
      } else {
        problems.push(
          `${label}: ${key} is not a setting of a gateway (ib.*, gateway.*, watchdog.*, orders.*)`,
        );
      }
    }
    return entry;
  });
}

function readEntrySecret(
  named: unknown,
  configPath: string,
  label: string,
  problems: string[],
): string | undefined {
  if (typeof named !== 'string' || named === '') {
    problems.push(`${label} must be the path of a file`);
    return undefined;
  }
  const file = secretFilePath(named, configPath);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    problems.push(
      `${label}: cannot read the file ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
    return undefined;
  }
}

/** Dotted paths of a nested mapping's values; lists and scalars are leaves. */
function leaves(node: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  return Object.entries(node).flatMap(([key, value]): Array<[string, unknown]> => {
    const path = `${prefix}${key}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return leaves(value as Record<string, unknown>, `${path}.`);
    }
    return [[path, value]];
  });
}
