import type { Instrument } from '../market/instrument';
import type { ClientSession } from '../protocol/client-session';
import type { WireValue } from '../protocol/framing';
import { Request } from '../protocol/message-ids';
import { nextValidIdMessage } from '../protocol/messages';
import type { DropOnNextOrder, SimulatorContext } from '../simulator-context';
import { Ledger } from './account';
import { AccountFeeds } from './account-feeds';
import { BrokerCode, BrokerMessage } from './broker-codes';
import { brokerSnapshot, type BrokerSnapshot } from './broker-snapshot';
import { BROKER_STATE_VERSION, type BrokerState } from './broker-state';
import { BrokerStateFile } from './broker-state-file';
import { parseCancelOrder, parseGlobalCancel } from './cancel-parser';
import { ComboMarket } from './combo-market';
import { executionRecordOf, isComboTicket, legFillsOf, validateComboOrder } from './combo-orders';
import type { MarketView } from './market-view';
import { Order, type Fill } from './order';
import { OrderBook } from './order-book';
import {
  commissionReportMessage,
  executionMessage,
  openOrderMessage,
  orderStatusMessage,
  type OrderStatus,
} from './order-messages';
import { OrderQueries } from './order-queries';
import { parsePlaceOrder } from './order-parser';
import type { OrderTicket } from './order-ticket';
import { validateOrder } from './order-validation';
import { evaluateComboWhatIf, evaluateWhatIf } from './what-if';

/** Working orders are checked against the market this often. */
const EVALUATION_INTERVAL_MS = 200;
/** Live fills carry this request id. */
const LIVE_EXECUTION_REQ_ID = -1;
/** Security types whose orders fill only in regular hours unless they say outsideRth. */
const RTH_ONLY_TYPES: readonly string[] = ['STK', 'OPT', 'BAG'];

/** What the broker started from: memory only, a new state file, a saved state, or a file it could not use. */
export type BrokerStateRestore =
  | { outcome: 'in-memory' }
  | { outcome: 'fresh'; path: string }
  | { outcome: 'restored'; path: string; orders: number; executions: number; skipped: number }
  | { outcome: 'unreadable'; path: string; reason: string };

export interface BrokerOptions {
  nextOrderId: number;
  /** Where the broker keeps its state across restarts; memory only without one. */
  stateFile?: string;
}

/**
 * The simulated broker: order ids, orders and their fills against the market, executions, and the
 * accounts those fills move (cash, positions, PnL), over the TWS protocol. With a state file, every
 * change is on disk before a client hears of it, as IB's servers keep orders across a gateway restart.
 */
export class Broker {
  private readonly book: OrderBook;
  private readonly ledger: Ledger;
  private readonly feeds: AccountFeeds;
  private readonly queries: OrderQueries;
  private readonly stateFile: BrokerStateFile | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The market plus the BAG instruments of combo orders. */
  readonly market: ComboMarket;

  constructor(
    readonly context: SimulatorContext,
    market: MarketView,
    options: BrokerOptions,
  ) {
    this.market = new ComboMarket(market);
    this.book = new OrderBook(options.nextOrderId, context.seed);
    this.ledger = new Ledger(context.accounts, market, () => context.clock.now());
    this.feeds = new AccountFeeds(context, this.ledger);
    this.queries = new OrderQueries(context, this.book);
    this.stateFile = options.stateFile === undefined ? undefined : new BrokerStateFile(options.stateFile);
  }

