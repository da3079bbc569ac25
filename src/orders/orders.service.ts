import { Inject, Injectable } from '@nestjs/common';
import {
  IBApiTickType,
  OrderAction,
  type Contract,
  type Order,
  type OrderState,
  type OrderType,
  type TimeInForce,
} from '@stoqey/ib';
import { Mutex } from 'async-mutex';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { DomainError } from '../common/domain-error';
import { IB_REQUEST_TIMEOUT_MS, IbSession, type IbApiTarget } from '../connection/ib-session.repository';
import { IB_API_TARGET } from '../config/config.tokens';
import type { ContractQuery } from '../contracts/contracts.schemas';
import { ContractsService, type QualifiedContract } from '../contracts/contracts.service';
import { fingerprintOf, IdempotencyKeyRepository } from './idempotency-key.repository';
import { OrderJournalRepository, type OrderOperationName } from './order-journal.repository';
import { OrderSafetyPolicy, type OrderExposure } from './order-safety.policy';
import {
  isOpenStatus,
  isWarningCode,
  ORDER_CANCELLED_CODE,
  OrderTracker,
  type OrderEvent,
  type TrackedOrder,
} from './order-tracker';
import {
  bracketIssues,
  ORDER_TYPES,
  orderPricingIssues,
  type CancelAllOrdersResult,
  type CancelOrderInput,
  type FieldIssue,
  type ModifyOrderInput,
  type OpenOrdersResult,
  type OrderJournalInput,
  type OrderJournalResult,
  type OrderStatusInput,
  type OrderTypeName,
  type OrderView,
  type PlaceOrderInput,
  type PlaceOrderResult,
  type PreviewOrderInput,
  type PreviewOrderResult,
  type Side,
} from './orders.schemas';

type PlaceInput = z.infer<typeof PlaceOrderInput>;
type PreviewInput = z.infer<typeof PreviewOrderInput>;
type ModifyInput = z.infer<typeof ModifyOrderInput>;

/** How long cancel_all_orders waits for the broker to confirm the cancels before it reports. */
const CANCEL_ALL_SETTLE_MS = 5_000;

/** IB error codes and what they mean for the caller. */
const NOT_FOUND_CODES = [135, 10147];
const CANNOT_CANCEL_CODE = 10148;
const NO_SECURITY_DEFINITION = 200;
const ORDER_REJECTED = 201;
const DUPLICATE_ORDER_ID = 103;

interface RequestContext {
  requestId: string;
  operation: OrderOperationName;
  /** Set once something reached the broker: failures after that are outcomes, not refusals. */
  sent: boolean;
  orderIds: number[];
}

type Acknowledgement = { accepted: true } | { accepted: false; code: number; message: string };

function opposite(side: Side): Side {
  return side === 'BUY' ? 'SELL' : 'BUY';
}

function fieldError(issues: FieldIssue[]): DomainError {
  const text = issues.map((issue) => `[${issue.path.join('.')}]: ${issue.message}`).join('; ');
  return new DomainError('INVALID_INPUT', `Invalid parameters: ${text}`);
}

function refused(operation: OrderOperationName, reason: string): DomainError {
  return new DomainError('FORBIDDEN', `${operation} refused: ${reason}. Nothing was sent to the broker.`);
}

function contractQueryOf(input: ContractQuery): ContractQuery {
  const { symbol, conId, secType, exchange, currency, expiry, strike, right } = input;
  return { symbol, conId, secType, exchange, currency, expiry, strike, right };
}

/** The qualified contract as the order is sent: conId plus routing (SMART unless IB said otherwise). */
function orderContract(qualified: QualifiedContract): Contract {
  const { contract } = qualified;
  return { ...contract, exchange: contract.exchange || 'SMART' };
}

function multiplierOf(contract: Contract): number {
  const multiplier = Number(contract.multiplier);
  return Number.isFinite(multiplier) && multiplier > 0 ? multiplier : 1;
}

