import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  EventName,
  IBApiTickType,
  type Contract,
  type IBApiNext,
  type OpenOrdersUpdate,
  type Order,
  type OrderState,
} from '@stoqey/ib';
import { Mutex } from 'async-mutex';
import { filter, lastValueFrom, map, merge, Subject, type Observable, type Subscription } from 'rxjs';
import { awaitReply } from '../common/await-reply';
import { DomainError } from '../common/domain-error';
import { CLOCK, type Clock } from '../common/clock';
import { IB_API_TARGET } from '../config/config.tokens';
import { IB_REQUEST_TIMEOUT_MS, IbSession, type IbApiTarget } from '../connection/ib-session.repository';
import { OrderLink, type OrderWire } from './order-link';
import { contractRefOf, ibContract, ibOrder, legsOf, reportOf } from './order-wire.repository';

export { orderContractOf, wireForm } from './order-wire.repository';
import {
  contractView,
  realNumber,
  type BrokerEvent,
  type CommissionReport,
  type CompletedOrderReport,
  type ExecutionReport,
  type OrderContractRef,
  type OrderReport,
  type WhatIfState,
} from './order-model';
import type { Side } from './orders.schemas';

/**
 * The orders domain's conversation with IB, and the only file of src/orders that speaks @stoqey/ib: order
 * ids, placing, modifying and cancelling (through an OrderLink), what-if, the open-order stream and order
 * errors as BrokerEvents, open-order listings, executions and commissions, and quotes for exposure pricing.
 */
@Injectable()
export class OrdersRepository implements OnModuleDestroy {
  private readonly logger = new Logger(OrdersRepository.name);
  private readonly reports = new Subject<BrokerEvent>();
  /** The open-order stream is followed once per IB client: IBApiNext re-requests it after a reconnect. */
  private followed: IBApiNext | undefined;
  private stream: Subscription | undefined;
  /** The orderStatus object last seen per order: IBApiNext replaces it on every ORDER_STATUS. */
  private readonly lastStatusObject = new Map<number, unknown>();
  private readonly completedListing = new Mutex();
  /** Every client id this service's session was connected as (another one when IB said ours was in use). */
  private readonly sessionClientIds = new Set<number>();
  private readonly sessionStates: Subscription;
  readonly events: Observable<BrokerEvent>;

  constructor(
    private readonly ibApi: IbSession,
    @Inject(IB_API_TARGET) private readonly target: IbApiTarget,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    const errors = this.ibApi.errors.pipe(
      map((error): BrokerEvent => ({
        kind: 'error',
        orderId: error.reqId,
        code: Number(error.code),
        message: error.message,
      })),
    );
    this.events = merge(this.reports, errors);
    this.sessionClientIds.add(target.clientId);
    this.sessionStates = this.ibApi.states.subscribe((state) => {
      const clientId = this.ibApi.status().clientId;
      if (state === 'connected' && clientId !== undefined) this.sessionClientIds.add(clientId);
    });
  }

  /** The client id orders go out with now: the session's, which differs from the configured one after a 326. */
  get clientId(): number {
    return this.ibApi.status().clientId ?? this.target.clientId;
  }

  /** Whether orders of this client id were placed by this service's session (in this process). */
  isSessionClient(clientId: number | undefined): boolean {
    return clientId !== undefined && this.sessionClientIds.has(clientId);
  }

  onModuleDestroy(): void {
    this.sessionStates.unsubscribe();
    this.stream?.unsubscribe();
    this.reports.complete();
  }

  /** The connected session for one request; NOT_CONNECTED when there is none. */
  link(what: string): OrderLink {
    const ib = this.ibApi.ibClient(what);
    const wire: OrderWire = {
      placeOrder: (orderId, contract, fields, whatIf) =>
        ib.placeOrder(orderId, ibContract(contract), ibOrder(fields, whatIf)),
      modifyOrder: (orderId, contract, fields) =>
        ib.modifyOrder(orderId, ibContract(contract), ibOrder(fields)),
      cancelOrder: (orderId) => ib.cancelOrder(orderId),
      cancelAllOrders: () => ib.cancelAllOrders(),
    };
    const sessionLost = this.ibApi.states.pipe(filter((state) => state !== 'connected'));
    return new OrderLink(wire, this.events, this.clock, sessionLost);
  }

