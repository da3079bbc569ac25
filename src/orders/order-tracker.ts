import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Subject, type Observable, type Subscription } from 'rxjs';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { IbCode, isInformationCode } from '../connection/ib-errors';
import { OrderJournalRepository, type JournalEntry } from './order-journal.repository';
import {
  trackedOf,
  type BrokerEvent,
  type ExecutionReport,
  type OrderReport,
  type TrackedOrder,
  type WhatIfState,
} from './order-model';
import { OrdersRepository } from './orders.repository';

/** An execution of one of this service's orders, with its commission (null until IB reported it). */
export type OrderExecution = ExecutionReport & {
  orderId: number;
  execId: string;
  commission: number | null;
  commissionCurrency: string | null;
  realizedPnl: number | null;
};

/** Everything but the timestamp: two states that differ only in when we heard them are the same. */
function sameState(a: TrackedOrder | undefined, b: TrackedOrder): boolean {
  if (!a) return false;
  const { updatedAt: _a, ...restA } = a;
  const { updatedAt: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

/** An error that is a verdict on the order: not information, not IB's confirmation of a cancel. */
function isOrderFailure(code: number): boolean {
  return code !== IbCode.ORDER_CANCELLED && !isInformationCode(code);
}

/**
 * This service's orders as the broker reports them: follows the repository's broker events (open-order
 * reports, what-ifs, order errors) and executions, journals every broker response, and restores the last
 * known state from the journal at start-up (so a filled order is still known after a restart).
 */
@Injectable()
export class OrderTracker implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(OrderTracker.name);
  private readonly orders = new Map<number, TrackedOrder>();
  /** Orders being placed right now: their errors count even before the broker acknowledges them. */
  private readonly expected = new Set<number>();
  /** Client ids of the orders this service sent (an earlier run's session may have had another id). */
  private readonly placedByClients = new Set<number>();
  /** Order ids a request waits on (see watch). */
  private readonly watched = new Map<number, number>();
  private readonly commissions = new Map<string, { orderId: number; commission: number }>();
  private readonly seenExecutions = new Set<string>();
  private readonly seenWhatIfs = new Set<number>();
  private readonly subscriptions: Subscription[] = [];
  private readonly changed = new Subject<TrackedOrder>();
  private readonly executed = new Subject<OrderExecution>();
  private readonly forgotten = new Subject<{ orderId: number; reason: string }>();
  /** Every change of an order's state as the service learns it (pushed to /events and MCP resources). */
  readonly changes: Observable<TrackedOrder> = this.changed.asObservable();
  /** Each new execution of this service's orders, with its commission once IB reported it. */
  readonly executions: Observable<OrderExecution> = this.executed.asObservable();
  /** Orders found never to have reached the broker (an uncertain send that did not arrive): forgotten. */
  readonly absences: Observable<{ orderId: number; reason: string }> = this.forgotten.asObservable();
  private executionsRefresh: Promise<void> | undefined;
  /** Requests in flight that make IB list the open orders again (see whileRelisting). */
  private relistings = 0;
  private executionsStale = false;

  constructor(
    private readonly broker: OrdersRepository,
    private readonly journal: OrderJournalRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    for await (const entry of this.journal.entries()) this.replay(entry);
    this.subscriptions.push(this.broker.events.subscribe((event) => this.onEvent(event)));
  }

  onModuleDestroy(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.changed.complete();
    this.executed.complete();
    this.forgotten.complete();
  }

  get(orderId: number): TrackedOrder | undefined {
    return this.orders.get(orderId);
  }

  /**
   * Whether a client id is this service's: its session's now or in this process (IB may have given it another
   * id than the configured one), or one that orders it sent carried (the journal's "sent" entries).
   */
  isOwnClient(clientId: number | undefined): boolean {
    if (clientId === undefined) return false;
    return this.broker.isSessionClient(clientId) || this.placedByClients.has(clientId);
  }

  all(): TrackedOrder[] {
    return [...this.orders.values()];
  }

  commissionOf(orderId: number): number | undefined {
    let total: number | undefined;
    for (const report of this.commissions.values()) {
      if (report.orderId === orderId) total = (total ?? 0) + report.commission;
    }
    return total;
  }

  /** Registers an order about to be sent, so that its acknowledgement or rejection is attributed to it. */
  expect(order: TrackedOrder): void {
    this.expected.add(order.orderId);
    if (order.clientId !== undefined) this.placedByClients.add(order.clientId);
    if (!this.orders.has(order.orderId)) this.orders.set(order.orderId, order);
  }

  /** Marks order ids a request waits on while `run` runs: their errors are journaled even if unknown. */
  async watching<T>(orderIds: number[], run: () => Promise<T>): Promise<T> {
    for (const orderId of orderIds) this.watched.set(orderId, (this.watched.get(orderId) ?? 0) + 1);
    try {
      return await run();
    } finally {
      for (const orderId of orderIds) {
        const count = (this.watched.get(orderId) ?? 1) - 1;
        if (count > 0) this.watched.set(orderId, count);
        else this.watched.delete(orderId);
      }
    }
  }

  /** Records this service's open orders fetched on request (get_open_orders), journaling what changed. */
  absorb(reports: OrderReport[]): TrackedOrder[] {
    return reports.map((report) => this.update(report, 'openOrder', false));
  }

  /** Another client's (or TWS's) open order, in the API's terms; not tracked. */
  viewOfForeign(report: OrderReport): TrackedOrder {
    return trackedOf(report, undefined, this.now());
  }

  /**
   * Runs a request that makes IB list the open orders again (each one reaches the stream as a fresh
   * message): while it runs, repeats of what the journal already holds are not journaled again.
   */
  async whileRelisting<T>(run: () => Promise<T>): Promise<T> {
    this.relistings++;
    try {
      return await run();
    } finally {
      this.relistings--;
    }
  }

  private now(): string {
    return dateOf(this.clock).toISOString();
  }

  private onEvent(event: BrokerEvent): void {
    if (event.kind === 'report') this.update(event.report, event.event, event.fresh);
    else if (event.kind === 'whatIf') this.onWhatIf(event.orderId, event.permId, event.state);
    else this.onError(event.orderId, event.code, event.message);
  }

  /** Applies one broker report; journals it when it is a fresh message or changes what we knew. */
  private update(report: OrderReport, event: 'openOrder' | 'orderStatus', fresh: boolean): TrackedOrder {
    const previous = this.orders.get(report.orderId);
    const order = trackedOf(report, previous, this.now());
    const changed = !sameState(previous, order);
    this.orders.set(order.orderId, order);
    this.expected.delete(order.orderId);
    // Every broker message is journaled, except repeats of what we knew while the open orders are re-listed.
    if (changed || (fresh && this.relistings === 0)) {
      this.journal.record({ type: 'response', event, orderId: order.orderId, order });
    }
    if (changed) this.changed.next(order);
    if (order.filled > (previous?.filled ?? 0)) this.refreshExecutions();
    return order;
  }

  private onWhatIf(orderId: number, permId: number, state: WhatIfState): void {
    if (this.seenWhatIfs.has(permId)) return;
    this.seenWhatIfs.add(permId);
    this.journal.record({ type: 'response', event: 'whatIf', orderId, orderState: state });
  }

  private onError(orderId: number, code: number, message: string): void {
    if (!this.orders.has(orderId) && !this.expected.has(orderId) && !this.watched.has(orderId)) return;
    this.journal.record({ type: 'response', event: 'error', orderId, code, message });
    const order = this.orders.get(orderId);
    if (order && isOrderFailure(code)) {
      const rejectedBeforeAck = order.status === 'PendingSubmit';
      this.orders.set(orderId, {
        ...order,
        ...(rejectedBeforeAck ? { status: 'Inactive' } : {}),
        lastError: { code, message, at: this.now() },
        updatedAt: this.now(),
      });
      const failed = this.orders.get(orderId);
      if (failed) this.changed.next(failed);
    }
  }

  /** A broker report applied to what the service knew of the order (not stored: see reconciled). */
  trackedOf(report: OrderReport): TrackedOrder {
    return trackedOf(report, this.orders.get(report.orderId), this.now());
  }

  /** The state reconciliation with the broker found for an order; always journaled, with the reason. */
  reconciled(order: TrackedOrder, reason: string): void {
    const previous = this.orders.get(order.orderId);
    this.orders.set(order.orderId, order);
    this.expected.delete(order.orderId);
    this.journal.record({ type: 'response', event: 'reconciled', orderId: order.orderId, order, reason });
    if (!sameState(previous, order)) this.changed.next(order);
    if (order.filled > (previous?.filled ?? 0)) this.refreshExecutions();
  }

  /** A staged order sent on (transmit_order): no longer staged, journaled so that a restart knows it too. */
  markTransmitted(orderId: number): void {
    const order = this.orders.get(orderId);
    if (!order || order.staged !== true) return;
    const transmitted = { ...order, staged: false };
    this.orders.set(orderId, transmitted);
    this.journal.record({
      type: 'response',
      event: 'reconciled',
      orderId,
      order: transmitted,
      reason: 'transmitted',
    });
    this.changed.next(transmitted);
  }

  /** Orders the broker provably never got (an uncertain send that did not arrive): forgotten, journaled. */
  absent(orderIds: number[], reason: string): void {
    for (const orderId of orderIds) {
      this.expected.delete(orderId);
      if (!this.orders.delete(orderId)) continue;
      this.journal.record({ type: 'response', event: 'absent', orderId, reason });
      this.forgotten.next({ orderId, reason });
    }
  }

  /** Fetches executions after a fill; concurrent fills share one fetch, and a fill during it asks for another. */
  refreshExecutions(): void {
    if (this.executionsRefresh) {
      this.executionsStale = true;
      return;
    }
    this.executionsRefresh = this.fetchExecutions()
      .then(
        () => undefined,
        (error: unknown) => this.logger.warn(`Could not fetch executions: ${String(error)}`),
      )
      .finally(() => {
        this.executionsRefresh = undefined;
        if (this.executionsStale) {
          this.executionsStale = false;
          this.refreshExecutions();
        }
      });
  }

  /** This client's executions and commissions; journals the new ones. Returns filled quantity per order. */
  private async fetchExecutions(): Promise<Map<number, number>> {
    // Every client's, told apart here: this service's session may have had another client id than configured.
    const { executions, commissions } = await this.broker.executions(true);
    const filledByOrder = new Map<number, number>();
    const orderByExecId = new Map<string, number>();
    const seenNow = new Set<string>();
    const fresh = new Map<string, ExecutionReport & { orderId: number; execId: string }>();
    for (const { orderId, execId, clientId, ...execution } of executions) {
      if (orderId === undefined || execId === undefined || seenNow.has(execId)) continue;
      if (clientId !== undefined && !this.isOwnClient(clientId)) continue;
      seenNow.add(execId);
      orderByExecId.set(execId, orderId);
      filledByOrder.set(orderId, (filledByOrder.get(orderId) ?? 0) + (execution.shares ?? 0));
      if (this.seenExecutions.has(execId)) continue;
      this.seenExecutions.add(execId);
      this.journal.record({ type: 'response', event: 'execDetails', orderId, execId, ...execution });
      fresh.set(execId, { orderId, execId, clientId, ...execution });
    }
    for (const { execId, commission, currency, realizedPnl } of commissions) {
      if (execId === undefined || this.commissions.has(execId)) continue;
      const orderId = orderByExecId.get(execId);
      if (orderId === undefined || commission === undefined) continue;
      this.commissions.set(execId, { orderId, commission });
      this.journal.record({
        type: 'response',
        event: 'commission',
        orderId,
        execId,
        commission,
        currency,
        realizedPnl,
      });
    }
    for (const execution of fresh.values()) {
      const commission = commissions.find((report) => report.execId === execution.execId);
      this.executed.next({
        ...execution,
        commission: commission?.commission ?? null,
        commissionCurrency: commission?.currency ?? null,
        realizedPnl: commission?.realizedPnl ?? null,
      });
    }
    return filledByOrder;
  }

  /** Restores the last known state of each order from the journal. */
  private replay(entry: JournalEntry): void {
    if (entry.type === 'sent' && Array.isArray(entry.orders)) {
      // Sent but perhaps never acknowledged (a crash in between): known as PendingSubmit until the broker says.
      for (const order of entry.orders as TrackedOrder[]) {
        if (typeof order.clientId === 'number') this.placedByClients.add(order.clientId);
        if (
          typeof order.orderId === 'number' &&
          typeof order.status === 'string' &&
          !this.orders.has(order.orderId)
        ) {
          this.orders.set(order.orderId, order);
        }
      }
      return;
    }
    if (entry.type !== 'response' || typeof entry.orderId !== 'number') return;
    const orderId = entry.orderId;
    switch (entry.event) {
      case 'openOrder':
      case 'orderStatus':
      case 'reconciled':
        this.orders.set(orderId, entry.order as TrackedOrder);
        break;
      case 'absent':
        this.orders.delete(orderId);
        break;
      case 'error': {
        const order = this.orders.get(orderId);
        const code = Number(entry.code);
        if (order && isOrderFailure(code)) {
          this.orders.set(orderId, {
            ...order,
            ...(order.status === 'PendingSubmit' ? { status: 'Inactive' } : {}),
            lastError: { code, message: String(entry.message), at: entry.at },
          });
        }
        break;
      }
      case 'execDetails':
        if (typeof entry.execId === 'string') this.seenExecutions.add(entry.execId);
        break;
      case 'commission':
        if (typeof entry.execId === 'string' && typeof entry.commission === 'number') {
          this.commissions.set(entry.execId, { orderId, commission: entry.commission });
        }
        break;
      default:
        break;
    }
  }
}