/** The IB order for the API's order fields. */
function ibOrder(
  fields: {
    side: Side;
    quantity: number;
    orderType: OrderTypeName;
    limitPrice?: number | undefined;
    stopPrice?: number | undefined;
    trailingAmount?: number | undefined;
    trailingPercent?: number | undefined;
    tif?: string | undefined;
    outsideRth?: boolean | undefined;
    account?: string | undefined;
  },
  extra: Partial<Order> = {},
): Order {
  const auxPrice = fields.orderType === 'TRAIL' ? fields.trailingAmount : fields.stopPrice;
  return {
    action: fields.side === 'BUY' ? OrderAction.BUY : OrderAction.SELL,
    totalQuantity: fields.quantity,
    orderType: fields.orderType as OrderType,
    ...(fields.limitPrice === undefined ? {} : { lmtPrice: fields.limitPrice }),
    ...(auxPrice === undefined ? {} : { auxPrice }),
    ...(fields.trailingPercent === undefined ? {} : { trailingPercent: fields.trailingPercent }),
    ...(fields.tif === undefined ? {} : { tif: fields.tif as TimeInForce }),
    outsideRth: fields.outsideRth ?? false,
    ...(fields.account === undefined ? {} : { account: fields.account }),
    // IB's default is transmit=true, but an unset field goes out empty: always say it.
    transmit: true,
    ...extra,
  };
}

/** A pending order as the service knows it until the broker acknowledges it. */
function pendingView(orderId: number, contract: Contract, order: Order, clientId: number): TrackedOrder {
  const orderType = String(order.orderType);
  const trailing = orderType === 'TRAIL';
  return {
    orderId,
    ...(order.parentId ? { parentId: order.parentId } : {}),
    clientId,
    ...(order.account ? { account: order.account } : {}),
    contract: {
      conId: contract.conId,
      ...(contract.symbol ? { symbol: contract.symbol } : {}),
      ...(contract.secType ? { secType: String(contract.secType) } : {}),
      ...(contract.exchange ? { exchange: contract.exchange } : {}),
      ...(contract.currency ? { currency: contract.currency } : {}),
    },
    side: String(order.action),
    quantity: order.totalQuantity ?? 0,
    orderType,
    ...(order.lmtPrice === undefined ? {} : { limitPrice: order.lmtPrice }),
    ...(!trailing && order.auxPrice !== undefined ? { stopPrice: order.auxPrice } : {}),
    ...(trailing && order.auxPrice !== undefined ? { trailingAmount: order.auxPrice } : {}),
    ...(order.trailingPercent === undefined ? {} : { trailingPercent: order.trailingPercent }),
    ...(order.tif ? { tif: String(order.tif) } : {}),
    outsideRth: order.outsideRth === true,
    status: 'PendingSubmit',
    filled: 0,
    remaining: order.totalQuantity ?? 0,
    updatedAt: new Date().toISOString(),
  };
}

/** The reason in IB's "Order rejected - reason:..." text. */
function rejectionReason(message: string): string {
  const match = /reason:\s*(.*)$/i.exec(message);
  return (match?.[1] ?? message).trim() || message;
}

/**
 * Orders: what-if previews, placing (single and bracket), modifying and cancelling, with the safety policy
 * in front, client idempotency keys, and every request and broker response in the audit journal before
 * the API answers.
 */
@Injectable()
export class OrdersService {
  /** Order ids are handed out and used in order: one placement (or preview) at a time. */
  private readonly placement = new Mutex();
  private lastOrderId = 0;

  constructor(
    private readonly ibApi: IbSession,
    private readonly contracts: ContractsService,
    private readonly tracker: OrderTracker,
    private readonly journal: OrderJournalRepository,
    private readonly keys: IdempotencyKeyRepository,
    private readonly safety: OrderSafetyPolicy,
    @Inject(IB_API_TARGET) private readonly target: IbApiTarget,
  ) {}

  // ---- Preview ----

