import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageMessage } from './control/ibc-log';

// The simulator container's configuration, read from the environment the way the real gnzsnz/ib-gateway
// image's scripts read theirs; knobs only the simulator has start with SIM_.

export const HOME = '/home/ibgateway';
export const TWS_PATH = `${HOME}/Jts`;
/** File name of the broker's state in the settings directory (SIM_STATE_FILE's default). */
export const BROKER_STATE_FILE_NAME = 'simulated-broker-state.json';

export type TradingMode = 'paper' | 'live';
export const LOGIN_FAULTS = ['too-many-failed-logins', 'existing-session'] as const;
export type LoginFault = (typeof LOGIN_FAULTS)[number];

export interface ContainerConfig {
  tradingMode: TradingMode;
  userId: string;
  /** Never printed. */
  password: string;
  vncPassword: string | undefined;
  acceptedPassword: string;
  loginDelayMs: number;
  /** SIM_TWOFA=pending: the login stops at the second-factor prompt until the control API completes it. */
  twoFactorPending: boolean;
  /**
   * SIM_LOGIN_FAULT: what IB answers the (right) credentials with. too-many-failed-logins: IB refuses logins
   * for a while; existing-session: another session of the user is open (EXISTING_SESSION_DETECTED_ACTION
   * decides, as in IBC: primary/primaryoverride continue, secondary and manual do not).
   */
  loginFault: LoginFault | undefined;
  /** EXISTING_SESSION_DETECTED_ACTION; the gnzsnz image's default is primary. */
  existingSessionAction: string;
  controlPort: number;
  accounts: string[];
  seed: number;
  /** SIM_CLOCK: the simulated market's clock starts here (ISO 8601) and runs on; unset = real time. */
  clock: number | undefined;
  verbose: boolean;
  /** Settings of the real image that change nothing here; logged so a misconfiguration is visible. */
  acceptedSettings: Record<string, string>;
  javaHeapSize: string | undefined;
  timeZone: string | undefined;
  /** TWS_SETTINGS_PATH: where the image keeps jts.ini; only printed here. */
  settingsPath: string | undefined;
  /**
   * SIM_STATE_FILE: where the simulated broker keeps orders, executions and positions across container
   * restarts (default: the settings directory's simulated-broker-state.json); undefined for "none".
   */
  stateFile: string | undefined;
}

/** A configuration the real image would refuse too; the message is what it prints before exiting 1. */
export class ConfigError extends Error {}

type ReadFile = (path: string) => string;

const ACCEPTED_SETTINGS = [
  'READ_ONLY_API',
  'TWOFA_TIMEOUT_ACTION',
  'RELOGIN_AFTER_TWOFA_TIMEOUT',
  'TWOFA_EXIT_INTERVAL',
  'TWOFA_DEVICE',
  'AUTO_RESTART_TIME',
  'AUTO_LOGOFF_TIME',
  'TWS_COLD_RESTART',
  'TWS_ACCEPT_INCOMING',
  'TWS_MASTER_CLIENT_ID',
  'BYPASS_WARNING',
  'ALLOW_BLIND_TRADING',
  'SAVE_TWS_SETTINGS',
  'CUSTOM_CONFIG',
] as const;

/** common.sh file_env: VAR or VAR_FILE (exclusive); a file's trailing newlines are dropped as `$(<file)` does. */
function fileEnv(env: NodeJS.ProcessEnv, name: string, readFile: ReadFile): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new ConfigError(ImageMessage.exclusiveVariables(name));
  if (direct) return direct;
  if (!file) return undefined;
  try {
    return readFile(file).replace(/\n+$/, '');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`error: cannot read ${name}_FILE (${file}): ${reason}`);
  }
}

function clockStart(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.SIM_CLOCK;
  if (text === undefined || text === '') return undefined;
  const value = Date.parse(text);
  if (Number.isNaN(value)) throw new ConfigError('error: SIM_CLOCK must be an ISO 8601 time');
  return value;
}

function stateFile(env: NodeJS.ProcessEnv): string | undefined {
  const text = env.SIM_STATE_FILE ?? '';
  if (text === 'none') return undefined;
  if (text !== '') return text;
  return join(env.TWS_SETTINGS_PATH || TWS_PATH, BROKER_STATE_FILE_NAME);
}

function nonNegativeInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new ConfigError(`error: ${name} must be a non-negative integer`);
  return value;
}

/** Reads the container's environment the way the real image's scripts do. */
export function readContainerConfig(
  env: NodeJS.ProcessEnv,
  readFile: ReadFile = (path) => readFileSync(path, 'utf8'),
): ContainerConfig {
  const mode = env.TRADING_MODE || 'paper';
  if (mode === 'both') {
    throw new ConfigError(
      '.> TRADING_MODE=both is not simulated: run one simulator container per trading mode',
    );
  }
  if (mode !== 'paper' && mode !== 'live') throw new ConfigError(ImageMessage.invalidTradingMode(mode));
  const twoFactor = env.SIM_TWOFA ?? '';
  if (twoFactor !== '' && twoFactor !== 'pending' && twoFactor !== 'none') {
    throw new ConfigError('error: SIM_TWOFA must be "pending" or "none"');
  }
  const loginFault = env.SIM_LOGIN_FAULT ?? '';
  if (loginFault !== '' && !(LOGIN_FAULTS as readonly string[]).includes(loginFault)) {
    throw new ConfigError(`error: SIM_LOGIN_FAULT must be one of ${LOGIN_FAULTS.join(', ')}`);
  }
  const accounts = (env.SIM_ACCOUNTS ?? (mode === 'paper' ? 'DU1234567' : 'U1234567'))
    .split(',')
    .map((account) => account.trim())
    .filter(Boolean);
  const acceptedSettings: Record<string, string> = {};
  for (const name of ACCEPTED_SETTINGS) {
    const value = env[name];
    if (value !== undefined && value !== '') acceptedSettings[name] = value;
  }
  return {
    tradingMode: mode,
    userId: env.TWS_USERID ?? '',
    password: fileEnv(env, 'TWS_PASSWORD', readFile) ?? '',
    vncPassword: fileEnv(env, 'VNC_SERVER_PASSWORD', readFile) || undefined,
    acceptedPassword: fileEnv(env, 'SIM_ACCEPTED_PASSWORD', readFile) ?? 'demo',
    loginDelayMs: nonNegativeInteger(env, 'SIM_LOGIN_DELAY_MS', 1500),
    twoFactorPending: twoFactor === 'pending',
    loginFault: loginFault === '' ? undefined : (loginFault as LoginFault),
    existingSessionAction: (env.EXISTING_SESSION_DETECTED_ACTION || 'primary').toLowerCase(),
    controlPort: nonNegativeInteger(env, 'SIM_CONTROL_PORT', 4010),
    accounts,
    seed: nonNegativeInteger(env, 'SIM_SEED', 42),
    clock: clockStart(env),
    verbose: env.SIM_VERBOSE === '1' || env.SIM_VERBOSE === 'yes',
    acceptedSettings,
    javaHeapSize: env.JAVA_HEAP_SIZE || undefined,
    timeZone: env.TIME_ZONE || env.TZ || undefined,
    settingsPath: env.TWS_SETTINGS_PATH || undefined,
    stateFile: stateFile(env),
  };
}
