import type { z } from 'zod';
import type { OrderContract, OrderPricing, OrderView, Side } from './orders.schemas';

/**
 * The orders domain's own words for what goes to the broker and what comes back. The repository
 * (orders.repository.ts) translates them to and from @stoqey/ib; everything else in src/orders speaks these.
 */

/** What the service knows of one order; commission and idempotency key are added when it is viewed. */
export type TrackedOrder = Omit<OrderView, 'commission' | 'idempotencyKey'>;

export type ContractView = z.infer<typeof OrderContract>;

/** One leg of a combo (BAG) contract: what IB needs (conId, ratio, action), and what describes the leg. */
export interface ComboLegRef {
  conId: number;
  ratio: number;
  action: string;
  exchange?: string | undefined;
  symbol?: string | undefined;
  secType?: string | undefined;
  expiry?: string | undefined;
  strike?: number | undefined;
  right?: string | undefined;
}

export type LegView = NonNullable<OrderView['legs']>[number];

/** A combo's legs as the API shows them: what is known of each (IB's reports carry conId, ratio, action). */
export function legViews(legs: readonly ComboLegRef[], known: readonly LegView[] = []): LegView[] {
  return legs.map((leg) => {
    const detail: Partial<ComboLegRef> = known.find((other) => other.conId === leg.conId) ?? {};
    const merged = { ...detail, ...definedOnly(leg) };
    return {
      conId: merged.conId ?? leg.conId,
      ...(merged.symbol ? { symbol: merged.symbol } : {}),
      ...(merged.secType ? { secType: merged.secType } : {}),
      ...(merged.expiry ? { expiry: merged.expiry } : {}),
      ...(merged.strike ? { strike: merged.strike } : {}),
      ...(merged.right ? { right: merged.right } : {}),
      ratio: leg.ratio,
      action: leg.action,
    };
  });
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, field]) => field !== undefined && field !== ''),
  ) as Partial<T>;
}

/** The contract an order is for, as it is sent: IB's conId plus routing and what describes it. */
export interface OrderContractRef {
  conId: number;
  symbol?: string | undefined;
  secType?: string | undefined;
  exchange?: string | undefined;
  primaryExchange?: string | undefined;
  currency?: string | undefined;
  localSymbol?: string | undefined;
  tradingClass?: string | undefined;
  expiry?: string | undefined;
  strike?: number | undefined;
  right?: string | undefined;
  multiplier?: number | undefined;
  /** A combo (secType BAG): its legs. */
  comboLegs?: ComboLegRef[] | undefined;
}

/**
 * One order's fields as the service sends them (place, modify, what-if): its type and prices (OrderPricing;
 * TRAIL LIMIT's limitPriceOffset is IB's lmtPriceOffset, REL's pegOffset its auxPrice) and the rest.
 */
export interface OrderFields extends OrderPricing {
  side: Side;
  quantity: number;
  tif?: string | undefined;
  /** GTD: when the order expires (ISO 8601). */
  goodTillDate?: string | undefined;
  ocaGroup?: string | undefined;
  ocaType?: number | undefined;
  outsideRth?: boolean | undefined;
  account?: string | undefined;
  /** The bracket entry a child belongs to. */
  parentId?: number | undefined;
  /** IB's order reference: the idempotency key the order was placed with. */
  orderRef?: string | undefined;
  /** False holds the order at IB until a later order of its group transmits (a bracket's first legs). */
  transmit?: boolean | undefined;
}

/** An order id and its fields: one leg of what a place request sends. */
export interface OutgoingOrder {
  orderId: number;
  fields: OrderFields;
}

/**
 * One order as a broker message describes it. Quantity, fill and side are undefined when the message did
 * not carry them: the tracker keeps what it knew (see trackedOf).
 */
export interface OrderReport {
  orderId: number;
  parentId?: number | undefined;
  permId?: number | undefined;
  clientId?: number | undefined;
  /** The idempotency key the order was placed with. */
  orderRef?: string | undefined;
  account?: string | undefined;
  contract: ContractView;
  /** A combo's legs as IB reported them. */
  legs?: ComboLegRef[] | undefined;
  side?: string | undefined;
  quantity?: number | undefined;
  orderType: string;
  limitPrice?: number | undefined;
  stopPrice?: number | undefined;
  trailingAmount?: number | undefined;
  trailingPercent?: number | undefined;
  tif?: string | undefined;
  goodTillDate?: string | undefined;
  ocaGroup?: string | undefined;
  outsideRth: boolean;
  status: string;
  filled?: number | undefined;
  remaining?: number | undefined;
  avgFillPrice?: number | undefined;
  lastFillPrice?: number | undefined;
}

