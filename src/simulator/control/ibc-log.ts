/**
 * The console texts that IBC (IbcAlpha/IBC 3.24.1) and the gnzsnz/ib-gateway image's scripts print, exactly as
 * they print them, for the simulator to print (its container's log, the in-process runtime's log). The
 * supervisor's own vocabulary of these texts is src/gateway/ibc-log-vocabulary.ts; the simulator imports nothing
 * of the service, and test/unit/gateway/ibc-log-vocabulary.test.ts feeds every line built here through the
 * supervisor's reader, so the two cannot drift apart.
 *
 * IBC's Java lines go through `Utils.logToConsole`: `yyyy-MM-dd HH:mm:ss:SSS IBC: <message>`, local time, the
 * message printed as given (IBC 3.24 no longer capitalises it). Shell lines (run.sh, common.sh, run_socat.sh,
 * ibcstart.sh) have no timestamp.
 */

export const IBC_VERSION = '3.24.1';
/** The IB Gateway version the image runs (gnzsnz stable at the time of writing). */
export const GATEWAY_VERSION = '10.45.1j';
/** Title of IB Gateway 10.x's login frame, as IBC reports it. */
export const GATEWAY_LOGIN_FRAME_TITLE = 'IBKR Gateway';

// ---- IBC (Java) lines ----

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** Utils._dateFormatter: "yyyy-MM-dd HH:mm:ss:SSS" in local time (note the colon before the milliseconds). */
export function formatIbcTimestamp(at: Date): string {
  const date = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}:${pad(at.getMilliseconds(), 3)}`;
  return `${date} ${time}`;
}

/** Utils.formatMessage: one IBC console line. */
export function ibcLine(message: string, at: Date = new Date()): string {
  return `${formatIbcTimestamp(at)} IBC: ${message}`;
}

/** The window events IBC names in its "detected ..." lines (SwingUtils.windowEventToString). */
export type WindowEvent = 'Opened' | 'Closed' | 'Activated' | 'Deactivated' | 'Focused' | 'Lost focus';

/** Messages (without the timestamp prefix) that IBC logs, each from the IBC source file named beside it. */
export const IbcMessage = {
  /** IbcTws.printVersionInfo */
  version: (version: string = IBC_VERSION) => `version: ${version}`,
  /** IbcTws.startGateway */
  startingGateway: 'Starting Gateway',
  /** TwsListener.logWindow, for a JFrame */
  detectedFrame: (title: string, event: WindowEvent) => `detected frame entitled: ${title}; event=${event}`,
  /** TwsListener.logWindow, for a JDialog */
  detectedDialog: (title: string, event: WindowEvent) => `detected dialog entitled: ${title}; event=${event}`,
  /** AbstractLoginHandler.filterEvent, when the login frame opens */
  loginDialogOpened: (loginState: 'LOGGED_OUT' | 'LOGIN_FAILED' = 'LOGGED_OUT') =>
    `Login dialog WINDOW_OPENED: LoginState is ${loginState}`,
  /** AbstractLoginHandler.setTradingMode */
  settingTradingMode: (mode: string) => `Setting Trading mode = ${mode}`,
  /** GatewayLoginFrameHandler.setFields */
  settingUserName: 'Setting user name',
  /** GatewayLoginFrameHandler.setFields (IBC never logs the password itself) */
  settingPassword: 'Setting password',
  /** AbstractLoginHandler.initiateLogin: one per login IBC starts; a count above 1 means IBC retried */
  loginAttempt: (attempt: number) => `Login attempt: ${attempt}`,
  /** SwingUtils.clickButton (the Gateway's login button is "Paper Log In" in paper mode, "Log In" in live) */
  clickButton: (label: string) => `Click button: ${label}`,
  /** LoginManager.setLoginState(TWO_FA_IN_PROGRESS) */
  secondFactorInitiated: 'Second Factor Authentication initiated',
  /** LoginManager.secondFactorAuthenticationDialogClosed */
  durationSinceLogin: (seconds: number) => `Duration since login: ${seconds} seconds`,
  /** LoginManager.secondFactorAuthenticationDialogClosed: the prompt timed out and relogin is permitted */
  secondFactorTimeoutRelogin: 'Re-login after second factor authentication timeout in 5 second',
  /** LoginManager.secondFactorAuthenticationDialogClosed: the prompt timed out and relogin is not permitted */
  secondFactorTimeoutNoRelogin: 'Re-login after second factor authentication timeout not required',
  /** LoginManager.secondFactorAuthenticationDialogClosed: answered, IBC exits unless the login completes */
  secondFactorExitPending: (seconds: number) =>
    `If login has not completed, IBC will exit in ${seconds} seconds`,
  /** LoginManager.setLoginState(LOGGED_IN) */
  loginCompleted: 'Login has completed',
  /** LoginFailedDialogHandler.handleWindow (the "Login failed" dialog) */
  loginFailed: 'Login failed',
  /**
   * Title of the dialog IB Gateway shows for a wrong user name or password. IBC 3.24.1 has no handler for it
   * (TwsListener logs the dialog); later IBC's UnrecognizedUsernameOrPasswordDialogHandler logs this text
   * itself, then {@link IbcMessage.coldRestartInProgress}.
   */
  unrecognizedCredentialsTitle: 'Unrecognized Username or Password',
  /** UnrecognizedUsernameOrPasswordDialogHandler (IBC after 3.24.1): IBC restarts cold, i.e. tries again */
  coldRestartInProgress: 'Cold restart in progress',
  /** TooManyFailedLoginAttemptsDialogHandler: IBC logs the dialog's own text */
  tooManyFailedLoginAttempts: (waitSeconds: number) => {
    const minutes = Math.floor(waitSeconds / 60);
    const seconds = waitSeconds % 60;
    const wait = minutes > 0 ? `${minutes} minutes & ${seconds} seconds` : `${seconds} seconds`;
    return `Too many failed login attempts. Please wait ${wait} before attempting to re-login again.`;
  },
  /** Title of the dialog ExistingSessionDetectedDialogHandler recognises */
  existingSessionTitle: 'Existing session detected',
  /** ExistingSessionDetectedDialogHandler, ExistingSessionDetectedAction=primary (first time), primaryoverride, primaryalways */
  existingSessionContinueThis: 'End the other session and continue this one',
  /** ExistingSessionDetectedDialogHandler, ExistingSessionDetectedAction=secondary */
  existingSessionEndThis: 'End this session and let the other session proceed',
  /** ExistingSessionDetectedDialogHandler, ExistingSessionDetectedAction=manual */
  existingSessionManual: 'User must choose whether to continue with this session',
} as const;

/** The Gateway's login button label (AbstractLoginHandler.findLoginButton). */
export function loginButtonLabel(tradingMode: 'paper' | 'live'): string {
  return tradingMode === 'paper' ? 'Paper Log In' : 'Log In';
}

// ---- Shell lines (no timestamp) ----

export const ImageMessage = {
  /** gnzsnz stable/scripts/run.sh: banner */
  bannerRule: '*************************************************************************',
  /** gnzsnz stable/scripts/run.sh: banner */
  banner: '.> Starting IBC/IB gateway',
  /** gnzsnz run.sh start_xvfb */
  startingXvfb: '.> Starting Xvfb server',
  /** gnzsnz common.sh setup_ssh */
  sshDisabled: '.> SSH tunnel disabled',
  /** gnzsnz common.sh set_java_heap (the typo is the image's) */
  defaultJavaHeap: '.> Usign default Java heap size 768m.',
  /** gnzsnz common.sh set_java_heap */
  javaHeap: (megabytes: string) => `.> Java heap size set to ${megabytes}m`,
  /** gnzsnz run.sh start_vnc */
  startingVnc: '.> Starting VNC server',
  /** gnzsnz run.sh start_vnc */
  vncDisabled: '.> VNC server disabled',
  /** gnzsnz common.sh set_ports */
  apiPort: (port: number) => `.> API_PORT set to: ${port}`,
  /** gnzsnz common.sh set_ports */
  socatPort: (port: number) => `.> SOCAT_PORT set to: ${port}`,
  /** gnzsnz common.sh set_ports */
  invalidTradingMode: (mode: string) => `.> Invalid TRADING_MODE: ${mode}`,
  /** gnzsnz common.sh file_env (to stderr, then exit 1) */
  exclusiveVariables: (name: string) => `error: both ${name} and ${name}_FILE are set (but are exclusive)`,
  /** gnzsnz common.sh apply_settings (the typo is the image's) */
  applyingSettings: ".> Appling settings to IBC's config.ini",
  /** gnzsnz common.sh apply_settings */
  settingsDirectory: (path: string) => `.> Settings directory set to: ${path}`,
  /** gnzsnz common.sh apply_settings */
  settingsDirectoryDefault: (path: string) => `.> Settings directory NOT set, defaulting to: ${path}`,
  /** gnzsnz common.sh apply_settings */
  settingTimezone: (jtsIni: string) => `.> Setting timezone in ${jtsIni}`,
  /** gnzsnz common.sh port_forwarding */
  startingPortForwarding: '.> Starting Port Forwarding.',
  /** gnzsnz common.sh port_forwarding */
  startingSocat: '.> Starting socat',
  /** gnzsnz run.sh start_IBC */
  startingIbc: (tradingMode: string) => `.> Starting IBC in ${tradingMode} mode, with params:`,
  /** gnzsnz run.sh start_IBC (one per parameter, tab-indented) */
  ibcParam: (name: string, value: string) => `.>\t\t${name}: ${value}`,
  /** gnzsnz stable/scripts/run_socat.sh: one per (re)start of socat */
  socatForking: (apiPort: number, socatPort: number, tradingMode: string) =>
    `Forking :::${apiPort} onto 0.0.0.0:${socatPort} > trading mode ${tradingMode} `,
  /** gnzsnz run.sh stop_ibc */
  receivedSignal: '.> 😘 Received SIGINT or SIGTERM. Shutting down IB Gateway.',
  /** gnzsnz run.sh stop_ibc */
  stoppingSocat: '.> Stopping socat.',
  /** gnzsnz run.sh stop_ibc */
  stoppingIbc: '.> Stopping IBC.',
  /** IBC resources/scripts/ibcstart.sh */
  ibcStarting: (at: Date, version: string = IBC_VERSION) =>
    `Starting IBC version ${version} on ${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} at ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`,
  /**
   * IBC resources/scripts/ibcstart.sh logs its --user/--pw arguments masked ("--user = ***"); the gnzsnz image
   * passes none (the credentials go into config.ini), so it prints them empty.
   */
  ibcCredentialArguments: ['--user =', '--pw ='],
  /** IBC resources/scripts/ibcstart.sh, after IBC's JVM exits */
  ibcExitStatus: (status: number) => `IBC returned exit status ${status}`,
} as const;

/** The gateway ports of the image: Gateway listens on API_PORT, socat publishes it on SOCAT_PORT (common.sh set_ports). */
export const IMAGE_PORTS = {
  paper: { apiPort: 4002, socatPort: 4004 },
  live: { apiPort: 4001, socatPort: 4003 },
} as const;
