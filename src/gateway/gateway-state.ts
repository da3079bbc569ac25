/** What the gateway is doing, as the supervisor tells it from the container's state and IBC's log. */
export const GATEWAY_STATES = [
  'stopped',
  'starting',
  'logging-in',
  'awaiting-2fa',
  'logged-in',
  'login-failed',
  'too-many-failed-logins',
  'existing-session',
  'error',
] as const;
export type GatewayState = (typeof GATEWAY_STATES)[number];

/** One transition: every change of state is one of these, with the reason in words. */
export interface GatewayStateChange {
  at: Date;
  from: GatewayState;
  to: GatewayState;
  reason: string;
}

/** A state the runtime observed (from the log, the simulator or Docker) and why. */
export interface GatewayObservation {
  state: GatewayState;
  reason: string;
}

/** States after which only a human may start another login: IB locks accounts that retry bad logins. */
export const LOGIN_BLOCKING_STATES: readonly GatewayState[] = ['login-failed', 'too-many-failed-logins'];
