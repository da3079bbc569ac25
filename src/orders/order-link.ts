import { map, merge, NEVER, Subject, type Observable } from 'rxjs';
import { awaitReply } from '../common/await-reply';
import type { Clock, ClockTimer } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { IbCode, isInformationCode, toDomainError } from '../connection/ib-errors';
import { IB_REQUEST_TIMEOUT_MS } from '../connection/ib-session.repository';
import {
  isOpenStatus,
  realNumber,
  type Acknowledgement,
  type BrokerEvent,
  type OrderContractRef,
  type OrderFields,
  type OutgoingOrder,
  type WhatIfState,
} from './order-model';

/** How long cancel_all_orders waits for the broker to confirm the cancels before it reports. */
export const CANCEL_ALL_SETTLE_MS = 5_000;
/** After one leg of a bracket is rejected, how long the other legs' answers are still waited for. */
export const REJECTION_GRACE_MS = 200;

/** The messages an order request sends, in the domain's terms (the repository puts them in IB's). */
export interface OrderWire {
  placeOrder(orderId: number, contract: OrderContractRef, fields: OrderFields, whatIf?: boolean): void;
  modifyOrder(orderId: number, contract: OrderContractRef, fields: OrderFields): void;
  cancelOrder(orderId: number): void;
  cancelAllOrders(): void;
}

/** IB's what-if answer as preview_order reports it. */
export interface WhatIfFigures {
  margin: Record<
    `${'initMargin' | 'maintMargin' | 'equityWithLoan'}${'Before' | 'Change' | 'After'}`,
    number | undefined
  >;
  commission: { commission?: number; minCommission?: number; maxCommission?: number; currency?: string };
  warningText?: string;
}

function whatIfFigures(state: WhatIfState): WhatIfFigures {
  return {
    margin: {
      initMarginBefore: realNumber(state.initMarginBefore),
      initMarginChange: realNumber(state.initMarginChange),
      initMarginAfter: realNumber(state.initMarginAfter),
      maintMarginBefore: realNumber(state.maintMarginBefore),
      maintMarginChange: realNumber(state.maintMarginChange),
      maintMarginAfter: realNumber(state.maintMarginAfter),
      equityWithLoanBefore: realNumber(state.equityWithLoanBefore),
      equityWithLoanChange: realNumber(state.equityWithLoanChange),
      equityWithLoanAfter: realNumber(state.equityWithLoanAfter),
    },
    commission: {
      commission: realNumber(state.commission),
      minCommission: realNumber(state.minCommission),
      maxCommission: realNumber(state.maxCommission),
      ...(state.commissionCurrency ? { currency: state.commissionCurrency } : {}),
    },
    ...(state.warningText ? { warningText: state.warningText } : {}),
  };
}

function orderIdOf(event: BrokerEvent): number {
  return event.kind === 'report' ? event.report.orderId : event.orderId;
}

/**
 * The session one order request goes out on (see OrdersRepository.link), taken before the request is
 * journaled as sent. Each method sends and waits for the broker's verdict in the broker events, through
 * awaitReply: listening starts before the message goes out, and the wait always ends.
 */
export class OrderLink {
  constructor(
    private readonly wire: OrderWire,
    private readonly events: Observable<BrokerEvent>,
    private readonly clock: Clock,
    /** Emits when the session the request went out on is gone: no answer can come on it any more. */
    private readonly sessionLost: Observable<unknown> = NEVER,
  ) {}

  /** Sends the orders (a bracket's legs in order) and answers IB's first word on each. */
  async place(contract: OrderContractRef, orders: OutgoingOrder[]): Promise<Map<number, Acknowledgement>> {
    return this.acknowledgements(
      orders.map((order) => order.orderId),
      () => {
        for (const { orderId, fields } of orders) this.wire.placeOrder(orderId, contract, fields);
      },
    );
  }

  async modify(
    orderId: number,
    contract: OrderContractRef,
    fields: OrderFields,
  ): Promise<Map<number, Acknowledgement>> {
    return this.acknowledgements([orderId], () => this.wire.modifyOrder(orderId, contract, fields));
  }

  /** Cancels without waiting for the verdict (what is left of a rejected bracket). */
  cancelEach(orderIds: number[]): void {
    for (const orderId of orderIds) this.wire.cancelOrder(orderId);
  }