  async preview(input: PreviewInput): Promise<z.infer<typeof PreviewOrderResult>> {
    return this.journaled('preview_order', input, async (request) => {
      const qualified = await this.contracts.resolveContract(contractQueryOf(input));
      const contract = orderContract(qualified);
      const refusal =
        this.safety.readOnlyRefusal() ??
        (await this.safety.liveAccountRefusal(input.account)) ??
        (await this.safety.limitRefusal(this.exposure(input, contract)));
      const order = ibOrder(input, { whatIf: true });
      const state = await this.placement.runExclusive(async () => {
        const [orderId = 0] = await this.allocateOrderIds(1);
        request.orderIds = [orderId];
        await this.journal.append({
          type: 'sent',
          operation: request.operation,
          requestId: request.requestId,
          orderIds: [orderId],
          contract,
          ibOrder: order,
        });
        const session = this.session('a what-if order');
        request.sent = true;
        const stopWatching = this.tracker.watch(orderId);
        try {
          const answer = this.whatIfAnswer(orderId);
          session.placeOrder(orderId, contract, order);
          return await answer;
        } finally {
          stopWatching();
        }
      });
      return {
        contract: {
          conId: contract.conId,
          ...(contract.symbol ? { symbol: contract.symbol } : {}),
          ...(contract.secType ? { secType: String(contract.secType) } : {}),
          ...(contract.exchange ? { exchange: contract.exchange } : {}),
          ...(contract.currency ? { currency: contract.currency } : {}),
        },
        margin: {
          initMarginBefore: money(state.initMarginBefore),
          initMarginChange: money(state.initMarginChange),
          initMarginAfter: money(state.initMarginAfter),
          maintMarginBefore: money(state.maintMarginBefore),
          maintMarginChange: money(state.maintMarginChange),
          maintMarginAfter: money(state.maintMarginAfter),
          equityWithLoanBefore: money(state.equityWithLoanBefore),
          equityWithLoanChange: money(state.equityWithLoanChange),
          equityWithLoanAfter: money(state.equityWithLoanAfter),
        },
        commission: {
          commission: money(state.commission),
          minCommission: money(state.minCommission),
          maxCommission: money(state.maxCommission),
          ...(state.commissionCurrency ? { currency: state.commissionCurrency } : {}),
        },
        ...(state.warningText ? { warningText: state.warningText } : {}),
        safety: { allowed: refusal === undefined, ...(refusal === undefined ? {} : { refusal }) },
      };
    });
  }

  // ---- Place ----

  async place(input: PlaceInput): Promise<z.infer<typeof PlaceOrderResult>> {
    return this.journaled('place_order', input, async (request) => {
      const { idempotencyKey: key, ...parameters } = input;
      const fingerprint = key === undefined ? undefined : fingerprintOf(parameters);
      const earlier = key === undefined ? undefined : this.replay(key, fingerprint ?? '', request);
      if (earlier) return earlier;

      const readOnly = this.safety.readOnlyRefusal();
      if (readOnly) throw refused(request.operation, readOnly);
      const qualified = await this.contracts.resolveContract(contractQueryOf(input));
      const contract = orderContract(qualified);
      const live = await this.safety.liveAccountRefusal(input.account);
      if (live) throw refused(request.operation, live);
      const limit = await this.safety.limitRefusal(this.exposure(input, contract));
      if (limit) throw refused(request.operation, limit);
      if (input.bracket && input.orderType === 'MKT') await this.checkMarketBracket(input, contract);

      return this.placement.runExclusive(async () => {
        // A retry with the same key may have waited here for the original to finish.
        const concurrent = key === undefined ? undefined : this.replay(key, fingerprint ?? '', request);
        if (concurrent) return concurrent;
        const ids = await this.allocateOrderIds(input.bracket ? 3 : 1);
        const orders = this.ordersToSend(input, ids, key);
        request.orderIds = ids;
        const pending = orders.map(({ orderId, order }) =>
          pendingView(orderId, contract, order, this.target.clientId),
        );
        const session = this.session('orders');
        // The key is bound before anything is sent: a crash after sending must not allow a second order.
        if (key !== undefined) await this.keys.reserve(key, fingerprint ?? '', ids);
        try {
          await this.journal.append({
            type: 'sent',
            operation: request.operation,
            requestId: request.requestId,
            orderIds: ids,
            ...(key === undefined ? {} : { idempotencyKey: key }),
            contract,
            orders: pending,
          });
        } catch (error) {
          if (key !== undefined) await this.keys.release(key);
          throw error;
        }
        request.sent = true;
        const acknowledgements = this.acknowledgements(ids);
        for (const view of pending) this.tracker.expect(view);
        for (const { orderId, order } of orders) session.placeOrder(orderId, contract, order);
        const answers = await acknowledgements;
        await this.failUnlessAccepted(answers, ids, contract, key);
        return this.placedResult(ids, key, false);
      });
    });
  }

