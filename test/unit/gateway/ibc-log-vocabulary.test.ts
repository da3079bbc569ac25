import type { GatewayState } from '../../../src/gateway/gateway-state';
import { IbcLogStateReader } from '../../../src/gateway/ibc-log-states';
import {
  GATEWAY_LOG_PATTERNS,
  IMAGE_PORTS as PRODUCT_IMAGE_PORTS,
  parseIbcLine,
  recognizeLogLine,
} from '../../../src/gateway/ibc-log-vocabulary';
import {
  GATEWAY_LOGIN_FRAME_TITLE,
  GATEWAY_VERSION,
  ibcLine,
  IbcMessage,
  IMAGE_PORTS,
  ImageMessage,
  loginButtonLabel,
} from '../../../src/simulator/control/ibc-log';

/**
 * The supervisor's vocabulary (src/gateway/ibc-log-vocabulary.ts) and the simulator's texts
 * (src/simulator/control/ibc-log.ts) are two copies of the same facts about IBC and the gnzsnz image; the
 * simulator imports nothing of the service. This test keeps them together: every line the simulator's builders
 * can print goes through the supervisor's reader with the state it must reveal, and every pattern of the
 * vocabulary is matched by some simulator line. A new builder needs an entry below (the tables are keyed by
 * the builders' names); a changed text changes a state or leaves a pattern unmatched.
 */

type Expected = GatewayState | undefined;
type Samples = ReadonlyArray<readonly [text: string, state: Expected]>;

const at = new Date(2026, 0, 2, 3, 4, 5, 6); // single digits everywhere: the padding matters

/** Every IBC message builder, with the messages the simulator prints from it. */
const IBC_MESSAGES: Record<keyof typeof IbcMessage, Samples> = {
  version: [[IbcMessage.version(), undefined]],
  startingGateway: [[IbcMessage.startingGateway, undefined]],
  detectedFrame: [
    [IbcMessage.detectedFrame(GATEWAY_LOGIN_FRAME_TITLE, 'Opened'), undefined],
    [IbcMessage.detectedFrame(GATEWAY_LOGIN_FRAME_TITLE, 'Closed'), undefined],
  ],
  detectedDialog: [
    [IbcMessage.detectedDialog('Second Factor Authentication', 'Opened'), undefined],
    [IbcMessage.detectedDialog('Second Factor Authentication', 'Closed'), undefined],
    [IbcMessage.detectedDialog(IbcMessage.existingSessionTitle, 'Closed'), undefined],
  ],
  loginDialogOpened: [
    [IbcMessage.loginDialogOpened(), 'logging-in'],
    [IbcMessage.loginDialogOpened('LOGGED_OUT'), 'logging-in'],
    [IbcMessage.loginDialogOpened('LOGIN_FAILED'), undefined], // the dialog again after a failure: no new login
  ],
  settingTradingMode: [
    [IbcMessage.settingTradingMode('paper'), undefined],
    [IbcMessage.settingTradingMode('live'), undefined],
  ],
  settingUserName: [[IbcMessage.settingUserName, undefined]],
  settingPassword: [[IbcMessage.settingPassword, undefined]],
  loginAttempt: [
    [IbcMessage.loginAttempt(1), 'logging-in'],
    [IbcMessage.loginAttempt(12), 'logging-in'],
  ],
  clickButton: [
    [IbcMessage.clickButton(loginButtonLabel('paper')), undefined],
    [IbcMessage.clickButton(loginButtonLabel('live')), undefined],
  ],
  secondFactorInitiated: [[IbcMessage.secondFactorInitiated, 'awaiting-2fa']],
  durationSinceLogin: [[IbcMessage.durationSinceLogin(12), undefined]],
  secondFactorTimeoutRelogin: [[IbcMessage.secondFactorTimeoutRelogin, 'logging-in']],
  secondFactorTimeoutNoRelogin: [[IbcMessage.secondFactorTimeoutNoRelogin, 'error']],
  secondFactorExitPending: [[IbcMessage.secondFactorExitPending(60), undefined]],
  loginCompleted: [[IbcMessage.loginCompleted, 'logged-in']],
  loginFailed: [[IbcMessage.loginFailed, 'login-failed']],
  unrecognizedCredentialsTitle: [
    // IBC 3.24.1: TwsListener logs the dialog; later IBC: its handler logs the title
    [IbcMessage.detectedDialog(IbcMessage.unrecognizedCredentialsTitle, 'Opened'), 'login-failed'],
    [IbcMessage.unrecognizedCredentialsTitle, 'login-failed'],
  ],
  coldRestartInProgress: [[IbcMessage.coldRestartInProgress, undefined]],
  tooManyFailedLoginAttempts: [
    [IbcMessage.tooManyFailedLoginAttempts(287), 'too-many-failed-logins'],
    [IbcMessage.tooManyFailedLoginAttempts(45), 'too-many-failed-logins'],
  ],
  existingSessionTitle: [
    [IbcMessage.detectedDialog(IbcMessage.existingSessionTitle, 'Opened'), 'existing-session'],
  ],
  existingSessionContinueThis: [[IbcMessage.existingSessionContinueThis, 'existing-session']],
  existingSessionEndThis: [[IbcMessage.existingSessionEndThis, 'existing-session']],
  existingSessionManual: [[IbcMessage.existingSessionManual, 'existing-session']],
};

const { paper, live } = IMAGE_PORTS;