/** An order the broker finished (filled or cancelled), as its completed-orders listing describes it. */
export interface CompletedOrderReport {
  permId?: number | undefined;
  orderRef?: string | undefined;
  contract: ContractView;
  legs?: ComboLegRef[] | undefined;
  side?: string | undefined;
  quantity?: number | undefined;
  filled?: number | undefined;
  status: string;
  orderId?: number | undefined;
  clientId?: number | undefined;
  account?: string | undefined;
  orderType?: string | undefined;
  limitPrice?: number | undefined;
  auxPrice?: number | undefined;
  tif?: string | undefined;
  /** IB's time text of the fill or cancel ("20260102 14:30:00 America/New_York"). */
  completedTime?: string | undefined;
  /** IB's words for how it ended ("Cancelled by Trader", "Filled"). */
  completedStatus?: string | undefined;
}

/** IB's what-if answer as it sent it (unset figures are IB's "unset" doubles); journaled as is. */
export interface WhatIfState {
  status: string;
  initMarginBefore?: number | undefined;
  maintMarginBefore?: number | undefined;
  equityWithLoanBefore?: number | undefined;
  initMarginChange?: number | undefined;
  maintMarginChange?: number | undefined;
  equityWithLoanChange?: number | undefined;
  initMarginAfter?: number | undefined;
  maintMarginAfter?: number | undefined;
  equityWithLoanAfter?: number | undefined;
  commission?: number | undefined;
  minCommission?: number | undefined;
  maxCommission?: number | undefined;
  commissionCurrency?: string | undefined;
  warningText?: string | undefined;
}

/** What the broker said, in the order it said it. */
export type BrokerEvent =
  | {
      kind: 'report';
      event: 'openOrder' | 'orderStatus';
      report: OrderReport;
      /** False when the message is part of a (re-)listing of the open orders, not news about the order. */
      fresh: boolean;
    }
  | { kind: 'whatIf'; orderId: number; permId: number; state: WhatIfState }
  | { kind: 'error'; orderId: number; code: number; message: string };

/** The broker's first word on an order (or on a cancel): accepted, or refused with IB's code. */
export type Acknowledgement = { accepted: true } | { accepted: false; code: number; message: string };

/** One execution of this client, as the audit journal records it. */
export interface ExecutionReport {
  orderId?: number | undefined;
  execId?: string | undefined;
  clientId?: number | undefined;
  permId?: number | undefined;
  orderRef?: string | undefined;
  symbol?: string | undefined;
  conId?: number | undefined;
  side?: string | undefined;
  shares?: number | undefined;
  price?: number | undefined;
  cumQty?: number | undefined;
  avgPrice?: number | undefined;
  exchange?: string | undefined;
  account?: string | undefined;
  time?: string | undefined;
}

export interface CommissionReport {
  execId?: string | undefined;
  commission?: number | undefined;
  currency?: string | undefined;
  realizedPnl?: number | undefined;
}