  /** What NEXT_VALID_ID reports right now (the connect burst); REQ_IDS reserves ids. */
  get nextValidOrderId(): number {
    return this.book.nextValidId;
  }

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_IDS, (session) => {
      const orderId = this.book.reserveId();
      this.persist(); // a restarted simulator must never hand the same id out again
      session.send(nextValidIdMessage(orderId));
    });
    server.on(Request.PLACE_ORDER, (session, request) => this.placeOrder(session, parsePlaceOrder(request)));
    server.on(Request.CANCEL_ORDER, (session, request) =>
      this.cancelRequest(session, parseCancelOrder(request).orderId),
    );
    server.on(Request.REQ_GLOBAL_CANCEL, (_session, request) => {
      parseGlobalCancel(request);
      for (const order of this.book.openOrders()) this.cancel(order);
    });
    this.queries.register();
    this.feeds.register();
    this.timer = setInterval(() => this.evaluateAll(), EVALUATION_INTERVAL_MS);
    this.timer.unref();
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.feeds.dispose();
    this.queries.dispose();
  }

  /** Cash, positions and orders, for the control surface. */
  snapshot(): BrokerSnapshot {
    return brokerSnapshot(this.book, this.ledger);
  }

  // ---- The state file ----

  /**
   * Takes over the saved state, if there is a file: orders (working ones keep working), executions, id
   * counters and accounts. A file that cannot be used is reported and the broker starts empty.
   */
  restoreState(): BrokerStateRestore {
    const file = this.stateFile;
    if (!file) return { outcome: 'in-memory' };
    const loaded = file.load();
    if (loaded.outcome === 'absent') return { outcome: 'fresh', path: file.path };
    if (loaded.outcome === 'unreadable') {
      return { outcome: 'unreadable', path: file.path, reason: loaded.reason };
    }
    const { book, ledger } = loaded.state;
    const instrumentOf = (conId: number) => this.market.instrument(conId);
    // Orders of accounts no longer managed could never fill; they stay out.
    const orders = book.orders.filter((order) => this.ledger.has(order.account));
    // A combo order's BAG instrument is made again from its legs (same legs, same conId).
    for (const { ticket } of orders) this.market.restoreBag(ticket.contract);
    const empty = this.state();
    try {
      this.ledger.restore(ledger, instrumentOf);
      this.book.restore({ ...book, orders }, instrumentOf);
    } catch (error) {
      this.ledger.restore(empty.ledger, instrumentOf);
      this.book.restore(empty.book, instrumentOf);
      return { outcome: 'unreadable', path: file.path, reason: String(error) };
    }
    const restored = { orders: this.book.allOrders().length, executions: this.book.executions.length };
    const skipped = book.orders.length - restored.orders + book.executions.length - restored.executions;
    return { outcome: 'restored', path: file.path, ...restored, skipped };
  }

  private state(): BrokerState {
    return { version: BROKER_STATE_VERSION, book: this.book.toState(), ledger: this.ledger.toState() };
  }

  /** Writes the state before any message about a change leaves, so an acknowledged order is on disk. */
  private persist(): void {
    if (!this.stateFile) return;
    try {
      this.stateFile.save(this.state());
    } catch (error) {
      this.context.log(`broker state not saved to ${this.stateFile.path}: ${String(error)}`);
    }
  }

  // ---- Placing, modifying, cancelling ----

  private placeOrder(session: ClientSession, ticket: OrderTicket): void {
    const clientId = session.clientId ?? 0;
    const existing = this.book.get(ticket.orderId);
    const isNewOrder = !ticket.whatIf && !existing;
    if (isNewOrder && this.takeDropFault('before-accepting')) return;
    if (existing && !ticket.whatIf) {
      // Only a working order of the same client can be modified; a finished order's id is spent.
      if (!existing.isOpen || existing.clientId !== clientId) {
        session.sendError(ticket.orderId, BrokerCode.DUPLICATE_ORDER_ID, BrokerMessage.duplicateOrderId);
        return;
      }
      this.modify(session, existing, ticket);
      return;
    }
    if (!existing && !this.book.isFreshId(ticket.orderId)) {
      session.sendError(ticket.orderId, BrokerCode.DUPLICATE_ORDER_ID, BrokerMessage.duplicateOrderId);
      return;
    }
    const accepted = this.validate(session, ticket);
    if (!accepted) return;
    if (ticket.whatIf) {
      this.whatIf(session, ticket, accepted.instrument, accepted.account);
      return;
    }
    const order = new Order(
      ticket,
      accepted.instrument,
      accepted.account,
      clientId,
      this.book.allocatePermId(),
    );
    this.book.add(order);
    order.status = this.workingStatus(order);
    this.persist();
    this.takeDropFault('after-accepting');
    this.report(order);
    if (ticket.transmit) this.transmitGroup(order);
    this.evaluate(order);
  }

  /** The one-shot fault of the control surface: every API connection drops, once. */
  private takeDropFault(when: DropOnNextOrder): boolean {
    if (this.context.faults.dropOnNextOrder !== when) return false;
    this.context.faults.dropOnNextOrder = undefined;
    this.context.server.dropAllConnections();
    return true;
  }

  private modify(session: ClientSession, order: Order, ticket: OrderTicket): void {
    const accepted = this.validate(session, ticket);
    if (!accepted) return;
    if (accepted.instrument.conId !== order.instrument.conId || ticket.action !== order.ticket.action) {
      session.sendError(ticket.orderId, BrokerCode.ORDER_MISMATCH, BrokerMessage.orderMismatch);
      return;
    }
    order.modify(ticket);
    if (order.remaining > 0) order.status = this.workingStatus(order);
    else order.complete('Filled', this.context.clock.now());
    this.report(order);
    if (ticket.transmit) this.transmitGroup(order);
    this.evaluate(order);
  }

  /** IB's pre-acceptance checks; the first failure is reported against the order id. */
  private validate(
    session: ClientSession,
    ticket: OrderTicket,
  ): { instrument: Instrument; account: string } | undefined {
    const context = {
      market: this.market,
      ledger: this.ledger,
      book: this.book,
      nowMs: this.context.clock.now(),
    };
    const verdict = isComboTicket(ticket)
      ? validateComboOrder(ticket, context, this.market)
      : validateOrder(ticket, context);
    if (verdict.accepted) return verdict;
    session.sendError(ticket.orderId, verdict.code, verdict.text);
    return undefined;
  }

  /**
   * A transmitted order releases its whole group: held (transmit=0) orders of the same parent, and
   * the parent itself. Children still wait for the parent to fill.
   */
  private transmitGroup(order: Order): void {
    const root = order.ticket.parentId > 0 ? this.book.get(order.ticket.parentId) : order;
    if (!root) return;
    for (const member of [root, ...this.book.children(root)]) {
      if (!member.held || !member.isOpen) continue;
      member.held = false;
      if (member !== order) this.evaluate(member);
    }
    order.held = false;
    this.syncStatus(order);
    this.persist(); // held flags that changed no status
  }

  private cancelRequest(session: ClientSession, orderId: number): void {
    const order = this.book.get(orderId);
    if (!order || !order.isOpen || order.clientId !== session.clientId) {
      session.sendError(orderId, BrokerCode.CANCEL_NOT_FOUND, BrokerMessage.cancelNotFound(orderId));
      return;
    }
    this.cancel(order);
  }

  /** ORDER_STATUS Cancelled, then 202; a cancelled parent takes its children with it. */
  private cancel(order: Order): void {
    if (!order.isOpen) return;
    order.complete('Cancelled', this.context.clock.now());
    this.persist();
    for (const session of this.queries.sessionsFor(order)) {
      session.send(
        orderStatusMessage(order, 'Cancelled', order.filled, order.avgFillPrice, order.lastFillPrice),
      );
      session.sendError(order.orderId, BrokerCode.ORDER_CANCELLED, BrokerMessage.orderCancelled);
    }
    for (const child of this.book.children(order)) this.cancel(child);
  }

  // ---- Working orders against the market ----

  private evaluateAll(): void {
    for (const order of this.book.openOrders()) this.evaluate(order);
  }

  /**
   * Whether the order may fill now: its instrument trades, and a stock or option order without
   * outsideRth waits for regular hours, as at IB.
   */
  private inTradingHours(order: Order): boolean {
    const conId = order.instrument.conId;
    if (!this.market.isTrading(conId)) return false;
    if (order.ticket.outsideRth || !RTH_ONLY_TYPES.includes(order.instrument.secType)) return true;
    return this.market.isRegularHours(conId);
  }

  /** Where an order stands when it is not filling: working (Submitted) or not yet (PreSubmitted). */
  private workingStatus(order: Order): OrderStatus {
    if (order.held || this.waitsForParent(order) || !this.inTradingHours(order)) return 'PreSubmitted';
    // IB simulates stop orders itself: they show PreSubmitted until triggered.
    return order.isStopType && !order.triggered ? 'PreSubmitted' : 'Submitted';
  }

  private waitsForParent(order: Order): boolean {
    if (order.ticket.parentId <= 0) return false;
    return this.book.get(order.ticket.parentId)?.status !== 'Filled';
  }

  /** Reports a status change; returns whether there was one. */
  private syncStatus(order: Order): boolean {
    if (!order.isOpen) return false;
    const status = this.workingStatus(order);
    if (status === order.status) return false;
    order.status = status;
    this.report(order);
    return true;
  }

  private evaluate(order: Order): void {
    if (!order.isOpen) return;
    if (order.isExpired(this.context.clock.now())) {
      this.cancel(order);
      return;
    }
    if (order.isOnClose && !order.held && !this.waitsForParent(order)) {
      this.evaluateOnClose(order);
      return;
    }
    if (order.held || this.waitsForParent(order) || !this.inTradingHours(order)) {
      this.syncStatus(order);
      return;
    }
    const { fill, stopChanged } = order.evaluate(this.market.quote(order.instrument.conId));
    if (fill) {
      this.fill(order, fill);
      return;
    }
    // A trailing stop that moved shows its new stop price.
    if (!this.syncStatus(order) && stopChanged) this.report(order);
  }

  /**
   * MOC and LOC work through the regular session and execute at its close: the first evaluation after it at
   * the last price (a LOC whose limit the close does not meet is cancelled, as the exchange does).
   */
  private evaluateOnClose(order: Order): void {
    if (this.market.isRegularHours(order.instrument.conId)) {
      order.triggered = true;
      this.syncStatus(order);
      return;
    }
    if (!order.triggered) return void this.syncStatus(order);
    const fill = order.closingFill(this.market.quote(order.instrument.conId));
    if (fill) this.fill(order, fill);
    else this.cancel(order);
  }

  /**
   * ORDER_STATUS, OPEN_ORDER, then EXECUTION_DATA and COMMISSION_REPORT per instrument traded (a combo's
   * legs each), then the account follows.
   */
  private fill(order: Order, fill: Fill): void {
    const legs = this.market.legsOf(order.instrument.conId);
    const traded = legFillsOf(order, fill, legs, (conId) => this.market.quote(conId));
    order.recordFill(fill);
    const now = this.context.clock.now();
    if (order.remaining > 0) order.status = 'Submitted';
    else order.complete('Filled', now);
    const executions = traded.map((leg) => {
      const outcome = this.ledger.applyFill(
        order.account,
        leg.instrument,
        leg.isBuy,
        leg.quantity,
        leg.price,
        leg.commission,
      );
      const execId = this.book.allocateExecId(now);
      return { ...executionRecordOf(order, leg, { execId, now, combo: legs !== undefined }), ...outcome };
    });
    this.book.executions.push(...executions.map(({ position: _position, ...execution }) => execution));
    this.persist();
    const messages: WireValue[][] = [
      orderStatusMessage(order, order.status, order.filled, order.avgFillPrice, order.lastFillPrice),
      openOrderMessage(order, order.status),
      ...executions.flatMap((execution) => [
        executionMessage(LIVE_EXECUTION_REQ_ID, execution),
        commissionReportMessage(execution),
      ]),
    ];
    for (const session of this.queries.sessionsFor(order))
      for (const message of messages) session.send(message);
    for (const execution of executions) this.feeds.positionChanged(execution.position);
    if (order.status !== 'Filled') return;
    for (const peer of this.book.ocaPeers(order)) this.cancel(peer);
    for (const child of this.book.children(order)) this.evaluate(child);
  }

  // ---- What-if ----

  /** One OPEN_ORDER with the margin and commission the order would cause; nothing is stored. */
  private whatIf(session: ClientSession, ticket: OrderTicket, instrument: Instrument, account: string): void {
    const legs = this.market.legsOf(instrument.conId);
    const result = legs
      ? evaluateComboWhatIf(ticket, legs, account, this.market, this.ledger)
      : evaluateWhatIf(ticket, instrument, account, this.market, this.ledger);
    const identity = {
      ticket,
      instrument,
      account,
      clientId: session.clientId ?? 0,
      // Unique, so IBApiNext (which keys orders by permId) never merges two what-ifs.
      permId: this.book.allocatePermId(),
    };
    this.persist(); // the permId counter moved
    session.send(openOrderMessage(identity, 'PreSubmitted', result));
  }

  // ---- Reporting ----

  /** OPEN_ORDER and ORDER_STATUS of an order's current state, once the state is saved. */
  private report(order: Order): void {
    this.persist();
    const messages = [
      openOrderMessage(order, order.status),
      orderStatusMessage(order, order.status, order.filled, order.avgFillPrice, order.lastFillPrice),
    ];
    for (const session of this.queries.sessionsFor(order))
      for (const message of messages) session.send(message);
  }
}