  private ordersToSend(
    input: PlaceInput,
    ids: number[],
    key: string | undefined,
  ): { orderId: number; order: Order }[] {
    const orderRef = key === undefined ? {} : { orderRef: key };
    const [entryId = 0, takeProfitId = 0, stopLossId = 0] = ids;
    if (!input.bracket) return [{ orderId: entryId, order: ibOrder(input, orderRef) }];
    // IB's bracket: only the last child transmits, which releases the whole group at once.
    const exit = {
      side: opposite(input.side),
      quantity: input.quantity,
      tif: input.tif,
      outsideRth: input.outsideRth,
      account: input.account,
    };
    return [
      { orderId: entryId, order: ibOrder(input, { ...orderRef, transmit: false }) },
      {
        orderId: takeProfitId,
        order: ibOrder(
          { ...exit, orderType: 'LMT', limitPrice: input.bracket.takeProfitPrice },
          { ...orderRef, parentId: entryId, transmit: false },
        ),
      },
      {
        orderId: stopLossId,
        order: ibOrder(
          { ...exit, orderType: 'STP', stopPrice: input.bracket.stopLossPrice },
          { ...orderRef, parentId: entryId, transmit: true },
        ),
      },
    ];
  }

  /** The original order of a key seen before; CONFLICT when the key comes with other parameters. */
  private replay(
    key: string,
    fingerprint: string,
    request: RequestContext,
  ): z.infer<typeof PlaceOrderResult> | undefined {
    const record = this.keys.find(key);
    if (!record) return undefined;
    if (record.fingerprint !== fingerprint) {
      throw new DomainError(
        'CONFLICT',
        `Idempotency key ${key} was already used for a different order (order id ${record.orderIds.join(', ')}); use a new key for a new order`,
        { orderIds: record.orderIds },
      );
    }
    request.orderIds = record.orderIds;
    return this.placedResult(record.orderIds, key, true);
  }

  private placedResult(
    ids: number[],
    key: string | undefined,
    replayed: boolean,
  ): z.infer<typeof PlaceOrderResult> {
    const [entryId = 0, takeProfitId, stopLossId] = ids;
    return {
      orderId: entryId,
      orders: ids.map((orderId) => this.viewOf(orderId)),
      ...(takeProfitId !== undefined && stopLossId !== undefined
        ? {
            bracket: { parentOrderId: entryId, takeProfitOrderId: takeProfitId, stopLossOrderId: stopLossId },
          }
        : {}),
      ...(key === undefined ? {} : { idempotencyKey: key }),
      replayed,
    };
  }

  /**
   * Throws the broker's rejection (or a timeout) as a domain error. A rejected bracket leaves nothing
   * behind (its held, never transmitted legs are cancelled), so its key is released: a retry may place it.
   */
  private async failUnlessAccepted(
    answers: Map<number, Acknowledgement>,
    ids: number[],
    contract: Contract,
    key: string | undefined,
  ): Promise<void> {
    const rejection = ids
      .map((orderId) => ({ orderId, answer: answers.get(orderId) }))
      .find((entry) => entry.answer?.accepted === false);
    if (rejection && rejection.answer && !rejection.answer.accepted) {
      const accepted = ids.filter((orderId) => answers.get(orderId)?.accepted === true);
      if (accepted.length > 0) {
        const session = this.session('cancelling the rest of a rejected bracket');
        for (const orderId of accepted) session.cancelOrder(orderId);
      }
      if (key !== undefined) await this.keys.release(key);
      throw this.brokerError(rejection.answer.code, rejection.answer.message, rejection.orderId, contract);
    }
    const unanswered = ids.filter((orderId) => !answers.has(orderId));
    if (unanswered.length > 0) {
      throw new DomainError(
        'IB_TIMEOUT',
        `IB did not acknowledge order ${unanswered.join(', ')} within ${IB_REQUEST_TIMEOUT_MS / 1000} s; it may still be working: check get_order_status before placing it again${key === undefined ? '' : ` (a retry with idempotency key ${key} is safe)`}`,
        { orderIds: ids },
      );
    }
  }

  /** A MKT bracket's exits are checked against the current price, as a LMT bracket's are against its limit. */
  private async checkMarketBracket(input: PlaceInput, contract: Contract): Promise<void> {
    if (!input.bracket) return;
    const quoted = await this.quote(contract, input.side).catch(() => undefined);
    if (!quoted) return;
    const issues = bracketIssues(input.side, quoted.price, quoted.source, input.bracket);
    if (issues.length > 0) throw fieldError(issues);
  }

  // ---- Modify ----