  /** Follows the open-order stream of the current IB client; true when it started following it now. */
  follow(): boolean {
    let ib: IBApiNext;
    try {
      ib = this.ibApi.ibClient('order updates');
    } catch {
      return false;
    }
    if (ib === this.followed) return false;
    this.followed = ib;
    this.stream?.unsubscribe();
    let first = true;
    this.stream = ib.getAutoOpenOrders(false).subscribe({
      next: (update) => {
        // The first emission is a (partial) listing whatever it says: IBApiNext marks it all "added".
        this.publish(first ? { all: update.all } : update);
        first = false;
      },
      error: (error: unknown) => this.logger.warn(`The open-order stream failed: ${String(error)}`),
    });
    return true;
  }

  async nextOrderId(): Promise<number> {
    return this.ibApi.ibRequest('the next order id', async (ib) => ib.getNextValidOrderId());
  }

  /** Every open order at the broker (all clients, TWS too); what-if orders left out. */
  async allOpenOrders(): Promise<OrderReport[]> {
    const listed = await this.ibApi.ibRequest('open orders', async (ib) => ib.getAllOpenOrders());
    return listed.filter((open) => open.order.whatIf !== true).map(reportOf);
  }

  /** The ids of this client's open orders, from a listing IB marks complete. */
  async openOrderIds(): Promise<number[]> {
    const listing = await this.ibApi.ibRequest('open orders', async (ib) =>
      lastValueFrom(ib.getOpenOrders(), { defaultValue: undefined }),
    );
    return (listing?.all ?? []).map((open) => open.orderId);
  }

  /**
   * The orders the broker finished today (filled or cancelled), of every client. IB sends them without
   * order id or client id: they are told apart by permId and orderRef. IBApiNext has no call for it, so the
   * raw client's events are awaited; one listing at a time, as their answers carry no request id.
   */
  async completedOrders(): Promise<CompletedOrderReport[]> {
    return this.completedListing.runExclusive(async () => {
      this.ibApi.ibClient('completed orders');
      const api = this.ibApi.ibRawApi();
      const listed = new Subject<CompletedOrderReport | 'end'>();
      const onOrder = (contract: Contract, order: Order, state: OrderState): void =>
        listed.next({
          permId: order.permId,
          ...(order.orderRef ? { orderRef: order.orderRef } : {}),
          contract: contractView(contractRefOf(contract)),
          ...legsOf(contract),
          side: order.action === undefined ? undefined : String(order.action),
          quantity: realNumber(order.totalQuantity),
          filled: realNumber(order.filledQuantity),
          status: state.status ? String(state.status) : 'Unknown',
          orderId: order.orderId,
          clientId: order.clientId,
          account: order.account,
          orderType: order.orderType === undefined ? undefined : String(order.orderType),
          limitPrice: realNumber(order.lmtPrice),
          auxPrice: realNumber(order.auxPrice),
          tif: order.tif === undefined ? undefined : String(order.tif),
          completedTime: state.completedTime,
          completedStatus: state.completedStatus,
        });
      const onEnd = (): void => listed.next('end');
      api.on(EventName.completedOrder, onOrder).on(EventName.completedOrdersEnd, onEnd);
      const orders: CompletedOrderReport[] = [];
      try {
        return await awaitReply<CompletedOrderReport | 'end', CompletedOrderReport[]>({
          events: listed,
          send: () => api.reqCompletedOrders(false),
          match: (event) => {
            if (event === 'end') return { answer: orders };
            orders.push(event);
            return undefined;
          },
          timeoutMs: IB_REQUEST_TIMEOUT_MS,
          onTimeout: () =>
            new DomainError(
              'IB_TIMEOUT',
              `IB did not list the completed orders within ${IB_REQUEST_TIMEOUT_MS / 1000} s`,
            ),
          clock: this.clock,
        });
      } finally {
        api.off(EventName.completedOrder, onOrder).off(EventName.completedOrdersEnd, onEnd);
      }
    });
  }

