import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import type { z } from 'zod';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice, type OrderChoice } from '../gateway/gateway-router';
import {
  CancelAllOrdersResult,
  NoOrderInput,
  OpenOrdersResult,
  OrderJournalInput,
  OrderJournalResult,
  OrderStatusInput,
  OrderStatusResult,
  OrderView,
  PlaceOrderResult,
  PreviewOrderInput,
  PreviewOrderResult,
} from './orders.schemas';
import { OrderApprovals } from './order-approvals';
import type { McpToolAnswer } from './order-approvals.answers';
import { ApprovalAsker, AwaitsApproval, type Asker } from './order-approvals.asker';
import {
  CancelAllOrdersInput,
  ConfirmedCancelOrderInput as CancelOrderInput,
  ConfirmedModifyOrderInput as ModifyOrderInput,
  ConfirmedPlaceOrderInput as PlaceOrderInput,
  ConfirmedTransmitOrderInput as TransmitOrderInput,
} from './order-approvals.schemas';
import { OrdersService } from './orders.service';
import { CompletedOrdersService } from './completed-orders.service';
import { CompletedOrders, CompletedOrdersInput } from './completed-orders.schemas';

const SAFETY_NOTE =
  'Refused with 403 in read-only mode, on a live account unless live orders are enabled, and beyond the per-order quantity and notional limits.';
const CONFIRM_NOTE =
  "With --confirm-orders a person confirms it first: MCP clients of the 2026-07-28 revision are asked in the result (input-required elicitation showing the exact order, and IB's what-if for a new one; retry as the client does); REST and older MCP clients get an approval ticket (HTTP 202, code APPROVAL_PENDING) that a person approves over REST, then repeat the call with identical parameters and its approvalId. Declined, expired or changed: nothing is sent.";

@ApiTags('orders')
@McpController('orders')
export class OrdersController {
  constructor(private readonly router: GatewayRouter) {}

  /** Previews and new orders: the gateway that manages the order's account (or the one named). */
  private async forAccount(input: GatewayChoice): Promise<OrdersService> {
    return (await this.router.forAccount(input)).get(OrdersService);
  }

  /** An existing order: the gateway named, else the one whose service knows the order id or key. */
  private forOrder(input: OrderChoice): OrdersService {
    return this.router.forOrder(input).get(OrdersService);
  }

  /** An operation on an existing order, run once a person confirmed it (with --confirm-orders). */
  private async confirmOnOrder<I extends OrderChoice & { approvalId?: string | undefined }, R>(
    asker: Asker,
    operation: Parameters<OrderApprovals['confirm']>[1],
    input: I,
    run: (orders: OrdersService, confirmed: Omit<I, 'approvalId'>) => Promise<R>,
  ): Promise<R | McpToolAnswer> {
    const unit = this.router.forOrder(input);
    const orders = unit.get(OrdersService);
    return unit
      .get(OrderApprovals)
      .confirm(asker, operation, input, async (confirmed) => run(orders, confirmed));
  }

  /** Lists and cancel-all: the gateway named, else the only one. */
  private named(input: GatewayChoice): OrdersService {
    return this.router.named(input).get(OrdersService);
  }

