import { readFileSync } from 'node:fs';
import { startControlServer, type ControlServer } from './control/control-http-server';
import type { GatewayState } from './control/gateway-login';
import {
  GATEWAY_LOGIN_FRAME_TITLE,
  GATEWAY_VERSION,
  IMAGE_PORTS,
  IbcMessage,
  ImageMessage,
  ibcLine,
  loginButtonLabel,
} from './control/ibc-log';
import { IbGatewaySimulator } from './simulator';

/**
 * The simulator's Docker image entrypoint. It honours the environment interface of the real gnzsnz/ib-gateway
 * image (credentials, trading mode, VNC, IBC settings) and prints what that image and IBC print, so that a
 * supervisor cannot tell the two apart from the outside. Knobs only the simulator has start with SIM_.
 */

const HOME = '/home/ibgateway';
const TWS_PATH = `${HOME}/Jts`;
const VNC_PORT = 5900;
/** How long the gateway takes to show its login frame after IBC starts it. */
const LOGIN_DIALOG_DELAY_MS = 300;
/** SIGTERM must end the container quickly; whatever is still closing after this is abandoned. */
const STOP_GRACE_MS = 800;

export type TradingMode = 'paper' | 'live';
export const LOGIN_FAULTS = ['too-many-failed-logins', 'existing-session'] as const;
export type LoginFault = (typeof LOGIN_FAULTS)[number];
/** What IB's "Too many failed login attempts" dialog asks the user to wait. */
const TOO_MANY_FAILED_LOGINS_WAIT_SECONDS = 287;

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
  };
}

export interface RunningContainer {
  simulator: IbGatewaySimulator;
  control: ControlServer;
  stop(): Promise<void>;
}

/** What the image's run.sh and IBC's ibcstart.sh print before IBC's JVM starts. */
function startupLines(config: ContainerConfig, ports: { apiPort: number; socatPort: number }): string[] {
  const settingsPath = config.settingsPath ?? TWS_PATH;
  return [
    ImageMessage.bannerRule,
    ImageMessage.banner,
    ImageMessage.bannerRule,
    ImageMessage.startingXvfb,
    ImageMessage.sshDisabled,
    config.javaHeapSize ? ImageMessage.javaHeap(config.javaHeapSize) : ImageMessage.defaultJavaHeap,
    config.vncPassword ? ImageMessage.startingVnc : ImageMessage.vncDisabled,
    ImageMessage.apiPort(ports.apiPort),
    ImageMessage.socatPort(ports.socatPort),
    ImageMessage.applyingSettings,
    config.settingsPath
      ? ImageMessage.settingsDirectory(config.settingsPath)
      : ImageMessage.settingsDirectoryDefault(TWS_PATH),
    ImageMessage.settingTimezone(`${settingsPath}/jts.ini`),
    ImageMessage.startingPortForwarding,
    ImageMessage.startingSocat,
    ImageMessage.startingIbc(config.tradingMode),
    ImageMessage.ibcParam('Version', GATEWAY_VERSION),
    ImageMessage.ibcParam('program', 'gateway'),
    ImageMessage.ibcParam('tws-path', TWS_PATH),
    ImageMessage.ibcParam('ibc-path', `${HOME}/ibc`),
    ImageMessage.ibcParam('ibc-init', `${HOME}/ibc/config.ini`),
    ImageMessage.ibcParam('tws-settings-path', settingsPath),
    ImageMessage.ibcParam('on2fatimeout', config.acceptedSettings.TWOFA_TIMEOUT_ACTION ?? ''),
    ImageMessage.socatForking(ports.apiPort, ports.socatPort, config.tradingMode),
    '',
    '================================================================================',
    '',
    ImageMessage.ibcStarting(new Date()),
    '',
    `TWS version = ${GATEWAY_VERSION}`,
    'Program = Gateway',
    `--mode = ${config.tradingMode}`,
    ...ImageMessage.ibcCredentialArguments,
    '',
  ];
}

