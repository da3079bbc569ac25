import { formatTwsDateTime } from '../control/simulator-clock';
import type { Instrument } from '../market/instrument';
import type { ClientSession } from '../protocol/client-session';
import type { FieldReader } from '../protocol/field-reader';
import type { WireValue } from '../protocol/framing';
import { Request } from '../protocol/message-ids';
import { nextValidIdMessage, NO_REQUEST_ID } from '../protocol/messages';
import type { SimulatorContext } from '../simulator-context';
import { Ledger } from './account';
import { AccountFeeds } from './account-feeds';
import { BrokerCode, BrokerMessage } from './broker-codes';
import { brokerSnapshot, type BrokerSnapshot } from './broker-snapshot';
import { fillCommission } from './commission';
import { parseExecutionFilter, type ExecutionFilter } from './execution-filter';
import type { MarketView } from './market-view';
import { Order, type Fill } from './order';
import { OrderBook } from './order-book';
import {
  commissionReportMessage,
  executionEndMessage,
  executionMessage,
  openOrderEndMessage,
  openOrderMessage,
  orderStatusMessage,
  routedExchange,
  type ExecutionRecord,
  type OrderStatus,
} from './order-messages';
import { parsePlaceOrder } from './order-parser';
import type { OrderTicket } from './order-ticket';
import { validateOrder } from './order-validation';
import { evaluateWhatIf } from './what-if';

/** Working orders are checked against the market this often. */
const EVALUATION_INTERVAL_MS = 200;
/** Live fills carry this request id. */
const LIVE_EXECUTION_REQ_ID = -1;
/** Security types whose orders fill only in regular hours unless they say outsideRth. */
const RTH_ONLY_TYPES: readonly string[] = ['STK', 'OPT'];

/**
 * The simulated broker: order ids, orders and their fills against the market, executions, and the
 * accounts those fills move (cash, positions, PnL), over the TWS protocol.
 */
