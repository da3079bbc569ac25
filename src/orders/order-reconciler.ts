import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import type { Subscription } from 'rxjs';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { IB_REQUEST_TIMEOUT_MS, IbSession, type SessionState } from '../connection/ib-session.repository';
import { IdempotencyKeyRepository, type IdempotencyRecord } from './idempotency-key.repository';
import { OrderJournalRepository } from './order-journal.repository';
import {
  isOpenStatus,
  type CompletedOrderReport,
  type ExecutionReport,
  type OrderReport,
  type TrackedOrder,
} from './order-model';
import { OrderTracker } from './order-tracker';
import { OrdersRepository } from './orders.repository';

/** How long a caller is asked to wait before asking again when the broker cannot be asked now. */
export const UNKNOWN_STATE_RETRY_SECONDS = 5;
/**
 * IB lists completed orders and executions of the current day only: an uncertain key older than this may
 * have had an order that filled and dropped off the lists, so its absence from them proves nothing.
 */
export const ABSENCE_PROOF_WINDOW_MS = 6 * 3_600_000;

/** One complete look at the broker: every client's open orders, the finished orders, every execution. */
interface BrokerLook {
  open: OrderReport[];
  completed: CompletedOrderReport[];
  executions: ExecutionReport[];
}

/** The answer when an order's state depends on a look at the broker that cannot be taken now. */
export function orderStateUnknown(subject: string, reason: string): DomainError {
  return new DomainError(
    'ORDER_STATE_UNKNOWN',
    `The state of ${subject} is unknown: ${reason}. Nothing was placed by this request. Ask again in ${UNKNOWN_STATE_RETRY_SECONDS} s (with the same idempotency key): once IB can be asked, the answer is what IB has`,
    { retryAfterSeconds: UNKNOWN_STATE_RETRY_SECONDS },
  );
}

/**
 * Makes the service's word on orders agree with the broker's. IB carries a key as the order's orderRef, so
 * whether an uncertain key's order exists is a question IB can answer: its open orders (all clients), its
 * completed orders and its executions, listed completely. Runs on every start-up and every reconnect (all
 * uncertain keys, and tracked orders that finished while nobody watched) and whenever a key is answered for
 * while uncertain. Placement and reconciliation take turns (exclusive): a key is never looked up while its
 * order is being sent.
 */
