import type { ExecutionState, OrderBookState } from './broker-state';
import type { InstrumentLookup } from './market-view';
import type { ExecutionRecord } from './order-messages';
import { Order } from './order';

/**
 * Every order and execution of the simulator's life, and the ids IB hands out: order ids (NEXT_VALID_ID
 * advances on each REQ_IDS, so concurrent clients never get the same one), permIds and execIds.
 */
export class OrderBook {
  private readonly orders = new Map<number, Order>();
  readonly executions: ExecutionRecord[] = [];
  /** The first order id handed out; lower ids were never valid. */
  private firstOrderId: number;
  private nextId: number;
  private nextPermId: number;
  private execCounter = 0;
  private readonly execPrefix: string;

  constructor(firstOrderId: number, seed: number) {
    this.firstOrderId = firstOrderId;
    this.nextId = firstOrderId;
    // permIds look like IB's (large, non-zero) and differ between seeds.
    this.nextPermId = 1_000_000_000 + ((seed * 7919) % 100_000) * 1_000;
    this.execPrefix = (0x0000e000 + (seed % 0x1000)).toString(16).padStart(8, '0');
  }

  /** The id NEXT_VALID_ID reports now, without reserving it. */
  get nextValidId(): number {
    return this.nextId;
  }

  /** Hands out the next id (REQ_IDS): the following request gets a higher one. */
  reserveId(): number {
    return this.nextId++;
  }

  /** An id for a new order is valid when it was handed out or lies beyond every id handed out. */
  isFreshId(orderId: number): boolean {
    return orderId >= this.firstOrderId && !this.orders.has(orderId);
  }

  add(order: Order): void {
    this.orders.set(order.orderId, order);
    if (order.orderId >= this.nextId) this.nextId = order.orderId + 1;
  }

  get(orderId: number): Order | undefined {
    return this.orders.get(orderId);
  }

  allocatePermId(): number {
    return this.nextPermId++;
  }

  /** IB-looking execution ids ("0000e0d5.65b1c2a0.01.01"), unique for the simulator's life. */
  allocateExecId(epochMs: number): string {
    this.execCounter++;
    const time = Math.floor(epochMs / 1000)
      .toString(16)
      .padStart(8, '0');
    return `${this.execPrefix}.${time}.${this.execCounter.toString(16).padStart(2, '0')}.01`;
  }

  /** Every order the book accepted, open and finished, oldest first. */
  allOrders(): Order[] {
    return [...this.orders.values()];
  }

  /** Orders not yet filled or cancelled, oldest first. */
  openOrders(): Order[] {
    return this.allOrders().filter((order) => order.isOpen);
  }

  /** Filled and cancelled orders, oldest first. */
  completedOrders(): Order[] {
    return this.allOrders().filter((order) => !order.isOpen);
  }

  children(parent: Order): Order[] {
    return [...this.orders.values()].filter((order) => order.ticket.parentId === parent.orderId);
  }

  /** Orders cancelled when `order` fills: its bracket siblings and its OCA group. */
  ocaPeers(order: Order): Order[] {
    const parentId = order.ticket.parentId;
    const group = order.ticket.ocaGroup;
    return this.openOrders().filter(
      (other) =>
        other !== order &&
        ((parentId > 0 && other.ticket.parentId === parentId) ||
          (group !== '' && other.ticket.ocaGroup === group && other.account === order.account)),
    );
  }

  toState(): OrderBookState {
    return {
      firstOrderId: this.firstOrderId,
      nextOrderId: this.nextId,
      nextPermId: this.nextPermId,
      execCounter: this.execCounter,
      orders: this.allOrders().map((order) => order.toState()),
      executions: this.executions.map(({ instrument, ...execution }) => ({
        ...execution,
        conId: instrument.conId,
      })),
    };
  }

  /**
   * Replaces the whole book with a saved one. Orders and executions of instruments the market no longer
   * lists are left out. Nothing changes unless the whole state could be read.
   */
  restore(state: OrderBookState, instrumentOf: InstrumentLookup): void {
    const orders = new Map<number, Order>();
    for (const saved of state.orders) {
      const instrument = instrumentOf(saved.conId);
      if (instrument) orders.set(saved.ticket.orderId, Order.fromState(saved, instrument));
    }
    const executions = state.executions.flatMap(({ conId, ...execution }: ExecutionState) => {
      const instrument = instrumentOf(conId);
      return instrument ? [{ ...execution, instrument }] : [];
    });
    const highest = (values: number[]) => values.reduce((max, value) => Math.max(max, value), -Infinity);
    this.orders.clear();
    for (const [orderId, order] of orders) this.orders.set(orderId, order);
    this.executions.length = 0;
    for (const execution of executions) this.executions.push(execution);
    this.firstOrderId = state.firstOrderId;
    // Never below an id already in use, even if the saved counters were edited by hand.
    this.nextId = Math.max(state.nextOrderId, highest([...orders.keys()]) + 1);
    this.nextPermId = Math.max(state.nextPermId, highest(state.orders.map((order) => order.permId)) + 1);
    this.execCounter = state.execCounter;
  }
}
