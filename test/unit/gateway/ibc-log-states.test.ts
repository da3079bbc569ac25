import { IbcLogStateReader } from '../../../src/gateway/ibc-log-states';
import { ibcLine, IbcMessage, ImageMessage } from '../../../src/simulator/control/ibc-log';

/**
 * The reader (through src/gateway/ibc-log-vocabulary.ts) against lines as IBC prints them: the simulator's
 * texts (src/simulator/control/ibc-log.ts) and literal lines, checked against IbcAlpha/IBC's source
 * (LoginManager, TwsListener, LoginFailedDialogHandler, UnrecognizedUsernameOrPasswordDialogHandler,
 * TooManyFailedLoginAttemptsDialogHandler, ExistingSessionDetectedDialogHandler).
 */
function statesOf(lines: string[]): string[] {
  const reader = new IbcLogStateReader();
  return lines.flatMap((line) => {
    const observation = reader.read(line);
    return observation ? [observation.state] : [];
  });
}

describe('IBC log lines → gateway states', () => {
  it('follows a login with 2FA from the banner to "Login has completed"', () => {
    const reader = new IbcLogStateReader();
    const lines = [
      ImageMessage.banner,
      ImageMessage.startingXvfb,
      ibcLine(IbcMessage.version()),
      ibcLine(IbcMessage.detectedFrame('IBKR Gateway', 'Opened')),
      ibcLine(IbcMessage.loginDialogOpened()),
      ibcLine(IbcMessage.settingPassword),
      ibcLine(IbcMessage.loginAttempt(1)),
      ibcLine(IbcMessage.secondFactorInitiated),
      ibcLine(IbcMessage.durationSinceLogin(12)),
      ibcLine(IbcMessage.loginCompleted),
    ];
    const states = lines.map((line) => reader.read(line)?.state);
    expect(states).toEqual([
      'starting',
      undefined,
      undefined,
      undefined,
      'logging-in',
      undefined,
      'logging-in',
      'awaiting-2fa',
      undefined,
      'logged-in',
    ]);
    expect(reader.loginAttempts).toBe(1);
  });

  it('reads a wrong password from IBC 3.24.1 (the dialog) and from later IBC (its handler)', () => {
    expect(
      statesOf([ibcLine('detected dialog entitled: Unrecognized Username or Password; event=Opened')]),
    ).toEqual(['login-failed']);
    expect(
      statesOf([ibcLine('Unrecognized Username or Password'), ibcLine('Cold restart in progress')]),
    ).toEqual(['login-failed']);
    expect(statesOf([ibcLine('Login failed')])).toEqual(['login-failed']);
  });

  it('reads "Too many failed login attempts" with the wait IB asks for', () => {
    const reader = new IbcLogStateReader();
    const observation = reader.read(
      ibcLine(
        'Too many failed login attempts. Please wait 4 minutes & 47 seconds before attempting to re-login again.',
      ),
    );
    expect(observation?.state).toBe('too-many-failed-logins');
    expect(observation?.reason).toContain('4 minutes & 47 seconds');
  });

  it('reads an existing session and what IBC does about it', () => {
    expect(
      statesOf([
        ibcLine('detected dialog entitled: Existing session detected; event=Opened'),
        ibcLine('End the other session and continue this one'),
        ibcLine(IbcMessage.loginCompleted),
      ]),
    ).toEqual(['existing-session', 'existing-session', 'logged-in']);
    const reader = new IbcLogStateReader();
    reader.read(ibcLine('detected dialog entitled: Existing session detected; event=Opened'));
    expect(reader.read(ibcLine('User must choose whether to continue with this session'))?.reason).toContain(
      'a human must choose',
    );
  });

  it('reads a second-factor timeout: a relogin when permitted, else an error', () => {
    expect(statesOf([ibcLine('Re-login after second factor authentication timeout in 5 second')])).toEqual([
      'logging-in',
    ]);
    expect(statesOf([ibcLine('Re-login after second factor authentication timeout not required')])).toEqual([
      'error',
    ]);
  });

  it('ignores lines that are not IBC login messages, and IBC lines without the timestamp layout', () => {
    expect(
      statesOf([
        'Forking :::4002 onto 0.0.0.0:4004 > trading mode paper ',
        ibcLine('Click button: Paper Log In'),
        'IBC: Login has completed',
        '2026-01-01 10:00:00 IBC: Login has completed',
      ]),
    ).toEqual([]);
  });

  it('counts the login attempts IBC starts', () => {
    const reader = new IbcLogStateReader();
    for (const attempt of [1, 2, 3]) reader.read(ibcLine(IbcMessage.loginAttempt(attempt)));
    expect(reader.loginAttempts).toBe(3);
  });
});
