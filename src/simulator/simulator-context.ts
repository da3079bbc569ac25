import { EventEmitter } from 'node:events';
import type { SimulatorClock } from './control/simulator-clock';
import type { TwsServer } from './protocol/tws-server';

/** Faults that domain modules must honour while they run. */
export interface FaultEvents {
  /** IB's servers dropped and came back with data lost: every market data subscription is gone. */
  'subscriptions-lost': [];
  /** Market data was frozen or its farm went down, or it came back. */
  'market-data-changed': [];
  /** The streams open now stop ticking for good; a new request ticks (a resubscribe fixes it). */
  'subscriptions-stalled': [];
  /** The API connections open now get no more ticks; a new connection ticks (a reconnect fixes it). */
  'connections-stalled': [];
}

/**
 * How much a freeze takes down: the whole gateway (until unfrozen or restarted), only the streams open now,
 * or only the API connections open now. The narrower ones model the stale data that a resubscribe or a
 * reconnect cures, so each rung of a recovery ladder can be exercised.
 */
export const FREEZE_SCOPES = ['gateway', 'subscriptions', 'connections'] as const;
export type FreezeScope = (typeof FREEZE_SCOPES)[number];

/**
 * When the one-shot order fault drops the connections: before the order reaches the book, or after it was
 * accepted and persisted but before any message about it leaves (the acknowledgement is lost).
 */
export const DROP_ON_NEXT_ORDER_MODES = ['before-accepting', 'after-accepting'] as const;
export type DropOnNextOrder = (typeof DROP_ON_NEXT_ORDER_MODES)[number];

export class FaultState extends EventEmitter<FaultEvents> {
  /** Ticks stop while the socket stays up: the classic stale-data failure. */
  marketDataFrozen = false;
  /** The market data farm is down (2103); ticks stop until it is restored (2104). */
  marketFarmDown = false;
  /** Armed by the control surface; the next new order (not a what-if, not a modification) disarms it. */
  dropOnNextOrder: DropOnNextOrder | undefined;

  get marketDataFlowing(): boolean {
    return !this.marketDataFrozen && !this.marketFarmDown;
  }
}

/** What every domain module of the simulator is given. */
export interface SimulatorContext {
  readonly server: TwsServer;
  readonly clock: SimulatorClock;
  readonly faults: FaultState;
  readonly accounts: readonly string[];
  /** Seed of every random choice, so runs repeat. */
  readonly seed: number;
  log(message: string): void;
}