  /** Cancels one order; resolves once IB confirmed it (Cancelled, or its 202), throws IB's refusal. */
  async cancel(orderId: number): Promise<void> {
    const answer = await awaitReply<BrokerEvent, Acknowledgement>({
      events: this.events,
      send: () => this.wire.cancelOrder(orderId),
      match: (event) => {
        if (orderIdOf(event) !== orderId) return undefined;
        if (event.kind === 'report') {
          const { status } = event.report;
          return status === 'Cancelled' || status === 'ApiCancelled'
            ? { answer: { accepted: true } }
            : undefined;
        }
        if (event.kind !== 'error' || isInformationCode(event.code)) return undefined;
        if (event.code === IbCode.ORDER_CANCELLED) return { answer: { accepted: true } };
        return { answer: { accepted: false, code: event.code, message: event.message } };
      },
      timeoutMs: IB_REQUEST_TIMEOUT_MS,
      onTimeout: () =>
        new DomainError(
          'IB_TIMEOUT',
          `IB did not confirm the cancel of order ${orderId} within ${IB_REQUEST_TIMEOUT_MS / 1000} s; check get_order_status`,
        ),
      clock: this.clock,
    });
    if (!answer.accepted) {
      throw toDomainError(answer, { request: 'cancel', subject: `order ${orderId}`, orderId });
    }
  }

  /** IB's global cancel; resolves once none of `orderIds` works any more, or after CANCEL_ALL_SETTLE_MS. */
  async cancelAll(orderIds: number[]): Promise<void> {
    const working = new Set(orderIds);
    if (working.size === 0) {
      this.wire.cancelAllOrders();
      return;
    }
    await awaitReply<BrokerEvent, undefined>({
      events: this.events,
      send: () => this.wire.cancelAllOrders(),
      match: (event) => {
        if (event.kind !== 'report' || isOpenStatus(event.report.status)) return undefined;
        working.delete(event.report.orderId);
        return working.size === 0 ? { answer: undefined } : undefined;
      },
      timeoutMs: CANCEL_ALL_SETTLE_MS,
      onTimeout: () => undefined,
      clock: this.clock,
    });
  }

  /** Sends a what-if order and answers IB's margin and commission figures for it. */
  async whatIf(orderId: number, contract: OrderContractRef, fields: OrderFields): Promise<WhatIfFigures> {
    const subject = contract.symbol ?? `conId ${contract.conId}`;
    const state = await awaitReply<BrokerEvent, WhatIfState>({
      events: this.events,
      send: () => this.wire.placeOrder(orderId, contract, fields, true),
      match: (event) => {
        if (event.kind === 'whatIf' && event.orderId === orderId) return { answer: event.state };
        if (event.kind === 'error' && event.orderId === orderId && !isInformationCode(event.code)) {
          return { failure: toDomainError(event, { request: 'what-if', subject, orderId }) };
        }
        return undefined;
      },
      timeoutMs: IB_REQUEST_TIMEOUT_MS,
      onTimeout: () =>
        new DomainError(
          'IB_TIMEOUT',
          `IB did not answer the what-if for order ${orderId} within ${IB_REQUEST_TIMEOUT_MS / 1000} s`,
        ),
      clock: this.clock,
    });
    return whatIfFigures(state);
  }

  /**
   * The broker's first word on each order: acknowledged (an open-order report) or rejected (an error). After
   * a rejection the other legs' answers are waited for only REJECTION_GRACE_MS; unanswered ones are missing,
   * as are all that were not answered when the session was lost.
   */
  private async acknowledgements(
    orderIds: number[],
    send: () => void,
  ): Promise<Map<number, Acknowledgement>> {
    const answers = new Map<number, Acknowledgement>();
    const waiting = new Set(orderIds);
    const graceOver = new Subject<'grace over'>();
    const lost = this.sessionLost.pipe(map(() => 'session lost' as const));
    let grace: ClockTimer | undefined;
    try {
      return await awaitReply<BrokerEvent | 'grace over' | 'session lost', Map<number, Acknowledgement>>({
        events: merge(this.events, graceOver, lost),
        send,
        match: (event) => {
          if (event === 'grace over' || event === 'session lost') return { answer: answers };
          const orderId = orderIdOf(event);
          if (!waiting.has(orderId)) return undefined;
          if (event.kind === 'report') answers.set(orderId, { accepted: true });
          else if (
            event.kind === 'error' &&
            !isInformationCode(event.code) &&
            event.code !== IbCode.ORDER_CANCELLED
          ) {
            answers.set(orderId, { accepted: false, code: event.code, message: event.message });
          } else return undefined;
          waiting.delete(orderId);
          if (waiting.size === 0) return { answer: answers };
          if (answers.get(orderId)?.accepted === false && grace === undefined) {
            grace = this.clock.setTimeout(() => graceOver.next('grace over'), REJECTION_GRACE_MS);
          }
          return undefined;
        },
        timeoutMs: IB_REQUEST_TIMEOUT_MS,
        onTimeout: () => answers,
        clock: this.clock,
      });
    } finally {
      this.clock.clearTimeout(grace);
    }
  }
}
