import { EventEmitter } from 'node:events';

/** What the (simulated) gateway is doing, as its login dialog and IBC would tell it. */
export const GATEWAY_STATES = [
  'starting',
  'logging-in',
  'awaiting-2fa',
  'login-failed',
  'logged-in',
] as const;
export type GatewayState = (typeof GATEWAY_STATES)[number];

export interface GatewayLoginEvents {
  state: [state: GatewayState, previous: GatewayState];
}

/** The gateway's login state; only a logged-in gateway serves the API port. */
export class GatewayLogin extends EventEmitter<GatewayLoginEvents> {
  private current: GatewayState;
  private pending: NodeJS.Timeout | undefined;

  constructor(initial: GatewayState) {
    super();
    this.current = initial;
  }

  get state(): GatewayState {
    return this.current;
  }

  get isLoggedIn(): boolean {
    return this.current === 'logged-in';
  }

  set(state: GatewayState): void {
    this.cancelPending();
    if (state === this.current) return;
    const previous = this.current;
    this.current = state;
    this.emit('state', state, previous);
  }

  /** Logging in takes `durationMs`, then succeeds: a slow start. */
  slowStart(durationMs: number): void {
    this.set('logging-in');
    this.pending = setTimeout(() => this.set('logged-in'), durationMs);
    this.pending.unref();
  }

  dispose(): void {
    this.cancelPending();
    this.removeAllListeners();
  }

  private cancelPending(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
  }
}
