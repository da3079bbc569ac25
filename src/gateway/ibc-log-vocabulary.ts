/**
 * The lines of a gateway container's log that the supervisor understands: the console texts of IBC
 * (IbcAlpha/IBC 3.24.1, and the handlers later IBC versions add) and of the gnzsnz/ib-gateway image's scripts,
 * each with what it says about the login. This is the product's own knowledge of the real gateway; the
 * simulator prints the same texts from its own copy (src/simulator/control/ibc-log.ts), and
 * test/unit/gateway/ibc-log-vocabulary.test.ts holds the two together.
 *
 * IBC's Java lines go through `Utils.logToConsole`: `yyyy-MM-dd HH:mm:ss:SSS IBC: <message>`, local time.
 * Shell lines (run.sh, common.sh) have no timestamp.
 */

/**
 * The ports of the gnzsnz/ib-gateway image (common.sh set_ports): IB Gateway listens on API_PORT, socat
 * publishes it on SOCAT_PORT. Not a log text, but the same kind of fact about the real image; the simulator
 * image keeps its own copy, held to this one by the same test.
 */
export const IMAGE_PORTS = {
  paper: { apiPort: 4002, socatPort: 4004 },
  live: { apiPort: 4001, socatPort: 4003 },
} as const;

/** One IBC console line, split. */
export interface IbcLogLine {
  /** The timestamp as printed (local time of the container). */
  timestamp: string;
  message: string;
}

/** Utils.formatMessage's layout: "yyyy-MM-dd HH:mm:ss:SSS IBC: message" (a colon before the milliseconds). */
const IBC_LINE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}) IBC: (.*)$/;

/** Splits one IBC console line; undefined for anything else (shell lines, Gateway's own output). */
export function parseIbcLine(line: string): IbcLogLine | undefined {
  const match = IBC_LINE.exec(line.replace(/\r$/, ''));
  if (!match) return undefined;
  return { timestamp: match[1] ?? '', message: match[2] ?? '' };
}

/** What ExistingSessionDetectedAction made IBC do about another session of the same IB user. */
export type ExistingSessionAction = 'continue' | 'end-this' | 'manual';

/** What a log line says about the gateway, for a supervisor following the log. */
export type GatewayLogEvent =
  /** The image's run.sh started (or restarted) IBC and IB Gateway. */
  | { kind: 'container-started' }
  /** `afterFailure`: the dialog shows again after a failed login (IBC's LoginState LOGIN_FAILED). */
  | { kind: 'login-dialog'; afterFailure: boolean }
  | { kind: 'login-attempt'; attempt: number }
  | { kind: 'second-factor' }
  /** The 2FA prompt went unanswered; `relogin`: IBC starts another login by itself. */
  | { kind: 'second-factor-timeout'; relogin: boolean }
  | { kind: 'logged-in' }
  | { kind: 'login-failed' }
  /** `message`: IB's own text, with the wait it asks for. */
  | { kind: 'too-many-failed-attempts'; message: string }
  /** `action`: undefined for the dialog itself. */
  | { kind: 'existing-session'; action: ExistingSessionAction | undefined };

