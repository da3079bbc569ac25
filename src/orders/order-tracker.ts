import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type IBApiNext, type OpenOrder, type OpenOrdersUpdate, type OrderState } from '@stoqey/ib';
import { lastValueFrom, Subject, type Observable, type Subscription } from 'rxjs';
import { IbSession, type IbApiTarget, type IbErrorEvent } from '../connection/ib-session.repository';
import { IB_API_TARGET } from '../config/config.tokens';
import { OrderJournalRepository, type JournalEntry } from './order-journal.repository';
import type { OrderView } from './orders.schemas';

/** What the service knows of one order; commission and idempotency key are added when it is viewed. */
export type TrackedOrder = Omit<OrderView, 'commission' | 'idempotencyKey'>;

export type OrderEvent =
  | { kind: 'order'; event: 'openOrder' | 'orderStatus'; order: TrackedOrder }
  | { kind: 'whatIf'; orderId: number; state: OrderState }
  | { kind: 'error'; orderId: number; code: number; message: string };

/** IB's "unset" doubles arrive as Double.MAX or not at all. */
function realNumber(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && Math.abs(value) < 1e300 ? value : undefined;
}

const OPEN_STATUSES: readonly string[] = [
  'PendingSubmit',
  'ApiPending',
  'PreSubmitted',
  'Submitted',
  'PendingCancel',
];

export function isOpenStatus(status: string): boolean {
  return OPEN_STATUSES.includes(status);
}

/** Codes that are informational at IB (warnings, farm status), not a verdict on the order. */
export function isWarningCode(code: number): boolean {
  return (code >= 2100 && code <= 2999) || [399, 10090, 10167, 492].includes(code);
}

/** IB's confirmation of a cancel is an error message (202), not a failure. */
export const ORDER_CANCELLED_CODE = 202;

/** An IBApiNext open order in the API's terms. */
export function trackedFromOpenOrder(open: OpenOrder, previous: TrackedOrder | undefined): TrackedOrder {
  const { order, contract, orderState, orderStatus } = open;
  const orderType = String(order.orderType);
  const trailing = orderType === 'TRAIL' || orderType === 'TRAIL LIMIT';
  const quantity = realNumber(order.totalQuantity) ?? previous?.quantity ?? 0;
  const filled = realNumber(orderStatus?.filled) ?? previous?.filled ?? 0;
  const stopPrice = trailing ? realNumber(order.trailStopPrice) : realNumber(order.auxPrice);
  const parentId = order.parentId !== undefined && order.parentId > 0 ? order.parentId : undefined;
  const tracked: TrackedOrder = {
    orderId: open.orderId,
    ...(parentId === undefined ? {} : { parentId }),
    ...(order.permId ? { permId: order.permId } : {}),
    ...(order.clientId === undefined ? {} : { clientId: order.clientId }),
    ...(order.account ? { account: order.account } : {}),
    contract: {
      ...(contract.conId ? { conId: contract.conId } : {}),
      ...(contract.symbol ? { symbol: contract.symbol } : {}),
      ...(contract.secType ? { secType: String(contract.secType) } : {}),
      ...(contract.exchange ? { exchange: contract.exchange } : {}),
      ...(contract.currency ? { currency: contract.currency } : {}),
      ...(contract.localSymbol ? { localSymbol: contract.localSymbol } : {}),
      ...(contract.lastTradeDateOrContractMonth ? { expiry: contract.lastTradeDateOrContractMonth } : {}),
      ...(realNumber(contract.strike) ? { strike: contract.strike } : {}),
      ...(contract.right ? { right: String(contract.right) } : {}),
    },
    side: String(order.action ?? previous?.side ?? ''),
    quantity,
    orderType,
    ...(realNumber(order.lmtPrice) === undefined || orderType === 'MKT' || orderType === 'STP' || trailing
      ? {}
      : { limitPrice: realNumber(order.lmtPrice) }),
    ...(stopPrice === undefined ? {} : { stopPrice }),
    ...(trailing &&
    realNumber(order.trailingPercent) === undefined &&
    realNumber(order.auxPrice) !== undefined
      ? { trailingAmount: realNumber(order.auxPrice) }
      : {}),
    ...(trailing && realNumber(order.trailingPercent) !== undefined
      ? { trailingPercent: realNumber(order.trailingPercent) }
      : {}),
    ...(order.tif ? { tif: String(order.tif) } : {}),
    outsideRth: order.outsideRth === true,
    status: String(orderStatus?.status ?? orderState.status),
    filled,
    remaining: realNumber(orderStatus?.remaining) ?? Math.max(0, quantity - filled),
    ...(filled > 0 && realNumber(orderStatus?.avgFillPrice) !== undefined
      ? { avgFillPrice: realNumber(orderStatus?.avgFillPrice) }
      : {}),
    ...(filled > 0 && realNumber(orderStatus?.lastFillPrice) !== undefined
      ? { lastFillPrice: realNumber(orderStatus?.lastFillPrice) }
      : {}),
    ...(previous?.lastError ? { lastError: previous.lastError } : {}),
    updatedAt: new Date().toISOString(),
  };
  return tracked;
}