@Injectable()
export class OrderReconciler implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(OrderReconciler.name);
  private readonly lock = new Mutex();
  private subscription: Subscription | undefined;

  constructor(
    private readonly session: IbSession,
    private readonly broker: OrdersRepository,
    private readonly tracker: OrderTracker,
    private readonly keys: IdempotencyKeyRepository,
    private readonly journal: OrderJournalRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    let previous: SessionState | undefined;
    this.subscription = this.session.states.subscribe((state) => {
      const arrived = state === 'connected' && previous !== 'connected';
      previous = state;
      if (!arrived) return;
      this.broker.follow();
      this.exclusive(async () => this.reconcileAll()).catch((error: unknown) =>
        this.logger.warn(`Could not reconcile the orders with IB after connecting: ${String(error)}`),
      );
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /** Runs `run` while no order is being placed and no reconciliation runs. */
  async exclusive<T>(run: () => Promise<T>): Promise<T> {
    return this.lock.runExclusive(run);
  }

  /**
   * Settles one uncertain key (the caller holds `exclusive`): acknowledged when IB has its order (the tracker
   * adopts what IB says of it), absent when IB provably has none. ORDER_STATE_UNKNOWN when IB cannot be asked.
   */
  async settle(record: IdempotencyRecord): Promise<IdempotencyRecord> {
    const look = await this.look(`the order with idempotency key ${record.key}`);
    const settled = await this.settleKey(record, look);
    await this.journal.settled();
    return settled;
  }

  /** After a (re)connect: every uncertain key, this client's open orders, and orders that finished unseen. */
  async reconcileAll(): Promise<void> {
    const look = await this.look('the orders');
    this.tracker.absorb(look.open.filter((report) => this.tracker.isOwnClient(report.clientId)));
    const uncertain = this.keys.uncertain();
    for (const record of uncertain) {
      // One that is too old to tell stays uncertain; it is answered for with that reason (CONFLICT).
      await this.settleKey(record, look).catch((error: unknown) => {
        if (!(error instanceof DomainError && error.code === 'CONFLICT')) throw error;
      });
    }
    const finished = this.settleFinished(look);
    await this.journal.settled();
    if (uncertain.length > 0 || finished > 0) {
      this.logger.log(
        `Reconciled with IB: ${uncertain.length} uncertain idempotency key(s), ${finished} order(s) that finished while the service was not watching`,
      );
    }
  }

  private async look(subject: string): Promise<BrokerLook> {
    if (!this.session.isConnected) throw orderStateUnknown(subject, 'the IB API session is not connected');
    try {
      const open = await this.tracker.whileRelisting(async () => this.broker.allOpenOrders());
      const completed = await this.broker.completedOrders();
      const { executions } = await this.broker.executions(true);
      return { open, completed, executions };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw orderStateUnknown(subject, `IB's order lists could not be read (${reason})`);
    }
  }

  private async settleKey(record: IdempotencyRecord, look: BrokerLook): Promise<IdempotencyRecord> {
    const key = record.key;
    const open = look.open.filter((report) => report.orderRef === key);
    const completed = look.completed.filter((report) => report.orderRef === key);
    const executed = look.executions.filter((execution) => execution.orderRef === key);
    if (open.length + completed.length + executed.length === 0) {
      const age = this.clock.now() - Date.parse(record.at);
      if (!(age <= ABSENCE_PROOF_WINDOW_MS)) throw tooOldToTell(record);
      const absent = await this.keys.mark(key, 'absent');
      this.tracker.absent(
        record.orderIds,
        `IB has no order with idempotency key ${key} (open, completed or executed): it was never placed`,
      );
      return absent;
    }
    const reason = `idempotency key ${key} was uncertain (${record.state}); IB's order lists have it`;
    for (const report of open) this.tracker.reconciled(this.tracker.trackedOf(report), reason);
    for (const report of completed) {
      const orderId = this.orderIdOf(report, record, look.executions);
      const known = orderId === undefined ? undefined : this.tracker.get(orderId);
      if (known) this.tracker.reconciled(finishedOrder(known, report, this.now()), reason);
    }
    if (open.length + completed.length === 0) {
      for (const orderId of record.orderIds) {
        const known = this.tracker.get(orderId);
        const filled = sumShares(executed.filter((execution) => execution.orderId === orderId));
        if (known && filled > 0) this.tracker.reconciled(filledOrder(known, filled, this.now()), reason);
      }
    }
    return this.keys.mark(key, 'acknowledged');
  }

  /**
   * Tracked orders of this client last seen open that IB no longer lists open finished while the service was
   * not watching: the completed orders (by permId) or the executions say how; otherwise Unknown.
   */
  private settleFinished(look: BrokerLook): number {
    const listed = new Set(
      look.open
        .filter((report) => this.tracker.isOwnClient(report.clientId))
        .map((report) => `${report.clientId}:${report.orderId}`),
    );
    const vanished = this.tracker
      .all()
      .filter(
        (order) =>
          isOpenStatus(order.status) &&
          this.tracker.isOwnClient(order.clientId) &&
          !listed.has(`${order.clientId}:${order.orderId}`),
      );
    for (const order of vanished) {
      const completed = look.completed.find(
        (report) => order.permId !== undefined && report.permId === order.permId,
      );
      const executions = look.executions.filter(
        (execution) => execution.orderId === order.orderId && execution.clientId === order.clientId,
      );
      const filled = sumShares(executions);
      const settled = completed
        ? finishedOrder(order, completed, this.now())
        : filled >= order.quantity && filled > 0
          ? filledOrder(order, filled, this.now())
          : { ...filledOrder(order, filled, this.now()), status: 'Unknown' };
      this.tracker.reconciled(
        settled,
        'no longer listed open by IB after a reconnect; status from its completed orders and executions',
      );
    }
    if (vanished.length > 0) this.tracker.refreshExecutions();
    return vanished.length;
  }

  /** A completed order carries no order id: its executions, the tracker (by permId) or the key tell it. */
  private orderIdOf(
    report: CompletedOrderReport,
    record: IdempotencyRecord,
    executions: ExecutionReport[],
  ): number | undefined {
    if (report.permId !== undefined) {
      const executed = executions.find((execution) => execution.permId === report.permId);
      if (executed?.orderId !== undefined) return executed.orderId;
      const tracked = this.tracker.all().find((order) => order.permId === report.permId);
      if (tracked) return tracked.orderId;
    }
    return record.orderIds.length === 1 ? record.orderIds[0] : undefined;
  }

  private now(): string {
    return dateOf(this.clock).toISOString();
  }
}

/**
 * The answer to a send IB did not acknowledge (its key, if any, is now unknown): 503 when the session was
 * lost meanwhile, 504 when IB stayed silent. Either way a retry with the key asks IB before it places.
 */
export function unansweredSend(
  unanswered: number[],
  orderIds: number[],
  key: string | undefined,
  connected: boolean,
): DomainError {
  const orders = `order ${unanswered.join(', ')}`;
  const next =
    key === undefined
      ? 'check get_open_orders before placing it again: without an idempotency key a retry places a second order'
      : `retry with idempotency key ${key}: the retry asks IB and places the order only if IB does not have it`;
  if (!connected) {
    return new DomainError(
      'ORDER_STATE_UNKNOWN',
      `The connection to IB was lost while ${orders} was being sent: whether IB got it is unknown; ${next}`,
      { orderIds, retryAfterSeconds: UNKNOWN_STATE_RETRY_SECONDS },
    );
  }
  return new DomainError(
    'IB_TIMEOUT',
    `IB did not acknowledge ${orders} within ${IB_REQUEST_TIMEOUT_MS / 1000} s; it may still be working: ${next}`,
    { orderIds },
  );
}

/** An uncertain key whose absence from IB's lists proves nothing any more (see ABSENCE_PROOF_WINDOW_MS). */
function tooOldToTell(record: IdempotencyRecord): DomainError {
  return new DomainError(
    'CONFLICT',
    `Whether the order of idempotency key ${record.key} (order id ${record.orderIds.join(', ')}, sent ${record.at}) reached IB was never learned, and IB lists completed orders and executions of the current day only, so it cannot be told any more. Check the account's trade history; to place the order now, use a new idempotency key`,
    { orderIds: record.orderIds },
  );
}

function sumShares(executions: ExecutionReport[]): number {
  return executions.reduce((total, execution) => total + (execution.shares ?? 0), 0);
}

function finishedOrder(order: TrackedOrder, report: CompletedOrderReport, at: string): TrackedOrder {
  const filled = Math.max(report.filled ?? 0, order.filled);
  return {
    ...order,
    ...(report.permId ? { permId: report.permId } : {}),
    status: report.status,
    filled,
    remaining: report.status === 'Filled' ? 0 : Math.max(0, order.quantity - filled),
    updatedAt: at,
  };
}

function filledOrder(order: TrackedOrder, filled: number, at: string): TrackedOrder {
  const total = Math.max(filled, order.filled);
  return {
    ...order,
    status: total >= order.quantity ? 'Filled' : order.status,
    filled: total,
    remaining: Math.max(0, order.quantity - total),
    updatedAt: at,
  };
}
