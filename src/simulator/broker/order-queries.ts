import type { ClientSession } from '../protocol/client-session';
import type { FieldReader } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import { NO_REQUEST_ID } from '../protocol/messages';
import type { SimulatorContext } from '../simulator-context';
import { BrokerCode, BrokerMessage } from './broker-codes';
import { completedOrderMessage, completedOrdersEndMessage } from './completed-order-messages';
import { parseExecutionFilter } from './execution-filter';
import type { Order } from './order';
import type { OrderBook } from './order-book';
import {
  commissionReportMessage,
  executionEndMessage,
  executionMessage,
  openOrderEndMessage,
  openOrderMessage,
  orderStatusMessage,
} from './order-messages';

/**
 * The read side of the broker: open and completed orders, executions, and which sessions hear of an
 * order (its own client's, and client 0 when it bound every order with REQ_AUTO_OPEN_ORDERS).
 */
export class OrderQueries {
  private readonly autoBound = new Set<ClientSession>();

  constructor(
    private readonly context: SimulatorContext,
    private readonly book: OrderBook,
  ) {}

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_OPEN_ORDERS, (session) =>
      this.sendOpenOrders(session, (order) => order.clientId === session.clientId),
    );
    server.on(Request.REQ_ALL_OPEN_ORDERS, (session) => this.sendOpenOrders(session, () => true));
    server.on(Request.REQ_AUTO_OPEN_ORDERS, (session, request) => this.autoOpenOrders(session, request));
    server.on(Request.REQ_EXECUTIONS, (session, request) => this.sendExecutions(session, request));
    server.on(Request.REQ_COMPLETED_ORDERS, (session) => this.sendCompletedOrders(session));
  }

  dispose(): void {
    this.autoBound.clear();
  }

  /** The placing client's session and every auto-bound session. */
  sessionsFor(order: Order): ClientSession[] {
    const sessions = this.context.server
      .connectedSessions()
      .filter((session) => session.clientId === order.clientId);
    for (const session of this.autoBound)
      if (session.isOpen && !sessions.includes(session)) sessions.push(session);
    return sessions;
  }

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
    const filter = parseExecutionFilter(request);
    for (const execution of this.book.executions.filter(filter.matches)) {
      session.send(executionMessage(reqId, execution));
      session.send(commissionReportMessage(execution));
    }
    session.send(executionEndMessage(reqId));
  }

  /**
   * Every client's filled and cancelled orders (reqCompletedOrders). Its apiOnly flag changes nothing here:
   * every order the simulator knows came through the API.
   */
  private sendCompletedOrders(session: ClientSession): void {
    session.batch(() => {
      for (const order of this.book.completedOrders()) {
        const parent = order.ticket.parentId > 0 ? this.book.get(order.ticket.parentId) : undefined;
        session.send(completedOrderMessage(order, parent?.permId));
      }
      session.send(completedOrdersEndMessage());
    });
  }
}