/** The simulator's own notes: where things listen, and settings accepted without effect. */
function simulatorLines(config: ContainerConfig, socatPort: number): string[] {
  const lines = [
    `.> Simulator: TWS API on 0.0.0.0:${socatPort}, control API on 0.0.0.0:${config.controlPort}` +
      (config.vncPassword ? `, VNC on 0.0.0.0:${VNC_PORT}` : ''),
    `.> Simulator: accounts ${config.accounts.join(', ')}; login takes ${config.loginDelayMs} ms` +
      (config.twoFactorPending ? '; second factor authentication stays pending (SIM_TWOFA=pending)' : ''),
  ];
  if (config.loginFault) lines.push(`.> Simulator: the login meets SIM_LOGIN_FAULT=${config.loginFault}`);
  if (config.timeZone) lines.push(`.> Simulator: time zone ${config.timeZone} accepted (no effect)`);
  for (const [name, value] of Object.entries(config.acceptedSettings)) {
    lines.push(`.> Simulator: ${name}=${value} accepted (no effect)`);
  }
  return lines;
}

/**
 * Prints IBC's lines for each login state the simulator enters, whether the scripted login or the control API
 * caused it, and drives the scripted login: one attempt, never a retry (a wrong password must not lock the
 * account).
 */
class ScriptedLogin {
  private attempts = 0;
  private loginStartedAt = 0;
  private tooManyFailedLogins = false;
  private outcomeTimer: NodeJS.Timeout | undefined;
  private dialogTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly simulator: IbGatewaySimulator,
    private readonly config: ContainerConfig,
    private readonly ibc: (message: string) => void,
  ) {
    simulator.login.on('state', (state, previous) => this.announce(state, previous));
  }

  start(): void {
    this.ibc(IbcMessage.version());
    this.ibc(IbcMessage.startingGateway);
    this.dialogTimer = setTimeout(() => this.showLoginDialog(), LOGIN_DIALOG_DELAY_MS);
  }

  stop(): void {
    clearTimeout(this.dialogTimer);
    clearTimeout(this.outcomeTimer);
  }

  private showLoginDialog(): void {
    if (this.config.userId && this.config.password) {
      this.simulator.login.set('logging-in');
      return;
    }
    // IBC fills in what it has and leaves the login frame waiting for the missing credential.
    this.printLoginDialog('LOGGED_OUT');
  }

  private printLoginDialog(loginState: 'LOGGED_OUT' | 'LOGIN_FAILED'): void {
    this.ibc(IbcMessage.detectedFrame(GATEWAY_LOGIN_FRAME_TITLE, 'Opened'));
    this.ibc(IbcMessage.loginDialogOpened(loginState));
    this.ibc(IbcMessage.settingTradingMode(this.config.tradingMode));
    this.ibc(IbcMessage.settingUserName);
    this.ibc(IbcMessage.settingPassword);
  }

  private announce(state: GatewayState, previous: GatewayState): void {
    switch (state) {
      case 'logging-in': {
        this.attempts++;
        this.loginStartedAt = Date.now();
        this.printLoginDialog(previous === 'login-failed' ? 'LOGIN_FAILED' : 'LOGGED_OUT');
        this.ibc(IbcMessage.loginAttempt(this.attempts));
        this.ibc(IbcMessage.clickButton(loginButtonLabel(this.config.tradingMode)));
        if (this.attempts === 1) this.scheduleOutcome();
        break;
      }
      case 'awaiting-2fa':
        this.ibc(IbcMessage.detectedDialog('Second Factor Authentication', 'Opened'));
        this.ibc(IbcMessage.secondFactorInitiated);
        break;
      case 'logged-in':
        if (previous === 'awaiting-2fa') {
          this.ibc(IbcMessage.detectedDialog('Second Factor Authentication', 'Closed'));
          this.ibc(IbcMessage.durationSinceLogin(Math.round((Date.now() - this.loginStartedAt) / 1000)));
        }
        this.ibc(IbcMessage.loginCompleted);
        break;
      case 'login-failed':
        if (this.tooManyFailedLogins) {
          // IBC logs the dialog's own text (TooManyFailedLoginAttemptsDialogHandler).
          this.ibc(IbcMessage.tooManyFailedLoginAttempts(TOO_MANY_FAILED_LOGINS_WAIT_SECONDS));
        } else {
          this.ibc(IbcMessage.detectedDialog(IbcMessage.unrecognizedCredentialsTitle, 'Opened'));
        }
        break;
      case 'starting':
        break;
    }
  }

  /** The result of the container's own login; skipped if the control API has moved the state on meanwhile. */
  private scheduleOutcome(): void {
    const attempt = this.attempts;
    this.outcomeTimer = setTimeout(() => {
      if (this.simulator.login.state !== 'logging-in' || this.attempts !== attempt) return;
      if (this.config.password !== this.config.acceptedPassword) {
        this.simulator.login.set('login-failed');
      } else if (this.config.loginFault === 'too-many-failed-logins') {
        this.tooManyFailedLogins = true;
        this.simulator.login.set('login-failed');
      } else if (this.config.loginFault === 'existing-session' && !this.continuesExistingSession()) {
        return; // the login waits (manual) or gives way (secondary); the API stays closed
      } else if (this.config.twoFactorPending) {
        this.simulator.login.set('awaiting-2fa');
      } else {
        this.simulator.login.set('logged-in');
      }
    }, this.config.loginDelayMs);
  }

  /** ExistingSessionDetectedDialogHandler: prints what IBC prints for the configured action; true to go on. */
  private continuesExistingSession(): boolean {
    this.ibc(IbcMessage.detectedDialog(IbcMessage.existingSessionTitle, 'Opened'));
    switch (this.config.existingSessionAction) {
      case 'primary':
      case 'primaryoverride':
        this.ibc(IbcMessage.existingSessionContinueThis);
        return true;
      case 'secondary':
        this.ibc(IbcMessage.existingSessionEndThis);
        return false;
      default:
        this.ibc(IbcMessage.existingSessionManual);
        return false;
    }
  }
}