/** Every shell-line builder of the image's scripts, with the lines the simulator prints from it. */
const IMAGE_LINES: Record<keyof typeof ImageMessage, Samples> = {
  bannerRule: [[ImageMessage.bannerRule, undefined]],
  banner: [[ImageMessage.banner, 'starting']],
  startingXvfb: [[ImageMessage.startingXvfb, undefined]],
  sshDisabled: [[ImageMessage.sshDisabled, undefined]],
  defaultJavaHeap: [[ImageMessage.defaultJavaHeap, undefined]],
  javaHeap: [[ImageMessage.javaHeap('1024'), undefined]],
  startingVnc: [[ImageMessage.startingVnc, undefined]],
  vncDisabled: [[ImageMessage.vncDisabled, undefined]],
  apiPort: [[ImageMessage.apiPort(paper.apiPort), undefined]],
  socatPort: [[ImageMessage.socatPort(paper.socatPort), undefined]],
  invalidTradingMode: [[ImageMessage.invalidTradingMode('demo'), undefined]],
  exclusiveVariables: [[ImageMessage.exclusiveVariables('TWS_PASSWORD'), undefined]],
  applyingSettings: [[ImageMessage.applyingSettings, undefined]],
  settingsDirectory: [[ImageMessage.settingsDirectory('/home/ibgateway/tws_settings'), undefined]],
  settingsDirectoryDefault: [[ImageMessage.settingsDirectoryDefault('/home/ibgateway/Jts'), undefined]],
  settingTimezone: [[ImageMessage.settingTimezone('/home/ibgateway/Jts/jts.ini'), undefined]],
  startingPortForwarding: [[ImageMessage.startingPortForwarding, undefined]],
  startingSocat: [[ImageMessage.startingSocat, undefined]],
  startingIbc: [
    [ImageMessage.startingIbc('paper'), undefined],
    [ImageMessage.startingIbc('live'), undefined],
  ],
  ibcParam: [[ImageMessage.ibcParam('Version', GATEWAY_VERSION), undefined]],
  socatForking: [
    [ImageMessage.socatForking(paper.apiPort, paper.socatPort, 'paper'), undefined],
    [ImageMessage.socatForking(live.apiPort, live.socatPort, 'live'), undefined],
  ],
  receivedSignal: [[ImageMessage.receivedSignal, undefined]],
  stoppingSocat: [[ImageMessage.stoppingSocat, undefined]],
  stoppingIbc: [[ImageMessage.stoppingIbc, undefined]],
  ibcStarting: [[ImageMessage.ibcStarting(at), undefined]],
  ibcCredentialArguments: ImageMessage.ibcCredentialArguments.map((line) => [line, undefined] as const),
  ibcExitStatus: [
    [ImageMessage.ibcExitStatus(0), undefined],
    [ImageMessage.ibcExitStatus(1), undefined],
  ],
};

/** Every line the simulator can print, as printed, with the state the supervisor must read from it. */
function simulatorLines(): Array<{ builder: string; line: string; state: Expected }> {
  return [
    ...Object.entries(IBC_MESSAGES).flatMap(([builder, samples]) =>
      samples.map(([message, state]) => ({ builder, line: ibcLine(message, at), state })),
    ),
    ...Object.entries(IMAGE_LINES).flatMap(([builder, samples]) =>
      samples.map(([line, state]) => ({ builder, line, state })),
    ),
  ];
}

describe("the supervisor's IBC vocabulary against the simulator's texts", () => {
  it("has an entry here for every builder the simulator exports (a new one can't slip by)", () => {
    expect(Object.keys(IBC_MESSAGES).sort()).toEqual(Object.keys(IbcMessage).sort());
    expect(Object.keys(IMAGE_LINES).sort()).toEqual(Object.keys(ImageMessage).sort());
  });

  it('reads the state each simulator line must reveal', () => {
    const read = simulatorLines().map(({ builder, line }) => ({
      builder,
      line,
      state: new IbcLogStateReader().read(line)?.state,
    }));
    expect(read).toEqual(simulatorLines());
  });

  it('matches every pattern of the vocabulary with some simulator line', () => {
    const matched = new Set(simulatorLines().map(({ line }) => recognizeLogLine(line)?.pattern));
    const unmatched = GATEWAY_LOG_PATTERNS.map((pattern) => pattern.name).filter(
      (name) => !matched.has(name),
    );
    expect(unmatched).toEqual([]);
  });

  it("parses the simulator's IBC line layout back into its message, whatever the time", () => {
    const times = [at, new Date(2026, 11, 31, 23, 59, 59, 999), new Date()];
    for (const time of times) {
      const parsed = parseIbcLine(ibcLine(IbcMessage.loginCompleted, time));
      expect(parsed?.message).toBe(IbcMessage.loginCompleted);
      expect(parsed?.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}$/);
    }
    expect(parseIbcLine(`${ibcLine(IbcMessage.loginCompleted, at)}\r`)?.message).toBe(
      IbcMessage.loginCompleted,
    );
  });

  it("knows the image's ports as the simulator image serves them", () => {
    expect(PRODUCT_IMAGE_PORTS).toEqual(IMAGE_PORTS);
  });

  it('names its patterns uniquely', () => {
    const names = GATEWAY_LOG_PATTERNS.map((pattern) => pattern.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('carries the wait IB asks for and the attempt number into the events', () => {
    expect(recognizeLogLine(ibcLine(IbcMessage.tooManyFailedLoginAttempts(287), at))?.event).toEqual({
      kind: 'too-many-failed-attempts',
      message: IbcMessage.tooManyFailedLoginAttempts(287),
    });
    expect(IbcMessage.tooManyFailedLoginAttempts(287)).toContain('4 minutes & 47 seconds');
    expect(recognizeLogLine(ibcLine(IbcMessage.loginAttempt(7), at))?.event).toEqual({
      kind: 'login-attempt',
      attempt: 7,
    });
    expect(recognizeLogLine(ibcLine(IbcMessage.existingSessionEndThis, at))?.event).toEqual({
      kind: 'existing-session',
      action: 'end-this',
    });
  });
});