  /** This client's executions (every client's with `allClients`) and the commission reports on them. */
  async executions(
    allClients = false,
  ): Promise<{ executions: ExecutionReport[]; commissions: CommissionReport[] }> {
    const clients = allClients ? {} : { clientId: String(this.target.clientId) };
    const details = await this.ibApi.ibRequest('executions', async (ib) => ib.getExecutionDetails(clients));
    const reports = await this.ibApi.ibRequest('commission reports', async (ib) =>
      ib.getCommissionReport(clients),
    );
    return {
      executions: details.map(({ execution, contract }) => ({
        orderId: execution.orderId,
        execId: execution.execId,
        clientId: execution.clientId,
        permId: execution.permId,
        ...(execution.orderRef ? { orderRef: execution.orderRef } : {}),
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
      })),
      commissions: reports.map((report) => ({
        execId: report.execId,
        commission: realNumber(report.commission),
        currency: report.currency,
        realizedPnl: realNumber(report.realizedPNL),
      })),
    };
  }

  /** IB's market rule (tick sizes by price) of a rule id from the contract details' marketRuleIds. */
  async marketRule(ruleId: number): Promise<{ lowEdge: number; increment: number }[]> {
    const increments = await this.ibApi.ibRequest(`market rule ${ruleId}`, async (ib) =>
      ib.getMarketRule(ruleId),
    );
    return increments.map(({ lowEdge, increment }) => ({ lowEdge: lowEdge ?? 0, increment: increment ?? 0 }));
  }

  /** The price a market order would trade at now: the ask to buy, the bid to sell, else the last trade. */
  async quote(
    contract: OrderContractRef,
    side: Side,
  ): Promise<{ price: number; source: string } | undefined> {
    const ticks = await this.ibApi.ibRequest(
      `a quote of ${contract.symbol ?? `conId ${contract.conId}`}`,
      async (ib) => ib.getMarketDataSnapshot(ibContract(contract), '', false),
    );
    const touch =
      side === 'BUY'
        ? [IBApiTickType.ASK, IBApiTickType.DELAYED_ASK]
        : [IBApiTickType.BID, IBApiTickType.DELAYED_BID];
    const candidates: [number, string][] = [
      ...touch.map((type): [number, string] => [type, side === 'BUY' ? 'current ask' : 'current bid']),
      [IBApiTickType.LAST, 'last price'],
      [IBApiTickType.DELAYED_LAST, 'last price (delayed)'],
      [IBApiTickType.CLOSE, 'close'],
      [IBApiTickType.DELAYED_CLOSE, 'close (delayed)'],
    ];
    for (const [type, source] of candidates) {
      const value = ticks.get(type)?.value;
      if (value !== undefined && value > 0) return { price: value, source };
    }
    return undefined;
  }

  /** One update of the open-order stream as BrokerEvents: a bare `all` is a (re-)listing, not news. */
  private publish(update: OpenOrdersUpdate): void {
    const touched = [...(update.added ?? []), ...(update.changed ?? [])];
    const listing = touched.length === 0;
    for (const open of listing ? update.all : touched) {
      if (open.order.whatIf === true) {
        const state: WhatIfState = { ...open.orderState, status: String(open.orderState.status) };
        this.reports.next({ kind: 'whatIf', orderId: open.orderId, permId: open.order.permId ?? 0, state });
        continue;
      }
      const statusObject = open.orderStatus;
      const event =
        statusObject !== undefined && statusObject !== this.lastStatusObject.get(open.orderId)
          ? 'orderStatus'
          : 'openOrder';
      this.lastStatusObject.set(open.orderId, statusObject);
      this.reports.next({ kind: 'report', event, report: reportOf(open), fresh: !listing });
    }
  }
}
