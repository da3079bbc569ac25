import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, HOME, TWS_PATH, readContainerConfig, type ContainerConfig } from './container-config';
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
import { describeBrokerState, IbGatewaySimulator } from './simulator';

/**
 * The simulator's Docker image entrypoint. It honours the environment interface of the real gnzsnz/ib-gateway
 * image (credentials, trading mode, VNC, IBC settings) and prints what that image and IBC print, so that a
 * supervisor cannot tell the two apart from the outside. Knobs only the simulator has start with SIM_.
 */

const VNC_PORT = 5900;
/** How long the gateway takes to show its login frame after IBC starts it. */
const LOGIN_DIALOG_DELAY_MS = 300;
/** SIGTERM must end the container quickly; whatever is still closing after this is abandoned. */
const STOP_GRACE_MS = 800;
/** What IB's "Too many failed login attempts" dialog asks the user to wait. */
const TOO_MANY_FAILED_LOGINS_WAIT_SECONDS = 287;

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

/**
 * SIM_STATE_FILE's directory, created if missing (the settings directory does not exist in a new container);
 * undefined, and the broker in memory only, when it cannot be.
 */
function brokerStateFile(config: ContainerConfig, print: (line: string) => void): string | undefined {
  if (config.stateFile === undefined) return undefined;
  try {
    mkdirSync(dirname(config.stateFile), { recursive: true });
    return config.stateFile;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    print(`.> Simulator: cannot create the directory of SIM_STATE_FILE=${config.stateFile} (${reason})`);
    return undefined;
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
    brokerStateFile: brokerStateFile(config, print),
  });
  // Before start: the saved orders' instruments are looked up in the market of the simulated day.
  if (config.clock !== undefined) simulator.setClock(config.clock);
  await simulator.start();
  const control = await startControlServer(simulator, { host: '0.0.0.0', port: config.controlPort });
  for (const line of simulatorLines(config, ports.socatPort)) print(line);
  const restore = simulator.brokerStateRestore;
  if (restore) print(`.> Simulator: ${describeBrokerState(restore)}`);
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