  @Operation({
    name: 'preview_order',
    summary: "Preview an order with IB's what-if",
    description:
      "Asks IB what the order would do without placing it: initial and maintenance margin change, equity with loan, commission, IB's warning, and whether place_order would accept it under the service's safety settings.",
    // Read-only, but an order is a body, not a query string.
    method: 'post',
    path: 'preview',
    input: PreviewOrderInput,
    output: PreviewOrderResult,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: true },
  })
  async preview(
    @Input(PreviewOrderInput) input: z.infer<typeof PreviewOrderInput>,
  ): Promise<z.infer<typeof PreviewOrderResult>> {
    return (await this.forAccount(input)).preview(input);
  }

  @Operation({
    name: 'place_order',
    summary:
      'Place an order (MKT, LMT, STP, STP LMT, TRAIL, TRAIL LIMIT, MOC, LOC, MIT, LIT, REL, or a bracket)',
    description: `Places an order with IB and answers once IB acknowledged or rejected it. With bracket, places the entry plus a take-profit and a stop-loss child in one call and returns the three ids. Give an idempotencyKey to make retries safe: the same key returns the original order instead of placing another, and a key whose earlier attempt ended uncertain (timeout, dropped connection, crash) is first looked up at IB (it is the order's orderRef): found, its real state is answered; provably absent, the order is placed now, once. When IB cannot be asked the answer is 503 ORDER_STATE_UNKNOWN with retryAfterSeconds: retry with the same key. ${SAFETY_NOTE} ${CONFIRM_NOTE}`,
    path: '',
    input: PlaceOrderInput,
    output: PlaceOrderResult,
    safety: { readOnly: false, destructive: true, idempotent: false, openWorld: true },
  })
  @AwaitsApproval()
  async place(
    @Input(PlaceOrderInput) input: z.infer<typeof PlaceOrderInput>,
    @ApprovalAsker() asker: Asker,
  ): Promise<z.infer<typeof PlaceOrderResult> | McpToolAnswer> {
    const unit = await this.router.forAccount(input);
    return unit.get(OrderApprovals).confirm(asker, 'place_order', input, async (order, approvalKey) =>
      // Confirmed: placed under the caller's key, else the approval's, so that a retry never places twice.
      unit.get(OrdersService).place({ ...order, idempotencyKey: order.idempotencyKey ?? approvalKey }),
    );
  }

  @Operation({
    name: 'modify_order',
    summary: 'Modify an open order',
    description: `Changes the quantity, prices, time in force or outside-hours flag of a working order of this service; its type, side and contract stay. ${SAFETY_NOTE} ${CONFIRM_NOTE}`,
    path: ':orderId/modify',
    input: ModifyOrderInput,
    output: OrderView,
    safety: { readOnly: false, destructive: true, idempotent: true, openWorld: true },
  })
  @AwaitsApproval()
  async modify(
    @Input(ModifyOrderInput) input: z.infer<typeof ModifyOrderInput>,
    @ApprovalAsker() asker: Asker,
  ): Promise<z.infer<typeof OrderView> | McpToolAnswer> {
    return this.confirmOnOrder(asker, 'modify_order', input, async (orders, change) => orders.modify(change));
  }

  @Operation({
    name: 'transmit_order',
    summary: 'Transmit a staged order',
    description: `Sends an order placed with transmit: false (staged: held at IB, not working) on to the market: IB's placeOrder again with the same id and transmit set. Idempotent: an order already transmitted (or working without having been staged) is answered as it stands and nothing is sent. 404 for an unknown order id, 409 for one neither staged nor working. ${SAFETY_NOTE} ${CONFIRM_NOTE}`,
    path: ':orderId/transmit',
    input: TransmitOrderInput,
    output: OrderView,
    safety: { readOnly: false, destructive: true, idempotent: true, openWorld: true },
  })
  @AwaitsApproval()
  async transmit(
    @Input(TransmitOrderInput) input: z.infer<typeof TransmitOrderInput>,
    @ApprovalAsker() asker: Asker,
  ): Promise<z.infer<typeof OrderView> | McpToolAnswer> {
    return this.confirmOnOrder(asker, 'transmit_order', input, async (orders, staged) =>
      orders.transmit(staged),
    );
  }

  @Operation({
    name: 'cancel_order',
    summary: 'Cancel an open order',
    description: `Cancels one working order (a bracket entry takes its children with it) and answers once IB confirmed it. Refused in read-only mode and on a live account unless live orders are enabled. ${CONFIRM_NOTE}`,
    method: 'delete',
    path: ':orderId',
    input: CancelOrderInput,
    output: OrderView,
    safety: { readOnly: false, destructive: true, idempotent: true, openWorld: true },
  })
  @AwaitsApproval()
  async cancel(
    @Input(CancelOrderInput) input: z.infer<typeof CancelOrderInput>,
    @ApprovalAsker() asker: Asker,
  ): Promise<z.infer<typeof OrderView> | McpToolAnswer> {
    return this.confirmOnOrder(asker, 'cancel_order', input, async (orders, cancel) => orders.cancel(cancel));
  }

  @Operation({
    name: 'cancel_all_orders',
    summary: 'Cancel every open order (global cancel)',
    description:
      "IB's global cancel: cancels every open order of the account, including those placed in TWS or by other API clients. Reports the orders seen cancelled and any IB still lists open. Refused in read-only mode and on a live account unless live orders are enabled. " +
      CONFIRM_NOTE,
    path: 'cancel-all',
    input: CancelAllOrdersInput,
    output: CancelAllOrdersResult,
    safety: { readOnly: false, destructive: true, idempotent: true, openWorld: true },
  })
  @AwaitsApproval()
  async cancelAll(
    @Input(CancelAllOrdersInput) input: z.infer<typeof CancelAllOrdersInput>,
    @ApprovalAsker() asker: Asker,
  ): Promise<z.infer<typeof CancelAllOrdersResult> | McpToolAnswer> {
    const unit = this.router.named(input);
    return unit
      .get(OrderApprovals)
      .confirm(asker, 'cancel_all_orders', input, async () => unit.get(OrdersService).cancelAll());
  }

  @Operation({
    name: 'get_open_orders',
    summary: 'List the open orders',
    description:
      "Every working order in the gateway's accounts, as IB reports it now (all API clients and TWS).",
    path: 'open',
    input: NoOrderInput,
    output: OpenOrdersResult,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: true },
  })
  async openOrders(
    @Input(NoOrderInput) input: z.infer<typeof NoOrderInput>,
  ): Promise<z.infer<typeof OpenOrdersResult>> {
    return this.named(input).openOrders();
  }

  @Operation({
    name: 'get_order_status',
    summary: 'Get the status of an order',
    description:
      "One order's status, fills, average price and commission, by order id or by the idempotency key it was placed with; a bracket entry comes with its children. Known across restarts (from the audit journal). By key it tells the same story as place_order: an uncertain key is looked up at IB first (503 ORDER_STATE_UNKNOWN when IB cannot be asked), and 404 means IB has no order with that key.",
    path: 'status',
    input: OrderStatusInput,
    output: OrderStatusResult,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: true },
  })
  async status(
    @Input(OrderStatusInput) input: z.infer<typeof OrderStatusInput>,
  ): Promise<z.infer<typeof OrderStatusResult>> {
    return this.forOrder(input).status(input);
  }

  @Operation({
    name: 'get_completed_orders',
    summary: 'List completed orders (filled, cancelled, rejected)',
    description:
      'The orders IB lists as completed, of every API client and TWS itself: status, fills, prices, when and how each ended, and the idempotency key of those placed here. Optionally one account and a time window (since, until). IB keeps them for a limited time (about the current and previous session).',
    path: 'completed',
    input: CompletedOrdersInput,
    output: CompletedOrders,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: true },
  })
  async completed(
    @Input(CompletedOrdersInput) input: z.infer<typeof CompletedOrdersInput>,
  ): Promise<z.infer<typeof CompletedOrders>> {
    return (await this.router.forAccount(input)).get(CompletedOrdersService).list(input);
  }

  @Operation({
    name: 'get_order_journal',
    summary: 'Read the order audit journal',
    description:
      "The durable journal of every order request (place, modify, cancel, cancel all, preview), refusal, what was sent to the broker, and every broker response (order status, executions, commissions, errors), newest last; optionally only one order's, one account's, or since a time.",
    path: 'journal',
    input: OrderJournalInput,
    output: OrderJournalResult,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  async journal(
    @Input(OrderJournalInput) input: z.infer<typeof OrderJournalInput>,
  ): Promise<z.infer<typeof OrderJournalResult>> {
    return (await this.forAccount(input)).journalEntries(input);
  }
}