  async modify(input: ModifyInput): Promise<z.infer<typeof OrderView>> {
    return this.journaled('modify_order', input, async (request) => {
      const readOnly = this.safety.readOnlyRefusal();
      if (readOnly) throw refused(request.operation, readOnly);
      const current = this.ownOrder(input.orderId);
      if (!isOpenStatus(current.status) || current.status === 'PendingSubmit') {
        throw new DomainError(
          'CONFLICT',
          `Order ${input.orderId} is ${current.status}; only working orders can be modified`,
        );
      }
      if (!(ORDER_TYPES as readonly string[]).includes(current.orderType)) {
        throw new DomainError(
          'INVALID_INPUT',
          `Order ${input.orderId} is a ${current.orderType} order; modify_order handles ${ORDER_TYPES.join(', ')}`,
        );
      }
      const orderType = current.orderType as OrderTypeName;
      const trailingChanged = input.trailingAmount !== undefined || input.trailingPercent !== undefined;
      const merged = {
        side: current.side as Side,
        orderType,
        quantity: input.quantity ?? current.quantity,
        limitPrice: input.limitPrice ?? current.limitPrice,
        stopPrice: orderType === 'TRAIL' ? input.stopPrice : (input.stopPrice ?? current.stopPrice),
        trailingAmount: trailingChanged ? input.trailingAmount : current.trailingAmount,
        trailingPercent: trailingChanged ? input.trailingPercent : current.trailingPercent,
        tif: input.tif ?? current.tif,
        outsideRth: input.outsideRth ?? current.outsideRth,
        account: current.account,
      };
      const issues = orderPricingIssues(merged);
      if (merged.quantity < current.filled) {
        issues.push({
          path: ['quantity'],
          message: `must not be below the ${current.filled} already filled`,
        });
      }
      if (issues.length > 0) throw fieldError(issues);
      const live = await this.safety.liveAccountRefusal(current.account);
      if (live) throw refused(request.operation, live);
      const contract: Contract = {
        conId: current.contract.conId,
        ...(current.contract.symbol ? { symbol: current.contract.symbol } : {}),
        ...(current.contract.secType ? { secType: current.contract.secType as Contract['secType'] } : {}),
        exchange: current.contract.exchange ?? 'SMART',
        ...(current.contract.currency ? { currency: current.contract.currency } : {}),
      };
      const limit = await this.safety.limitRefusal(this.exposure(merged, contract));
      if (limit) throw refused(request.operation, limit);
      const key = this.keys.keyOf(input.orderId);
      const order = ibOrder(merged, {
        ...(current.parentId === undefined ? {} : { parentId: current.parentId }),
        ...(key === undefined ? {} : { orderRef: key }),
      });
      request.orderIds = [input.orderId];
      const session = this.session('an order modification');
      await this.journal.append({
        type: 'sent',
        operation: request.operation,
        requestId: request.requestId,
        orderIds: [input.orderId],
        contract,
        ibOrder: order,
      });
      request.sent = true;
      const answer = this.acknowledgements([input.orderId]);
      session.modifyOrder(input.orderId, contract, order);
      await this.failUnlessAccepted(await answer, [input.orderId], contract, undefined);
      return this.viewOf(input.orderId);
    });
  }

  // ---- Cancel ----

  async cancel(input: z.infer<typeof CancelOrderInput>): Promise<z.infer<typeof OrderView>> {
    return this.journaled('cancel_order', input, async (request) => {
      const readOnly = this.safety.readOnlyRefusal();
      if (readOnly) throw refused(request.operation, readOnly);
      const known = this.tracker.get(input.orderId);
      if (known && !isOpenStatus(known.status)) {
        throw new DomainError(
          'CONFLICT',
          `Order ${input.orderId} is already ${known.status}; there is nothing to cancel`,
        );
      }
      const live = await this.safety.liveAccountRefusal(known?.account);
      if (live) throw refused(request.operation, live);
      request.orderIds = [input.orderId];
      const session = this.session('an order cancel');
      await this.journal.append({
        type: 'sent',
        operation: request.operation,
        requestId: request.requestId,
        orderIds: [input.orderId],
      });
      request.sent = true;
      const stopWatching = this.tracker.watch(input.orderId);
      try {
        const outcome = this.cancellation(input.orderId);
        session.cancelOrder(input.orderId);
        const answer = await outcome;
        if (answer === undefined) {
          throw new DomainError(
            'IB_TIMEOUT',
            `IB did not confirm the cancel of order ${input.orderId} within ${IB_REQUEST_TIMEOUT_MS / 1000} s; check get_order_status`,
          );
        }
        if (!answer.accepted) throw this.brokerError(answer.code, answer.message, input.orderId, undefined);
      } finally {
        stopWatching();
      }
      return this.viewOf(input.orderId, 'Cancelled');
    });
  }