/** Starts the simulated gateway container: API port, control API, optional VNC, and the scripted login. */
export async function startContainer(
  config: ContainerConfig,
  print: (line: string) => void = (line) => console.log(line),
): Promise<RunningContainer> {
  const ports = IMAGE_PORTS[config.tradingMode];
  for (const line of startupLines(config, ports)) print(line);
  const simulator = new IbGatewaySimulator({
    host: '0.0.0.0',
    port: ports.socatPort,
    initialState: 'starting',
    accounts: config.accounts,
    seed: config.seed,
    vnc: config.vncPassword ? { host: '0.0.0.0', port: VNC_PORT, password: config.vncPassword } : undefined,
    log: config.verbose ? (line) => print(`[simulator] ${line}`) : undefined,
  });
  await simulator.start();
  if (config.clock !== undefined) simulator.setClock(config.clock);
  const control = await startControlServer(simulator, { host: '0.0.0.0', port: config.controlPort });
  for (const line of simulatorLines(config, ports.socatPort)) print(line);
  const login = new ScriptedLogin(simulator, config, (message) => print(ibcLine(message)));
  login.start();
  return {
    simulator,
    control,
    stop: async () => {
      login.stop();
      await control.close();
      await simulator.stop();
    },
  };
}

async function main(): Promise<void> {
  let config: ContainerConfig;
  try {
    config = readContainerConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  // Like the image's unset_env: the password does not stay in the environment of what runs next.
  delete process.env.TWS_PASSWORD;
  delete process.env.VNC_SERVER_PASSWORD;
  delete process.env.SIM_ACCEPTED_PASSWORD;
  const running = await startContainer(config);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    console.log(ImageMessage.receivedSignal);
    console.log(ImageMessage.stoppingSocat);
    console.log(ImageMessage.stoppingIbc);
    const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    Promise.race([running.stop(), grace])
      .catch((error: unknown) => console.error(String(error)))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
}
