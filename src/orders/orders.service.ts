import { Inject, Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { toDomainError } from '../connection/ib-errors';
import { IbSession } from '../connection/ib-session.repository';
import { ContractsService } from '../contracts/contracts.service';
import { orderContractOfInput } from './combo-legs';
import { fingerprintOf, IdempotencyKeyRepository, isFree, isUncertain } from './idempotency-key.repository';
import { journaled, journalSent, type RequestContext } from './journaled-request';
import { OrderJournalRepository } from './order-journal.repository';
import { OrderExposures } from './order-exposure';
import { StagedOrders } from './staged-orders';
import {
  contractView,
  isOpenStatus,
  legViews,
  pendingView,
  unknownOrder,
  type Acknowledgement,
  type OrderContractRef,
  type OrderFields,
  type TrackedOrder,
} from './order-model';
import {
  contractOfTracked,
  fieldError,
  modifiedFields,
  ordersToSend,
  type ModifyInput,
  type PlaceInput,
} from './order-requests';
import { OrderSafetyPolicy, type SafetySubject } from './order-safety.policy';
import { OrderReconciler, unansweredSend } from './order-reconciler';
import { OrderTracker } from './order-tracker';
import { TickSizePolicy } from './tick-size';
import { OrdersRepository, wireForm } from './orders.repository';
import {
  type CancelAllOrdersResult,
  type CancelOrderInput,
  type OpenOrdersResult,
  type OrderJournalInput,
  type OrderJournalResult,
  type OrderStatusInput,
  type OrderView,
  type PlaceOrderResult,
  type PreviewOrderInput,
  type PreviewOrderResult,
  type TransmitOrderInput,
} from './orders.schemas';

type PreviewInput = z.infer<typeof PreviewOrderInput>;
type PlaceResult = z.infer<typeof PlaceOrderResult>;

/**
 * Orders: what-if previews, placing (single and bracket), modifying and cancelling, with the safety policy
 * in front, client idempotency keys, and every request and broker response in the audit journal before
 * the API answers. The broker conversation itself is the repository's.
 */
@Injectable()
export class OrdersService {
  private lastOrderId = 0;

  constructor(
    private readonly broker: OrdersRepository,
    private readonly contracts: ContractsService,
    private readonly tracker: OrderTracker,
    private readonly journal: OrderJournalRepository,
    private readonly keys: IdempotencyKeyRepository,
    private readonly safety: OrderSafetyPolicy,
    private readonly ticks: TickSizePolicy,
    private readonly exposures: OrderExposures,
    private readonly staged: StagedOrders,
    /** Order ids are handed out and used in order: one placement (or preview) at a time, in its turns. */
    private readonly reconciler: OrderReconciler,
    private readonly session: IbSession,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async preview(input: PreviewInput): Promise<z.infer<typeof PreviewOrderResult>> {
    return journaled(this.journal, 'preview_order', input, async (request) => {
      const contract = await orderContractOfInput(this.contracts, input);
      const { order, adjustments } = await this.ticks.apply(contract, input, input.roundToTick);
      const { refusal } = await this.safety.screen(() => ({
        account: input.account,
        exposure: this.exposures.of(order, contract),
      }));
      const figures = await this.reconciler.exclusive(async () => {
        const [orderId = 0] = await this.allocateOrderIds(1);
        request.orderIds = [orderId];
        const link = this.broker.link('a what-if order');
        await journalSent(this.journal, request, wireForm(contract, order, true));
        return this.tracker.watching([orderId], async () => link.whatIf(orderId, contract, order));
      });
      return {
        contract: contractView(contract),
        ...(contract.comboLegs ? { legs: legViews(contract.comboLegs) } : {}),
        ...figures,
        ...(adjustments.length > 0 ? { priceAdjustments: adjustments } : {}),
        safety: { allowed: refusal === undefined, ...(refusal === undefined ? {} : { refusal }) },
      };
    });
  }

  async place(input: PlaceInput): Promise<PlaceResult> {
    return journaled(this.journal, 'place_order', input, async (request) => {
      const { idempotencyKey: key, ...parameters } = input;
      const fingerprint = key === undefined ? '' : fingerprintOf(parameters);
      // A key seen before is answered for first: an uncertain one after asking IB, before any other check.
      if (key !== undefined && this.keys.recall(key, fingerprint)) {
        const earlier = await this.reconciler.exclusive(async () =>
          this.outcomeOf(key, fingerprint, request),
        );
        if (earlier) return earlier;
      }
      const { contract, order, adjustments } = await this.allowed(request, async () => {
        const contract = await orderContractOfInput(this.contracts, input);
        const { order, adjustments } = await this.ticks.apply(contract, input, input.roundToTick);
        const exposure = this.exposures.of(order, contract);
        return { account: input.account, exposure, contract, order, adjustments };
      });
      if (order.bracket && order.orderType === 'MKT') {
        await this.exposures.checkMarketBracket(order, contract);
      }

      return this.reconciler.exclusive(async () => {
        // A retry with the same key may have waited here for the original to finish.
        const concurrent = key === undefined ? undefined : await this.outcomeOf(key, fingerprint, request);
        if (concurrent) return concurrent;
        const ids = await this.allocateOrderIds(order.bracket ? 3 : 1);
        const orders = ordersToSend(order, ids, key);
        request.orderIds = ids;
        const at = dateOf(this.clock).toISOString();
        const pending = orders.map((order) => ({
          ...pendingView(order, contract, this.broker.clientId, at),
          // A staged order is held at IB until transmit_order.
          ...(input.transmit ? {} : { staged: true }),
        }));
        const link = this.broker.link('orders');
        // The key is bound before anything is sent: a crash after sending must not allow a second order.
        if (key !== undefined) await this.keys.reserve(key, fingerprint, ids);
        const { contract: sentContract } = wireForm(contract);
        await journalSent(this.journal, request, {
          ...(key === undefined ? {} : { idempotencyKey: key }),
          contract: sentContract,
          orders: pending,
        });
        if (key !== undefined) await this.keys.mark(key, 'sent');
        for (const view of pending) this.tracker.expect(view);
        if (!input.transmit) for (const { orderId, fields } of orders) this.staged.remember(orderId, fields);
        const answers = await link.place(contract, orders);
        await this.failUnlessAccepted(answers, ids, contract, key);
        if (key !== undefined) await this.keys.mark(key, 'acknowledged');
        return {
          ...this.placedResult(ids, key, false),
          ...(adjustments.length > 0 ? { priceAdjustments: adjustments } : {}),
        };
      });
    });
  }

  async modify(input: ModifyInput): Promise<z.infer<typeof OrderView>> {
    return journaled(this.journal, 'modify_order', input, async (request) => {
      const { current, fields, contract } = await this.allowed(request, async () => {
        const current = this.ownOrder(input.orderId);
        const { issues, ...changed } = modifiedFields(current, input);
        if (issues.length > 0) throw fieldError(issues);
        const contract = contractOfTracked(current);
        const { order: fields } = await this.ticks.apply(contract, changed, input.roundToTick);
        return {
          account: current.account,
          exposure: this.exposures.of(fields, contract),
          current,
          fields,
          contract,
        };
      });
      const key = this.keys.keyOf(input.orderId);
      // A staged order stays staged (held at IB) when modified: only transmit_order sends it.
      const held = current.staged === true ? { transmit: false } : {};
      const sent: OrderFields = { ...fields, parentId: current.parentId, orderRef: key, ...held };
      if (current.staged === true) this.staged.remember(input.orderId, sent);
      request.orderIds = [input.orderId];
      const link = this.broker.link('an order modification');
      await journalSent(this.journal, request, wireForm(contract, sent));
      const answers = await link.modify(input.orderId, contract, sent);
      await this.failUnlessAccepted(answers, [input.orderId], contract, undefined);
      return this.viewOf(input.orderId);
    });
  }

  /**
   * Sends a staged order on: placeOrder again with its id and transmit=1 (IB's way), after the safety checks
   * (they apply again now). An order already transmitted, or working without having been staged, is answered
   * as it stands and nothing is sent; one neither staged nor working is a CONFLICT.
   */
  async transmit(input: z.infer<typeof TransmitOrderInput>): Promise<z.infer<typeof OrderView>> {
    return journaled(this.journal, 'transmit_order', input, async (request) =>
      this.reconciler.exclusive(async () => {
        const orderId = input.orderId;
        if (this.staged.planFor(this.ownOrder(orderId)) === 'answer') return this.viewOf(orderId);
        const { current, fields, contract } = await this.allowed(request, () => {
          const current = this.ownOrder(orderId);
          const [contract, fields] = [contractOfTracked(current), this.staged.fieldsOf(current)];
          const exposure = this.exposures.of(fields, contract);
          return { account: current.account, exposure, current, fields, contract };
        });
        const key = this.keys.keyOf(orderId);
        const sent: OrderFields = { ...fields, parentId: current.parentId, orderRef: key, transmit: true };
        request.orderIds = [orderId];
        const link = this.broker.link('transmitting a staged order');
        await journalSent(this.journal, request, wireForm(contract, sent));
        const answers = await link.modify(orderId, contract, sent);
        await this.failUnlessAccepted(answers, [orderId], contract, undefined);
        this.tracker.markTransmitted(orderId);
        this.staged.forget(orderId);
        return this.viewOf(orderId);
      }),
    );
  }

  async cancel(input: z.infer<typeof CancelOrderInput>): Promise<z.infer<typeof OrderView>> {
    return journaled(this.journal, 'cancel_order', input, async (request) => {
      await this.allowed(request, () => {
        const known = this.tracker.get(input.orderId);
        if (known && !isOpenStatus(known.status)) {
          throw new DomainError(
            'CONFLICT',
            `Order ${input.orderId} is already ${known.status}; there is nothing to cancel`,
          );
        }
        return { account: known?.account };
      });
      request.orderIds = [input.orderId];
      const link = this.broker.link('an order cancel');
      await journalSent(this.journal, request, {});
      await this.tracker.watching([input.orderId], async () => link.cancel(input.orderId));
      return this.viewOf(input.orderId, 'Cancelled');
    });
  }

  async cancelAll(): Promise<z.infer<typeof CancelAllOrdersResult>> {
    return journaled(this.journal, 'cancel_all_orders', {}, async (request) => {
      await this.allowed(request, () => ({}));
      const open = this.tracker
        .all()
        .filter((order) => isOpenStatus(order.status) && order.status !== 'PendingSubmit');
      request.orderIds = open.map((order) => order.orderId);
      const link = this.broker.link('a global cancel');
      await journalSent(this.journal, request, { globalCancel: true });
      await link.cancelAll(request.orderIds);
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

  async openOrders(): Promise<z.infer<typeof OpenOrdersResult>> {
    return { orders: await this.brokerOpenOrders() };
  }

  async status(
    input: z.infer<typeof OrderStatusInput>,
  ): Promise<{ order: OrderView; children: OrderView[] }> {
    const orderId =
      input.idempotencyKey === undefined ? input.orderId : await this.orderIdOfKey(input.idempotencyKey);
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

  /**
   * The entry order of a key, as place_order would answer for it: an uncertain key is settled with IB first;
   * NOT_FOUND when nothing was placed with it (never, rejected, or provably not at IB).
   */
  private async orderIdOfKey(key: string): Promise<number | undefined> {
    let record = this.keys.find(key);
    if (record && isUncertain(record.state)) {
      const uncertain = record;
      record = await this.reconciler.exclusive(async () => {
        // Settled meanwhile (e.g. by the placement that held the turn) or still uncertain: ask IB.
        const now = this.keys.find(key) ?? uncertain;
        return isUncertain(now.state) ? this.reconciler.settle(now) : now;
      });
    }
    if (!record || record.state === 'absent') {
      throw new DomainError(
        'NOT_FOUND',
        record
          ? `No order exists with idempotency key ${key}: IB was asked and has none (${record.at}); place_order with this key places it`
          : `No order was placed with idempotency key ${key}`,
      );
    }
    return record.orderIds[0];
  }

  // ---- Policy steps ----

  /** The safety checks as one step: read-only, then `prepare`, then live account and limits. */
  private async allowed<T extends SafetySubject>(
    request: RequestContext,
    prepare: () => T | Promise<T>,
  ): Promise<T> {
    const screening = await this.safety.screen(prepare).catch((error: unknown) => {
      if (!(error instanceof DomainError && error.code === 'NOT_CONNECTED')) throw error;
      throw new DomainError(
        'NOT_CONNECTED',
        `${request.operation} needs the IB API session, which is not connected: nothing was sent to the broker; retry once it is`,
      );
    });
    if (screening.refusal === undefined) return screening.subject;
    throw new DomainError(
      'FORBIDDEN',
      `${request.operation} refused: ${screening.refusal}. Nothing was sent to the broker.`,
    );
  }

  /**
   * What a key seen before stands for (the caller holds the reconciler's turn): its orders when the broker
   * has them (an uncertain key is settled by asking IB first), undefined when it may place (never seen, or
   * its order provably does not exist). CONFLICT when it came with other parameters; ORDER_STATE_UNKNOWN
   * when IB cannot be asked now.
   */
  private async outcomeOf(
    key: string,
    fingerprint: string,
    request: RequestContext,
  ): Promise<PlaceResult | undefined> {
    let record = this.keys.recall(key, fingerprint);
    if (record && isUncertain(record.state)) record = await this.reconciler.settle(record);
    if (!record || isFree(record.state)) return undefined;
    request.orderIds = record.orderIds;
    return this.placedResult(record.orderIds, key, true);
  }

  private placedResult(ids: number[], key: string | undefined, replayed: boolean): PlaceResult {
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
   * Throws the broker's rejection (or a missing answer) as a domain error. A rejected bracket leaves nothing
   * behind (its held, never transmitted legs are cancelled), so its key may place again. Orders not answered
   * (a timeout, or the session lost while sending) leave the key unknown: a retry asks IB before it answers.
   */
  private async failUnlessAccepted(
    answers: Map<number, Acknowledgement>,
    ids: number[],
    contract: OrderContractRef,
    key: string | undefined,
  ): Promise<void> {
    for (const orderId of ids) {
      const answer = answers.get(orderId);
      if (answer === undefined || answer.accepted) continue;
      const accepted = ids.filter((id) => answers.get(id)?.accepted === true);
      if (accepted.length > 0) {
        this.broker.link('cancelling the rest of a rejected bracket').cancelEach(accepted);
      }
      if (key !== undefined) await this.keys.mark(key, 'rejected');
      const subject = contract.symbol ?? `conId ${contract.conId}`;
      throw toDomainError(answer, { request: 'order', subject, orderId });
    }
    const unanswered = ids.filter((orderId) => !answers.has(orderId));
    if (unanswered.length === 0) return;
    if (key !== undefined) await this.keys.mark(key, 'unknown');
    throw unansweredSend(unanswered, ids, key, this.session.isConnected);
  }

  // ---- Plumbing ----

  /** The next free order ids: IB's next valid id, never one this service already used. */
  private async allocateOrderIds(count: number): Promise<number[]> {
    const next = await this.broker.nextOrderId();
    if (!(next > 0)) throw new DomainError('IB_ERROR', 'IB did not hand out an order id');
    const first = Math.max(next, this.lastOrderId + 1);
    this.lastOrderId = first + count - 1;
    return Array.from({ length: count }, (_unused, index) => first + index);
  }

  /** Every open order at the broker (all clients), in the API's terms; this service's are tracked. */
  private async brokerOpenOrders(): Promise<OrderView[]> {
    const listed = await this.tracker.whileRelisting(async () => this.broker.allOpenOrders());
    const mine = listed.filter((report) => this.tracker.isOwnClient(report.clientId));
    const others = listed.filter((report) => !this.tracker.isOwnClient(report.clientId));
    this.tracker.absorb(mine);
    await this.journal.settled();
    return [
      ...mine.map((report) => this.viewOf(report.orderId)),
      ...others.map((report) => this.tracker.viewOfForeign(report)),
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
    const commission = this.tracker.commissionOf(orderId);
    const key = this.keys.keyOf(orderId);
    const base = this.tracker.get(orderId) ?? unknownOrder(orderId, fallbackStatus, dateOf(this.clock));
    return {
      ...base,
      ...(commission === undefined ? {} : { commission }),
      ...(key === undefined ? {} : { idempotencyKey: key }),
    };
  }
}