  async cancelAll(): Promise<z.infer<typeof CancelAllOrdersResult>> {
    return this.journaled('cancel_all_orders', {}, async (request) => {
      const readOnly = this.safety.readOnlyRefusal();
      if (readOnly) throw refused(request.operation, readOnly);
      const live = await this.safety.liveAccountRefusal();
      if (live) throw refused(request.operation, live);
      const open = this.tracker
        .all()
        .filter((order) => isOpenStatus(order.status) && order.status !== 'PendingSubmit');
      request.orderIds = open.map((order) => order.orderId);
      const session = this.session('a global cancel');
      await this.journal.append({
        type: 'sent',
        operation: request.operation,
        requestId: request.requestId,
        orderIds: request.orderIds,
        globalCancel: true,
      });
      request.sent = true;
      const settled = this.allFinished(request.orderIds);
      session.cancelAllOrders();
      await settled;
      const stillOpen = await this.brokerOpenOrders();
      const stillOpenIds = new Set(stillOpen.map((order) => order.orderId));
      return {
        cancelledOrderIds: request.orderIds.filter(
          (orderId) => !stillOpenIds.has(orderId) && this.tracker.get(orderId)?.status !== 'Filled',
        ),
        stillOpen,
      };
    });
  }

  // ---- Reading ----

  async openOrders(): Promise<z.infer<typeof OpenOrdersResult>> {
    return { orders: await this.brokerOpenOrders() };
  }

  async status(
    input: z.infer<typeof OrderStatusInput>,
  ): Promise<{ order: OrderView; children: OrderView[] }> {
    let orderId = input.orderId;
    if (input.idempotencyKey !== undefined) {
      const record = this.keys.find(input.idempotencyKey);
      if (!record) {
        throw new DomainError(
          'NOT_FOUND',
          `No order was placed with idempotency key ${input.idempotencyKey}`,
        );
      }
      orderId = record.orderIds[0];
    }
    if (orderId === undefined) throw new DomainError('INVALID_INPUT', 'Give orderId or idempotencyKey');
    if (!this.tracker.get(orderId)) {
      // Not one of this service's orders: it may still be open at the broker (TWS, another client).
      const listed = (await this.brokerOpenOrders()).find((order) => order.orderId === orderId);
      if (listed) return { order: listed, children: [] };
      throw new DomainError(
        'NOT_FOUND',
        `No order ${orderId} is known: it is neither among this service's orders nor open at the broker`,
      );
    }
    const parentId = orderId;
    const children = this.tracker
      .all()
      .filter((order) => order.parentId === parentId)
      .map((order) => this.viewOf(order.orderId));
    return { order: this.viewOf(orderId), children };
  }

  async journalEntries(
    input: z.infer<typeof OrderJournalInput>,
  ): Promise<z.infer<typeof OrderJournalResult>> {
    return this.journal.query(input);
  }

  // ---- Plumbing ----

  /**
   * Journals the request, runs it, and journals how it ended (a refusal when nothing reached the broker),
   * with every broker response recorded meanwhile on disk before the caller gets the answer.
   */
  private async journaled<T>(
    operation: OrderOperationName,
    input: object,
    run: (request: RequestContext) => Promise<T>,
  ): Promise<T> {
    const request: RequestContext = { requestId: randomUUID(), operation, sent: false, orderIds: [] };
    const orderId = (input as { orderId?: unknown }).orderId;
    await this.journal.append({
      type: 'request',
      operation,
      requestId: request.requestId,
      ...(typeof orderId === 'number' ? { orderId } : {}),
      input,
    });
    try {
      const result = await run(request);
      await this.journal.settled();
      await this.journal.append({
        type: 'outcome',
        operation,
        requestId: request.requestId,
        ok: true,
        orderIds: request.orderIds,
        ...((result as { replayed?: unknown }).replayed === true ? { replayed: true } : {}),
      });
      return result;
    } catch (error) {
      const domain = error instanceof DomainError ? error : undefined;
      await this.journal.settled().catch(() => undefined);
      await this.journal.append({
        type: request.sent ? 'outcome' : 'refusal',
        operation,
        requestId: request.requestId,
        ok: false,
        orderIds: request.orderIds,
        code: domain?.code ?? 'INTERNAL',
        message: domain?.message ?? 'unexpected error (see the service log)',
      });
      throw error;
    }
  }

  private session(what: string) {
    return this.ibApi.ibClient(what);
  }