export class Broker {
  private readonly book: OrderBook;
  private readonly ledger: Ledger;
  private readonly feeds: AccountFeeds;
  /** Sessions that asked for every order's updates (REQ_AUTO_OPEN_ORDERS with autoBind, client 0). */
  private readonly autoBound = new Set<ClientSession>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly context: SimulatorContext,
    readonly market: MarketView,
    options: { nextOrderId: number },
  ) {
    this.book = new OrderBook(options.nextOrderId, context.seed);
    this.ledger = new Ledger(context.accounts, market, () => context.clock.now());
    this.feeds = new AccountFeeds(context, this.ledger);
  }

  /** What NEXT_VALID_ID reports right now (the connect burst); REQ_IDS reserves ids. */
  get nextValidOrderId(): number {
    return this.book.nextValidId;
  }

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_IDS, (session) => session.send(nextValidIdMessage(this.book.reserveId())));
    server.on(Request.PLACE_ORDER, (session, request) => this.placeOrder(session, parsePlaceOrder(request)));
    server.on(Request.CANCEL_ORDER, (session, request) => this.cancelRequest(session, request.int()));
    server.on(Request.REQ_GLOBAL_CANCEL, () => {
      for (const order of this.book.openOrders()) this.cancel(order);
    });
    server.on(Request.REQ_OPEN_ORDERS, (session) =>
      this.sendOpenOrders(session, (order) => order.clientId === session.clientId),
    );
    server.on(Request.REQ_ALL_OPEN_ORDERS, (session) => this.sendOpenOrders(session, () => true));
    server.on(Request.REQ_AUTO_OPEN_ORDERS, (session, request) => this.autoOpenOrders(session, request));
    server.on(Request.REQ_EXECUTIONS, (session, request) => this.sendExecutions(session, request));
    this.feeds.register();
    this.timer = setInterval(() => this.evaluateAll(), EVALUATION_INTERVAL_MS);
    this.timer.unref();
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.feeds.dispose();
    this.autoBound.clear();
  }

  /** Cash, positions and open orders, for the control surface. */
  snapshot(): BrokerSnapshot {
    return brokerSnapshot(this.book, this.ledger);
  }

  // ---- Placing, modifying, cancelling ----

  private placeOrder(session: ClientSession, ticket: OrderTicket): void {
    const clientId = session.clientId ?? 0;
    const existing = this.book.get(ticket.orderId);
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
    this.report(order);
    if (ticket.transmit) this.transmitGroup(order);
    this.evaluate(order);
  }

  private modify(session: ClientSession, order: Order, ticket: OrderTicket): void {
    const accepted = this.validate(session, ticket);
    if (!accepted) return;
    if (accepted.instrument.conId !== order.instrument.conId || ticket.action !== order.ticket.action) {
      session.sendError(ticket.orderId, BrokerCode.ORDER_MISMATCH, BrokerMessage.orderMismatch);
      return;
    }
    order.modify(ticket);
    order.status = order.remaining > 0 ? this.workingStatus(order) : 'Filled';
    this.report(order);
    if (ticket.transmit) this.transmitGroup(order);
    this.evaluate(order);
  }

  /** IB's pre-acceptance checks; the first failure is reported against the order id. */
  private validate(
    session: ClientSession,
    ticket: OrderTicket,
  ): { instrument: Instrument; account: string } | undefined {
    const verdict = validateOrder(ticket, { market: this.market, ledger: this.ledger, book: this.book });
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
    order.status = 'Cancelled';
    for (const session of this.orderSessions(order)) {
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

  /** ORDER_STATUS, OPEN_ORDER, EXECUTION_DATA and COMMISSION_REPORT, then the account follows. */
  private fill(order: Order, fill: Fill): void {
    const instrument = order.instrument;
    const before = { quantity: order.filled, value: order.tradedValue };
    order.recordFill(fill);
    const commission = fillCommission(instrument, before, {
      quantity: fill.quantity,
      value: fill.quantity * fill.price * instrument.multiplier,
    });
    const outcome = this.ledger.applyFill(
      order.account,
      instrument,
      order.isBuy,
      fill.quantity,
      fill.price,
      commission,
    );
    order.status = order.remaining > 0 ? 'Submitted' : 'Filled';
    const now = this.context.clock.now();
    const routed = routedExchange(order.ticket, instrument);
    const execution: ExecutionRecord = {
      execId: this.book.allocateExecId(now),
      orderId: order.orderId,
      clientId: order.clientId,
      permId: order.permId,
      instrument,
      // SMART orders report the exchange that executed them.
      exchange:
        routed.toUpperCase() === 'SMART' && instrument.primaryExchange !== ''
          ? instrument.primaryExchange
          : routed,
      account: order.account,
      side: order.isBuy ? 'BOT' : 'SLD',
      shares: fill.quantity,
      price: fill.price,
      time: now,
      timeText: formatTwsDateTime(now),
      cumQty: order.filled,
      avgPrice: order.avgFillPrice,
      orderRef: order.ticket.orderRef,
      commission,
      commissionCurrency: instrument.currency,
      realizedPnl: outcome.realizedPnl,
    };
    this.book.executions.push(execution);
    const messages: WireValue[][] = [
      orderStatusMessage(order, order.status, order.filled, order.avgFillPrice, order.lastFillPrice),
      openOrderMessage(order, order.status),
      executionMessage(LIVE_EXECUTION_REQ_ID, execution),
      commissionReportMessage(execution),
    ];
    for (const session of this.orderSessions(order)) for (const message of messages) session.send(message);
    this.feeds.positionChanged(outcome.position);
    if (order.status !== 'Filled') return;
    for (const peer of this.book.ocaPeers(order)) this.cancel(peer);
    for (const child of this.book.children(order)) this.evaluate(child);
  }

  // ---- What-if ----

  /** One OPEN_ORDER with the margin and commission the order would cause; nothing is stored. */
  private whatIf(session: ClientSession, ticket: OrderTicket, instrument: Instrument, account: string): void {
    const result = evaluateWhatIf(ticket, instrument, account, this.market, this.ledger);
    const identity = {
      ticket,
      instrument,
      account,
      clientId: session.clientId ?? 0,
      // Unique, so IBApiNext (which keys orders by permId) never merges two what-ifs.
      permId: this.book.allocatePermId(),
    };
    session.send(openOrderMessage(identity, 'PreSubmitted', result));
  }

  // ---- Open orders and executions ----

  private sendOpenOrders(session: ClientSession, include: (order: Order) => boolean): void {
    for (const order of this.book.openOrders().filter(include)) {
      session.send(openOrderMessage(order, order.status));
      session.send(
        orderStatusMessage(order, order.status, order.filled, order.avgFillPrice, order.lastFillPrice),
      );
    }
    session.send(openOrderEndMessage());
  }

  /** IB binds other clients' orders only to client 0; others get 327 and their own orders. */
  private autoOpenOrders(session: ClientSession, request: FieldReader): void {
    request.skip(1); // version
    const autoBind = request.bool();
    if (autoBind && session.clientId !== 0) {
      session.sendError(
        NO_REQUEST_ID,
        BrokerCode.AUTO_BIND_NEEDS_CLIENT_ZERO,
        BrokerMessage.autoBindNeedsClientZero,
      );
    }
    const bound = autoBind && session.clientId === 0;
    if (bound && !this.autoBound.has(session)) {
      this.autoBound.add(session);
      session.onClose(() => this.autoBound.delete(session));
    }
    this.sendOpenOrders(session, (order) => bound || order.clientId === session.clientId);
  }

  private sendExecutions(session: ClientSession, request: FieldReader): void {
    request.skip(1); // version
    const reqId = request.int();
    const filter: ExecutionFilter = parseExecutionFilter(request);
    for (const execution of this.book.executions.filter(filter.matches)) {
      session.send(executionMessage(reqId, execution));
      session.send(commissionReportMessage(execution));
    }
    session.send(executionEndMessage(reqId));
  }

  // ---- Routing ----

  /** The placing client's session and every auto-bound session. */
  private orderSessions(order: Order): ClientSession[] {
    const sessions = this.context.server
      .connectedSessions()
      .filter((session) => session.clientId === order.clientId);
    for (const session of this.autoBound)
      if (session.isOpen && !sessions.includes(session)) sessions.push(session);
    return sessions;
  }

  /** OPEN_ORDER and ORDER_STATUS of an order's current state. */
  private report(order: Order): void {
    const messages = [
      openOrderMessage(order, order.status),
      orderStatusMessage(order, order.status, order.filled, order.avgFillPrice, order.lastFillPrice),
    ];
    for (const session of this.orderSessions(order)) for (const message of messages) session.send(message);
  }
}
