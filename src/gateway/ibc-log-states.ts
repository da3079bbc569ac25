import type { GatewayObservation } from './gateway-state';
import { recognizeLogLine, type ExistingSessionAction } from './ibc-log-vocabulary';

/**
 * Reads a gateway container's log (the gnzsnz/ib-gateway image or the simulator image, which print the same
 * texts) line by line and says which gateway state each line reveals. Which texts mean what is the vocabulary
 * of ./ibc-log-vocabulary.ts.
 */
export class IbcLogStateReader {
  private attempts = 0;

  /** How many logins IBC started in the log read so far (more than one means it retried). */
  get loginAttempts(): number {
    return this.attempts;
  }

  /** The state a line reveals, or undefined when it says nothing about the login. */
  read(line: string): GatewayObservation | undefined {
    const event = recognizeLogLine(line)?.event;
    if (!event) return undefined;
    switch (event.kind) {
      case 'container-started':
        return { state: 'starting', reason: 'The container started IBC and IB Gateway' };
      case 'login-dialog':
        // After a failed login the dialog shows again; that is no new login.
        if (event.afterFailure) return undefined;
        return { state: 'logging-in', reason: 'IB Gateway shows its login dialog; IBC fills it in' };
      case 'login-attempt':
        this.attempts = Math.max(this.attempts + 1, event.attempt);
        return { state: 'logging-in', reason: `IBC started login attempt ${event.attempt}` };
      case 'second-factor':
        return {
          state: 'awaiting-2fa',
          reason: 'IB sent a second-factor prompt (IB Key / mobile app); approve it to finish the login',
        };
      case 'second-factor-timeout':
        return event.relogin
          ? { state: 'logging-in', reason: 'The second-factor prompt timed out; IBC starts another login' }
          : {
              state: 'error',
              reason:
                'The second-factor prompt timed out and IBC does not log in again (RELOGIN_AFTER_TWOFA_TIMEOUT=no); restart the gateway and approve the prompt',
            };
      case 'logged-in':
        return { state: 'logged-in', reason: 'IBC reports that the login has completed' };
      case 'login-failed':
        return {
          state: 'login-failed',
          reason:
            'IB rejected the login: unrecognized username or password. Automatic restarts are stopped so IB does not lock the account; fix the credentials, then start the gateway',
        };
      case 'too-many-failed-attempts':
        return {
          state: 'too-many-failed-logins',
          reason: `IB refuses logins for now: "${event.message}" Automatic restarts are stopped; wait, check the credentials, then start the gateway`,
        };
      case 'existing-session':
        return { state: 'existing-session', reason: existingSessionReason(event.action) };
    }
  }
}

function existingSessionReason(action: ExistingSessionAction | undefined): string {
  switch (action) {
    case 'continue':
      return 'Another session of this IB user was open; IBC ends it and continues this login (ExistingSessionDetectedAction=primary)';
    case 'end-this':
      return 'Another session of this IB user is open; IBC gives way to it (ExistingSessionDetectedAction=secondary)';
    case 'manual':
      return 'Another session of this IB user is open; a human must choose in the gateway window (VNC) which one continues';
    case undefined:
      return 'IB reports an existing session of this user (TWS, the mobile app, the web portal or another gateway)';
  }
}