/** IB's "unset" doubles arrive as Double.MAX or not at all: a real figure, or undefined. */
export function realNumber(value: number | undefined): number | undefined {
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

/** The one contract-to-view mapping: previews, pending orders and broker reports all use it. */
export function contractView(contract: OrderContractRef): ContractView {
  return {
    ...(contract.conId ? { conId: contract.conId } : {}),
    ...(contract.symbol ? { symbol: contract.symbol } : {}),
    ...(contract.secType ? { secType: contract.secType } : {}),
    ...(contract.exchange ? { exchange: contract.exchange } : {}),
    ...(contract.currency ? { currency: contract.currency } : {}),
    ...(contract.localSymbol ? { localSymbol: contract.localSymbol } : {}),
    ...(contract.expiry ? { expiry: contract.expiry } : {}),
    ...(contract.strike ? { strike: contract.strike } : {}),
    ...(contract.right ? { right: contract.right } : {}),
  };
}

/** An order being placed, as the service knows it until the broker acknowledges it. */
export function pendingView(
  { orderId, fields }: OutgoingOrder,
  contract: OrderContractRef,
  clientId: number,
  at: string,
): TrackedOrder {
  const trailing = fields.orderType === 'TRAIL' || fields.orderType === 'TRAIL LIMIT';
  return {
    orderId,
    ...(fields.parentId ? { parentId: fields.parentId } : {}),
    clientId,
    ...(fields.account ? { account: fields.account } : {}),
    contract: contractView(contract),
    ...(contract.comboLegs ? { legs: legViews(contract.comboLegs) } : {}),
    side: fields.side,
    quantity: fields.quantity,
    orderType: fields.orderType,
    ...(fields.limitPrice === undefined ? {} : { limitPrice: fields.limitPrice }),
    ...(!trailing && fields.stopPrice !== undefined ? { stopPrice: fields.stopPrice } : {}),
    ...(trailing && fields.trailingAmount !== undefined ? { trailingAmount: fields.trailingAmount } : {}),
    ...(fields.trailingPercent === undefined ? {} : { trailingPercent: fields.trailingPercent }),
    ...(fields.tif ? { tif: fields.tif } : {}),
    ...(fields.goodTillDate ? { goodTillDate: fields.goodTillDate } : {}),
    ...(fields.ocaGroup ? { ocaGroup: fields.ocaGroup } : {}),
    outsideRth: fields.outsideRth === true,
    status: 'PendingSubmit',
    filled: 0,
    remaining: fields.quantity,
    updatedAt: at,
  };
}

/** A broker report applied to what was known of the order: what the message left out stays. */
export function trackedOf(report: OrderReport, previous: TrackedOrder | undefined, at: string): TrackedOrder {
  const quantity = report.quantity ?? previous?.quantity ?? 0;
  const filled = report.filled ?? previous?.filled ?? 0;
  return {
    orderId: report.orderId,
    ...(report.parentId === undefined ? {} : { parentId: report.parentId }),
    ...(report.permId ? { permId: report.permId } : {}),
    ...(report.clientId === undefined ? {} : { clientId: report.clientId }),
    ...(report.account ? { account: report.account } : {}),
    contract: report.contract,
    ...(report.legs && report.legs.length > 0
      ? { legs: legViews(report.legs, previous?.legs) }
      : previous?.legs
        ? { legs: previous.legs }
        : {}),
    ...(previous?.staged === undefined ? {} : { staged: previous.staged }),
    side: report.side ?? previous?.side ?? '',
    quantity,
    orderType: report.orderType,
    ...(report.limitPrice === undefined ? {} : { limitPrice: report.limitPrice }),
    ...(report.stopPrice === undefined ? {} : { stopPrice: report.stopPrice }),
    ...(report.trailingAmount === undefined ? {} : { trailingAmount: report.trailingAmount }),
    ...(report.trailingPercent === undefined ? {} : { trailingPercent: report.trailingPercent }),
    ...(report.tif ? { tif: report.tif } : {}),
    ...(report.goodTillDate ? { goodTillDate: report.goodTillDate } : {}),
    ...(report.ocaGroup ? { ocaGroup: report.ocaGroup } : {}),
    outsideRth: report.outsideRth,
    status: report.status,
    filled,
    remaining: report.remaining ?? Math.max(0, quantity - filled),
    ...(filled > 0 && report.avgFillPrice !== undefined ? { avgFillPrice: report.avgFillPrice } : {}),
    ...(filled > 0 && report.lastFillPrice !== undefined ? { lastFillPrice: report.lastFillPrice } : {}),
    ...(previous?.lastError ? { lastError: previous.lastError } : {}),
    updatedAt: at,
  };
}

/** An order the service has not heard of, as a view: nothing known but its id and a status. */
export function unknownOrder(orderId: number, status: string, now: Date): TrackedOrder {
  return {
    orderId,
    contract: {},
    side: '',
    quantity: 0,
    orderType: '',
    outsideRth: false,
    status,
    filled: 0,
    remaining: 0,
    updatedAt: now.toISOString(),
  };
}