/** One text the supervisor recognises, and what it means. */
export interface GatewayLogPattern {
  /** Names the pattern (tests check that the simulator prints a line for each). */
  readonly name: string;
  /** 'image': a whole shell line of the image's scripts; 'ibc': the message of an IBC console line. */
  readonly source: 'image' | 'ibc';
  readonly pattern: RegExp;
  readonly event: (match: RegExpExecArray) => GatewayLogEvent;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The whole text, exactly. */
function exactly(text: string): RegExp {
  return new RegExp(`^${escape(text)}$`);
}

/**
 * The vocabulary, first match wins. Each text is quoted from its source (named beside it); IBC 3.24 prints
 * messages as given.
 */
export const GATEWAY_LOG_PATTERNS: readonly GatewayLogPattern[] = [
  {
    // gnzsnz stable/scripts/run.sh: the banner, once per container start
    name: 'image-banner',
    source: 'image',
    pattern: exactly('.> Starting IBC/IB gateway'),
    event: () => ({ kind: 'container-started' }),
  },
  {
    // AbstractLoginHandler.filterEvent: "Login dialog WINDOW_OPENED: LoginState is " + state
    name: 'login-dialog',
    source: 'ibc',
    pattern: /^Login dialog WINDOW_OPENED(?:: LoginState is (\w+))?/,
    event: (match) => ({ kind: 'login-dialog', afterFailure: match[1] === 'LOGIN_FAILED' }),
  },
  {
    // AbstractLoginHandler.initiateLogin: one per login IBC starts; above 1 means IBC retried
    name: 'login-attempt',
    source: 'ibc',
    pattern: /^Login attempt: (\d+)$/,
    event: (match) => ({ kind: 'login-attempt', attempt: Number(match[1]) }),
  },
  {
    // LoginManager.setLoginState(TWO_FA_IN_PROGRESS)
    name: 'second-factor',
    source: 'ibc',
    pattern: exactly('Second Factor Authentication initiated'),
    event: () => ({ kind: 'second-factor' }),
  },
  {
    // LoginManager.secondFactorAuthenticationDialogClosed: timed out, relogin permitted
    name: 'second-factor-timeout-relogin',
    source: 'ibc',
    pattern: /^Re-login after second factor authentication timeout in \d+ seconds?$/,
    event: () => ({ kind: 'second-factor-timeout', relogin: true }),
  },
  {
    // LoginManager.secondFactorAuthenticationDialogClosed: timed out, relogin not permitted
    name: 'second-factor-timeout-no-relogin',
    source: 'ibc',
    pattern: exactly('Re-login after second factor authentication timeout not required'),
    event: () => ({ kind: 'second-factor-timeout', relogin: false }),
  },
  {
    // LoginManager.setLoginState(LOGGED_IN)
    name: 'logged-in',
    source: 'ibc',
    pattern: exactly('Login has completed'),
    event: () => ({ kind: 'logged-in' }),
  },
  {
    // LoginFailedDialogHandler.handleWindow (the "Login failed" dialog)
    name: 'login-failed',
    source: 'ibc',
    pattern: exactly('Login failed'),
    event: () => ({ kind: 'login-failed' }),
  },
  {
    // IBC 3.24.1 has no handler for IB Gateway's wrong-credentials dialog: TwsListener logs the dialog
    name: 'unrecognized-credentials-dialog',
    source: 'ibc',
    pattern: exactly('detected dialog entitled: Unrecognized Username or Password; event=Opened'),
    event: () => ({ kind: 'login-failed' }),
  },
  {
    // UnrecognizedUsernameOrPasswordDialogHandler (IBC after 3.24.1) logs the dialog's title
    name: 'unrecognized-credentials',
    source: 'ibc',
    pattern: exactly('Unrecognized Username or Password'),
    event: () => ({ kind: 'login-failed' }),
  },
  {
    // TooManyFailedLoginAttemptsDialogHandler logs the dialog's own text, with the wait
    name: 'too-many-failed-attempts',
    source: 'ibc',
    pattern: /^Too many failed login attempts\b.*$/,
    event: (match) => ({ kind: 'too-many-failed-attempts', message: match[0] }),
  },
  {
    // TwsListener.logWindow for the dialog ExistingSessionDetectedDialogHandler recognises (its title contains this)
    name: 'existing-session-dialog',
    source: 'ibc',
    pattern: /^detected dialog entitled: .*Existing session detected.*; event=Opened$/,
    event: () => ({ kind: 'existing-session', action: undefined }),
  },
  {
    // ExistingSessionDetectedDialogHandler, ExistingSessionDetectedAction=primary, primaryoverride, primaryalways
    name: 'existing-session-continue',
    source: 'ibc',
    pattern: exactly('End the other session and continue this one'),
    event: () => ({ kind: 'existing-session', action: 'continue' }),
  },
  {
    // ExistingSessionDetectedDialogHandler, ExistingSessionDetectedAction=secondary
    name: 'existing-session-end-this',
    source: 'ibc',
    pattern: exactly('End this session and let the other session proceed'),
    event: () => ({ kind: 'existing-session', action: 'end-this' }),
  },
  {
    // ExistingSessionDetectedDialogHandler, ExistingSessionDetectedAction=manual
    name: 'existing-session-manual',
    source: 'ibc',
    pattern: exactly('User must choose whether to continue with this session'),
    event: () => ({ kind: 'existing-session', action: 'manual' }),
  },
];

const IMAGE_PATTERNS = GATEWAY_LOG_PATTERNS.filter((pattern) => pattern.source === 'image');
const IBC_PATTERNS = GATEWAY_LOG_PATTERNS.filter((pattern) => pattern.source === 'ibc');

/** A recognised line: the pattern it matched and what it means. */
export interface RecognizedLogLine {
  pattern: string;
  event: GatewayLogEvent;
}

function firstMatch(patterns: readonly GatewayLogPattern[], text: string): RecognizedLogLine | undefined {
  for (const candidate of patterns) {
    const match = candidate.pattern.exec(text);
    if (match) return { pattern: candidate.name, event: candidate.event(match) };
  }
  return undefined;
}

/** What one line of a gateway container's log says; undefined when it says nothing the supervisor follows. */
export function recognizeLogLine(line: string): RecognizedLogLine | undefined {
  const text = line.replace(/\r$/, '');
  const ibc = parseIbcLine(text);
  return ibc ? firstMatch(IBC_PATTERNS, ibc.message) : firstMatch(IMAGE_PATTERNS, text);
}
