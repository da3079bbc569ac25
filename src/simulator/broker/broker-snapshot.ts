import type { Ledger } from './account';
import type { Order } from './order';
import type { OrderBook } from './order-book';
import type { OrderStatus } from './order-messages';

/** One order as the control surface shows it. */
export interface OrderSummary {
  orderId: number;
  permId: number;
  clientId: number;
  orderRef: string;
  account: string;
  conId: number;
  symbol: string;
  action: string;
  orderType: string;
  totalQuantity: number;
  lmtPrice?: number;
  auxPrice?: number;
  /** TRAIL LIMIT: how far beyond the stop the limit goes. */
  lmtPriceOffset?: number;
  trailingPercent?: number;
  /** REL: the offset as a percent. */
  percentOffset?: number;
  /** Time in force, when not DAY. */
  tif?: string;
  /** GTD: IB's expiry text as sent. */
  goodTillDate?: string;
  ocaGroup?: string;
  ocaType?: number;
  status: OrderStatus;
  filled: number;
  remaining: number;
  /** 0 for an order without a parent. */
  parentId: number;
  /** transmit=0: held, not working until transmitted. */
  held?: boolean;
  /** A combo (BAG) order's legs. */
  comboLegs?: { conId: number; ratio: number; action: string }[];
}

/** The broker's state as the control surface shows it: plain data, safe to serialise as JSON. */
export interface BrokerSnapshot {
  nextValidOrderId: number;
  accounts: {
    account: string;
    cash: Record<string, number>;
    netLiquidation: number;
    unrealizedPnl: number;
    realizedPnl: number;
    positions: {
      conId: number;
      symbol: string;
      secType: string;
      currency: string;
      position: number;
      averageCost: number;
      marketPrice: number;
      marketValue: number;
      unrealizedPnl: number;
    }[];
  }[];
  /** Orders still working. */
  openOrders: OrderSummary[];
  /** Every order the broker accepted, open and finished (what-ifs are never stored). */
  orders: OrderSummary[];
  executions: number;
}

function orderSummary(order: Order): OrderSummary {
  return {
    orderId: order.orderId,
    permId: order.permId,
    clientId: order.clientId,
    orderRef: order.ticket.orderRef,
    account: order.account,
    conId: order.instrument.conId,
    symbol: order.instrument.symbol,
    action: order.ticket.action,
    orderType: order.ticket.orderType,
    totalQuantity: order.totalQuantity,
    ...(order.ticket.lmtPrice === undefined ? {} : { lmtPrice: order.ticket.lmtPrice }),
    ...(order.ticket.auxPrice === undefined ? {} : { auxPrice: order.ticket.auxPrice }),
    ...optionalFields(order),
    status: order.status,
    filled: order.filled,
    remaining: order.remaining,
    parentId: order.ticket.parentId,
  };
}

/** The fields of the newer order types, only when set (older summaries stay as they were). */
function optionalFields(order: Order): Partial<OrderSummary> {
  const t = order.ticket;
  return {
    ...(t.lmtPriceOffset === undefined ? {} : { lmtPriceOffset: t.lmtPriceOffset }),
    ...(t.trailingPercent === undefined ? {} : { trailingPercent: t.trailingPercent }),
    ...(t.percentOffset === undefined ? {} : { percentOffset: t.percentOffset }),
    ...(t.tif === '' || t.tif === 'DAY' ? {} : { tif: t.tif }),
    ...(t.goodTillDate === '' ? {} : { goodTillDate: t.goodTillDate }),
    ...(t.ocaGroup === '' ? {} : { ocaGroup: t.ocaGroup, ocaType: t.ocaType }),
    ...(order.held ? { held: true } : {}),
    ...(t.contract.comboLegs.length === 0
      ? {}
      : {
          comboLegs: t.contract.comboLegs.map(({ conId, ratio, action }) => ({ conId, ratio, action })),
        }),
  };
}

/** Cash, positions and orders: accounts valued at the current marks, positions that are not flat. */
export function brokerSnapshot(book: OrderBook, ledger: Ledger): BrokerSnapshot {
  return {
    nextValidOrderId: book.nextValidId,
    accounts: ledger.accounts.map((account) => {
      const values = ledger.value(account);
      return {
        account,
        cash: Object.fromEntries(values.cash),
        netLiquidation: values.netLiquidation,
        unrealizedPnl: values.unrealizedPnl,
        realizedPnl: values.realizedPnl,
        positions: values.positions
          .filter((value) => value.position.quantity !== 0)
          .map((value) => ({
            conId: value.position.instrument.conId,
            symbol: value.position.instrument.symbol,
            secType: value.position.instrument.secType,
            currency: value.position.instrument.currency,
            position: value.position.quantity,
            averageCost: value.position.averageCost,
            marketPrice: value.markPrice,
            marketValue: value.marketValue,
            unrealizedPnl: value.unrealizedPnl,
          })),
      };
    }),
    openOrders: book.openOrders().map(orderSummary),
    orders: book.allOrders().map(orderSummary),
    executions: book.executions.length,
  };
}