  /** The next free order ids: IB's next valid id, never one this service already used. */
  private async allocateOrderIds(count: number): Promise<number[]> {
    const next = await this.ibApi.ibRequest('the next order id', async (ib) => ib.getNextValidOrderId());
    if (!(next > 0)) throw new DomainError('IB_ERROR', 'IB did not hand out an order id');
    const first = Math.max(next, this.lastOrderId + 1);
    this.lastOrderId = first + count - 1;
    return Array.from({ length: count }, (_unused, index) => first + index);
  }

  private exposure(
    order: {
      quantity: number;
      side: Side;
      orderType: OrderTypeName;
      limitPrice?: number | undefined;
      stopPrice?: number | undefined;
      account?: string | undefined;
    },
    contract: Contract,
  ): OrderExposure {
    return {
      quantity: order.quantity,
      account: order.account,
      multiplier: multiplierOf(contract),
      currency: contract.currency ?? '',
      price: async () => {
        if (order.limitPrice !== undefined) return { price: order.limitPrice, source: 'limit price' };
        if (order.stopPrice !== undefined && order.orderType !== 'TRAIL') {
          return { price: order.stopPrice, source: 'stop price' };
        }
        return this.quote(contract, order.side);
      },
    };
  }

  /** The price a market order would trade at now: the ask to buy, the bid to sell, else the last trade. */
  private async quote(
    contract: Contract,
    side: Side,
  ): Promise<{ price: number; source: string } | undefined> {
    const ticks = await this.ibApi.ibRequest(
      `a quote of ${contract.symbol ?? String(contract.conId)}`,
      async (ib) => ib.getMarketDataSnapshot(contract, '', false),
    );
    const value = (type: number): number | undefined => {
      const tick = ticks.get(type);
      return tick?.value !== undefined && tick.value > 0 ? tick.value : undefined;
    };
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
      const price = value(type);
      if (price !== undefined) return { price, source };
    }
    return undefined;
  }

  /** Every open order at the broker (all clients), in the API's terms; this service's are tracked. */
  private async brokerOpenOrders(): Promise<OrderView[]> {
    const listed = await this.tracker.whileRelisting(async () =>
      this.ibApi.ibRequest('open orders', async (ib) => ib.getAllOpenOrders()),
    );
    const clientId = this.target.clientId;
    const mine = listed.filter((open) => open.order.whatIf !== true && open.order.clientId === clientId);
    const others = listed.filter((open) => open.order.whatIf !== true && open.order.clientId !== clientId);
    this.tracker.absorb(mine);
    await this.journal.settled();
    return [
      ...mine.map((open) => this.viewOf(open.orderId)),
      ...others.map((open) => this.tracker.viewOfForeign(open)),
    ];
  }

  /** This service's order, or NOT_FOUND. */
  private ownOrder(orderId: number): TrackedOrder {
    const order = this.tracker.get(orderId);
    if (!order) {
      throw new DomainError(
        'NOT_FOUND',
        `No order ${orderId} of this service is known (get_open_orders lists the open ones); nothing was sent`,
      );
    }
    return order;
  }

  private viewOf(orderId: number, fallbackStatus = 'Unknown'): OrderView {
    const order = this.tracker.get(orderId);
    const commission = this.tracker.commissionOf(orderId);
    const key = this.keys.keyOf(orderId);
    const base: TrackedOrder = order ?? {
      orderId,
      contract: {},
      side: '',
      quantity: 0,
      orderType: '',
      outsideRth: false,
      status: fallbackStatus,
      filled: 0,
      remaining: 0,
      updatedAt: new Date().toISOString(),
    };
    return {
      ...base,
      ...(commission === undefined ? {} : { commission }),
      ...(key === undefined ? {} : { idempotencyKey: key }),
    };
  }

  /** The broker's first word on each order: acknowledged (openOrder/orderStatus) or rejected (an error). */
  private async acknowledgements(orderIds: number[]): Promise<Map<number, Acknowledgement>> {
    const answers = new Map<number, Acknowledgement>();
    const waiting = new Set(orderIds);
    const watches = orderIds.map((orderId) => this.tracker.watch(orderId));
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        subscription.unsubscribe();
        for (const stopWatching of watches) stopWatching();
        resolve(answers);
      };
      const timer = setTimeout(finish, IB_REQUEST_TIMEOUT_MS);
      const subscription = this.tracker.events.subscribe((event: OrderEvent) => {
        const orderId = event.kind === 'order' ? event.order.orderId : event.orderId;
        if (!waiting.has(orderId)) return;
        if (event.kind === 'order') answers.set(orderId, { accepted: true });
        else if (
          event.kind === 'error' &&
          !isWarningCode(event.code) &&
          event.code !== ORDER_CANCELLED_CODE
        ) {
          answers.set(orderId, { accepted: false, code: event.code, message: event.message });
        } else return;
        waiting.delete(orderId);
        // After a rejection, the other legs' answers are not worth waiting for.
        if (waiting.size === 0 || answers.get(orderId)?.accepted === false)
          setTimeout(finish, waiting.size === 0 ? 0 : 200);
      });
    });
  }

  /** A cancel's verdict: confirmed (Cancelled status or 202), refused (an error), or undefined on timeout. */
  private async cancellation(orderId: number): Promise<Acknowledgement | undefined> {
    return new Promise((resolve) => {
      const finish = (answer: Acknowledgement | undefined): void => {
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve(answer);
      };
      const timer = setTimeout(() => finish(undefined), IB_REQUEST_TIMEOUT_MS);
      const subscription = this.tracker.events.subscribe((event: OrderEvent) => {
        if (event.kind === 'order' && event.order.orderId === orderId) {
          if (event.order.status === 'Cancelled' || event.order.status === 'ApiCancelled')
            finish({ accepted: true });
        } else if (event.kind === 'error' && event.orderId === orderId) {
          if (event.code === ORDER_CANCELLED_CODE) finish({ accepted: true });
          else if (!isWarningCode(event.code))
            finish({ accepted: false, code: event.code, message: event.message });
        }
      });
    });
  }

  /** Resolves when none of the orders is working any more, or after CANCEL_ALL_SETTLE_MS. */
  private async allFinished(orderIds: number[]): Promise<void> {
    const working = new Set(orderIds);
    if (working.size === 0) return;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve();
      };
      const timer = setTimeout(finish, CANCEL_ALL_SETTLE_MS);
      const subscription = this.tracker.events.subscribe((event: OrderEvent) => {
        if (event.kind !== 'order' || isOpenStatus(event.order.status)) return;
        working.delete(event.order.orderId);
        if (working.size === 0) finish();
      });
    });
  }

  private async whatIfAnswer(orderId: number): Promise<OrderState> {
    return new Promise((resolve, reject) => {
      const finish = (outcome: () => void): void => {
        clearTimeout(timer);
        subscription.unsubscribe();
        outcome();
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new DomainError(
                'IB_TIMEOUT',
                `IB did not answer the what-if for order ${orderId} within ${IB_REQUEST_TIMEOUT_MS / 1000} s`,
              ),
            ),
          ),
        IB_REQUEST_TIMEOUT_MS,
      );
      const subscription = this.tracker.events.subscribe((event: OrderEvent) => {
        if (event.kind === 'whatIf' && event.orderId === orderId) finish(() => resolve(event.state));
        else if (event.kind === 'error' && event.orderId === orderId && !isWarningCode(event.code)) {
          finish(() => reject(this.brokerError(event.code, event.message, orderId, undefined)));
        }
      });
    });
  }

  /** IB's order errors as the API reports them. */
  private brokerError(
    code: number,
    message: string,
    orderId: number,
    contract: Contract | undefined,
  ): DomainError {
    const details = { ibCode: code, orderId };
    const subject = contract?.symbol ?? (contract?.conId ? `conId ${contract.conId}` : 'the contract');
    if (code === NO_SECURITY_DEFINITION) {
      return new DomainError('NOT_FOUND', `IB has no contract for ${subject}: ${message}`, details);
    }
    if (NOT_FOUND_CODES.includes(code)) {
      return new DomainError('NOT_FOUND', `IB knows no open order ${orderId}: ${message}`, details);
    }
    if (code === CANNOT_CANCEL_CODE) {
      return new DomainError('CONFLICT', `Order ${orderId} cannot be cancelled: ${message}`, details);
    }
    if (code === ORDER_REJECTED) {
      return new DomainError(
        'INVALID_INPUT',
        `IB rejected order ${orderId}: ${rejectionReason(message)}`,
        details,
      );
    }
    if (code === DUPLICATE_ORDER_ID) {
      return new DomainError(
        'IB_ERROR',
        `IB refused order id ${orderId} as a duplicate: ${message}`,
        details,
      );
    }
    return new DomainError(
      'INVALID_INPUT',
      `IB rejected order ${orderId} (IB code ${code}): ${message}`,
      details,
    );
  }
}

function money(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && Math.abs(value) < 1e300 ? value : undefined;
}