/** Everything but the timestamp: two states that differ only in when we heard them are the same. */
function sameState(a: TrackedOrder | undefined, b: TrackedOrder): boolean {
  if (!a) return false;
  const { updatedAt: _a, ...restA } = a;
  const { updatedAt: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

/**
 * This service's orders as the broker reports them: follows the session's open-order stream, order errors
 * and executions, journals every broker response, and restores the last known state from the journal at
 * start-up (so a filled order is still known after a restart).
 */
@Injectable()
export class OrderTracker implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(OrderTracker.name);
  private readonly orders = new Map<number, TrackedOrder>();
  /** Orders being placed right now: their errors count even before the broker acknowledges them. */
  private readonly expected = new Set<number>();
  /** Order ids a request waits on (see watch). */
  private readonly watched = new Map<number, number>();
  private readonly commissions = new Map<string, { orderId: number; commission: number }>();
  private readonly seenExecutions = new Set<string>();
  private readonly seenWhatIfs = new Set<number>();
  /** The orderStatus object last seen per order: IBApiNext replaces it on every ORDER_STATUS. */
  private readonly lastStatusObject = new Map<number, unknown>();
  private readonly eventSubject = new Subject<OrderEvent>();
  private readonly subscriptions: Subscription[] = [];
  private session: IBApiNext | undefined;
  private sessionStream: Subscription | undefined;
  private executionsRefresh: Promise<void> | undefined;
  /** Requests in flight that make IB list the open orders again (see whileRelisting). */
  private relistings = 0;
  private executionsStale = false;

  constructor(
    private readonly ibApi: IbSession,
    private readonly journal: OrderJournalRepository,
    @Inject(IB_API_TARGET) private readonly target: IbApiTarget,
  ) {}

  get events(): Observable<OrderEvent> {
    return this.eventSubject.asObservable();
  }

  async onModuleInit(): Promise<void> {
    for await (const entry of this.journal.entries()) this.replay(entry);
    this.subscriptions.push(
      this.ibApi.states.subscribe((state) => {
        if (state === 'connected') this.follow();
      }),
      this.ibApi.errors.subscribe((error) => this.onError(error)),
    );
  }

  onModuleDestroy(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.sessionStream?.unsubscribe();
    this.eventSubject.complete();
  }

  get(orderId: number): TrackedOrder | undefined {
    return this.orders.get(orderId);
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
    if (!this.orders.has(order.orderId)) this.orders.set(order.orderId, order);
  }

  /** Marks an order id a request waits on: its errors are reported even if the order is unknown. */
  watch(orderId: number): () => void {
    this.watched.set(orderId, (this.watched.get(orderId) ?? 0) + 1);
    return () => {
      const count = (this.watched.get(orderId) ?? 1) - 1;
      if (count > 0) this.watched.set(orderId, count);
      else this.watched.delete(orderId);
    };
  }

  /** Records this service's open orders fetched on request (get_open_orders), journaling what changed. */
  absorb(openOrders: OpenOrder[]): TrackedOrder[] {
    return openOrders.map((open) => this.update(open, 'openOrder', false));
  }

  /** Another client's (or TWS's) open order, in the API's terms; not tracked. */
  viewOfForeign(open: OpenOrder): TrackedOrder {
    return trackedFromOpenOrder(open, undefined);
  }

  /** Follows the open-order stream of the current session (a new one after a reconnect). */
  private follow(): void {
    let ib: IBApiNext;
    try {
      ib = this.ibApi.ibClient('order updates');
    } catch {
      return;
    }
    if (ib === this.session) return; // IBApiNext re-sends its own subscriptions on reconnect
    this.session = ib;
    this.sessionStream?.unsubscribe();
    let first = true;
    this.sessionStream = ib.getAutoOpenOrders(false).subscribe({
      next: (update) => {
        // The first emission is a (partial) listing whatever it says: IBApiNext marks it all "added".
        this.onOpenOrders(first ? { all: update.all } : update);
        first = false;
      },
      error: (error: unknown) => this.logger.warn(`The open-order stream failed: ${String(error)}`),
    });
    // The stream's listing cannot be told complete; a one-shot listing can.
    this.whileRelisting(async () =>
      this.ibApi.ibRequest('open orders', async (session) =>
        lastValueFrom(session.getOpenOrders(), { defaultValue: undefined }),
      ),
    ).then(
      async (listing) => this.reconcile(listing?.all ?? []),
      (error: unknown) => this.logger.warn(`Could not list open orders after connecting: ${String(error)}`),
    );
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

  private onOpenOrders(update: OpenOrdersUpdate): void {
    // added/changed name the orders a broker message was about; a bare `all` is a (re-)listing.
    const touched = [...(update.added ?? []), ...(update.changed ?? [])];
    const listing = touched.length === 0;
    for (const open of listing ? update.all : touched) {
      if (open.order.whatIf === true) {
        this.onWhatIf(open);
        continue;
      }
      const statusObject = open.orderStatus;
      const event =
        statusObject !== undefined && statusObject !== this.lastStatusObject.get(open.orderId)
          ? 'orderStatus'
          : 'openOrder';
      this.lastStatusObject.set(open.orderId, statusObject);
      this.update(open, event, !listing);
    }
  }

  /** Applies one broker report; journals it when it is a fresh message or changes what we knew. */
  private update(open: OpenOrder, event: 'openOrder' | 'orderStatus', fresh: boolean): TrackedOrder {
    const previous = this.orders.get(open.orderId);
    const order = trackedFromOpenOrder(open, previous);
    const changed = !sameState(previous, order);
    this.orders.set(order.orderId, order);
    this.expected.delete(order.orderId);
    // Every broker message is journaled, except repeats of what we knew while the open orders are re-listed.
    if (changed || (fresh && this.relistings === 0)) {
      this.journal.record({ type: 'response', event, orderId: order.orderId, order });
    }
    if (fresh || changed) this.eventSubject.next({ kind: 'order', event, order });
    if (order.filled > (previous?.filled ?? 0)) this.refreshExecutions();
    return order;
  }

  private onWhatIf(open: OpenOrder): void {
    const permId = open.order.permId ?? 0;
    if (this.seenWhatIfs.has(permId)) return;
    this.seenWhatIfs.add(permId);
    const state = { ...open.orderState };
    this.journal.record({ type: 'response', event: 'whatIf', orderId: open.orderId, orderState: state });
    this.eventSubject.next({ kind: 'whatIf', orderId: open.orderId, state });
  }

  private onError(error: IbErrorEvent): void {
    const orderId = error.reqId;
    if (!this.orders.has(orderId) && !this.expected.has(orderId) && !this.watched.has(orderId)) return;
    const code = Number(error.code);
    const message = error.message;
    this.journal.record({ type: 'response', event: 'error', orderId, code, message });
    const order = this.orders.get(orderId);
    if (order && code !== ORDER_CANCELLED_CODE && !isWarningCode(code)) {
      const rejectedBeforeAck = order.status === 'PendingSubmit';
      this.orders.set(orderId, {
        ...order,
        ...(rejectedBeforeAck ? { status: 'Inactive' } : {}),
        lastError: { code, message, at: new Date().toISOString() },
        updatedAt: new Date().toISOString(),
      });
    }
    this.eventSubject.next({ kind: 'error', orderId, code, message });
  }

  /**
   * After a (re)connect: an order we last saw open but the broker no longer lists finished while we were
   * not watching. Its executions tell whether it filled; otherwise it was cancelled or expired (Unknown).
   */
  private async reconcile(listed: OpenOrder[]): Promise<void> {
    const listedIds = new Set(listed.map((open) => open.orderId));
    const vanished = this.all().filter(
      (order) =>
        isOpenStatus(order.status) &&
        !this.expected.has(order.orderId) &&
        order.clientId === this.target.clientId &&
        !listedIds.has(order.orderId),
    );
    if (vanished.length === 0) return;
    const fills = await this.fetchExecutions().catch(() => undefined);
    if (!fills) return;
    for (const stale of vanished) {
      const current = this.orders.get(stale.orderId);
      if (!current || !isOpenStatus(current.status)) continue;
      const filled = fills.get(stale.orderId) ?? 0;
      const reconciled: TrackedOrder = {
        ...current,
        status: filled >= current.quantity ? 'Filled' : 'Unknown',
        filled: Math.max(filled, current.filled),
        remaining: Math.max(0, current.quantity - Math.max(filled, current.filled)),
        updatedAt: new Date().toISOString(),
      };
      this.orders.set(reconciled.orderId, reconciled);
      this.journal.record({
        type: 'response',
        event: 'reconciled',
        orderId: reconciled.orderId,
        order: reconciled,
        reason: 'no longer listed open by the broker after a reconnect; status from its executions',
      });
    }
  }

  /** Fetches executions after a fill; concurrent fills share one fetch, and a fill during it asks for another. */
  private refreshExecutions(): void {
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
    const filter = { clientId: String(this.target.clientId) };
    const details = await this.ibApi.ibRequest('executions', async (ib) => ib.getExecutionDetails(filter));
    const reports = await this.ibApi.ibRequest('commission reports', async (ib) =>
      ib.getCommissionReport(filter),
    );
    const filledByOrder = new Map<number, number>();
    const orderByExecId = new Map<string, number>();
    const seenNow = new Set<string>();
    for (const { execution, contract } of details) {
      const orderId = execution.orderId;
      const execId = execution.execId;
      if (orderId === undefined || execId === undefined || seenNow.has(execId)) continue;
      if (execution.clientId !== undefined && execution.clientId !== this.target.clientId) continue;
      seenNow.add(execId);
      orderByExecId.set(execId, orderId);
      filledByOrder.set(orderId, (filledByOrder.get(orderId) ?? 0) + (execution.shares ?? 0));
      if (this.seenExecutions.has(execId)) continue;
      this.seenExecutions.add(execId);
      this.journal.record({
        type: 'response',
        event: 'execDetails',
        orderId,
        execId,
        symbol: contract.symbol,
        conId: contract.conId,
        side: execution.side,
        shares: execution.shares,
        price: execution.price,
        cumQty: execution.cumQty,
        avgPrice: execution.avgPrice,
        exchange: execution.exchange,
        account: execution.acctNumber,
        time: execution.time,
      });
    }
    for (const report of reports) {
      const execId = report.execId;
      if (execId === undefined || this.commissions.has(execId)) continue;
      const orderId = orderByExecId.get(execId);
      const commission = realNumber(report.commission);
      if (orderId === undefined || commission === undefined) continue;
      this.commissions.set(execId, { orderId, commission });
      this.journal.record({
        type: 'response',
        event: 'commission',
        orderId,
        execId,
        commission,
        currency: report.currency,
        realizedPnl: realNumber(report.realizedPNL),
      });
    }
    return filledByOrder;
  }

  /** Restores the last known state of each order from the journal. */
  private replay(entry: JournalEntry): void {
    if (entry.type === 'sent' && Array.isArray(entry.orders)) {
      // Sent but perhaps never acknowledged (a crash in between): known as PendingSubmit until the broker says.
      for (const order of entry.orders as TrackedOrder[]) {
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
      case 'error': {
        const order = this.orders.get(orderId);
        const code = Number(entry.code);
        if (order && code !== ORDER_CANCELLED_CODE && !isWarningCode(code)) {
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
