import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SETTINGS, type Setting } from './settings';

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
  const values = new Map<string, unknown>();
  for (const [key, value] of leaves(document as Record<string, unknown>)) {
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
  return { path, values };
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
