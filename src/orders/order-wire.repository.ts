import {
  OrderAction,
  type ComboLeg,
  type Contract,
  type OpenOrder,
  type OptionType,
  type Order,
  type OrderType,
  type SecType,
  type TimeInForce,
} from '@stoqey/ib';
import type { QualifiedContract } from '../contracts/contracts.service';
import {
  contractView,
  realNumber,
  type ComboLegRef,
  type OrderContractRef,
  type OrderFields,
  type OrderReport,
} from './order-model';

// The translation between the orders domain's words and @stoqey/ib's: contracts and orders going out (and
// their journal form), open orders coming back. OrdersRepository speaks to IB with them.

/** The contract an order for a qualified contract is sent with: routed SMART unless IB said otherwise. */
export function orderContractOf(qualified: QualifiedContract): OrderContractRef {
  const { contract } = qualified;
  const multiplier = Number(contract.multiplier);
  return {
    ...contractRefOf(contract),
    conId: contract.conId,
    exchange: contract.exchange || 'SMART',
    ...(Number.isFinite(multiplier) && multiplier > 0 ? { multiplier } : {}),
  };
}

export function contractRefOf(contract: Readonly<Contract>): OrderContractRef {
  return {
    conId: contract.conId ?? 0,
    ...(contract.symbol ? { symbol: contract.symbol } : {}),
    ...(contract.secType ? { secType: String(contract.secType) } : {}),
    ...(contract.exchange ? { exchange: contract.exchange } : {}),
    ...(contract.primaryExch ? { primaryExchange: contract.primaryExch } : {}),
    ...(contract.currency ? { currency: contract.currency } : {}),
    ...(contract.localSymbol ? { localSymbol: contract.localSymbol } : {}),
    ...(contract.tradingClass ? { tradingClass: contract.tradingClass } : {}),
    ...(contract.lastTradeDateOrContractMonth ? { expiry: contract.lastTradeDateOrContractMonth } : {}),
    ...(realNumber(contract.strike) ? { strike: contract.strike } : {}),
    ...(contract.right ? { right: String(contract.right) } : {}),
  };
}

/** A BAG contract's legs as IB reported them (conId, ratio, action, exchange). */
export function legsOf(contract: Readonly<Contract>): { legs?: ComboLegRef[] } {
  const legs = (contract.comboLegs ?? []).map((leg: ComboLeg) => ({
    conId: leg.conId ?? 0,
    ratio: leg.ratio ?? 0,
    action: leg.action === undefined ? '' : String(leg.action),
    ...(leg.exchange ? { exchange: leg.exchange } : {}),
  }));
  return legs.length > 0 ? { legs } : {};
}

export function ibContract(contract: OrderContractRef): Contract {
  const optional = <K extends keyof Contract>(key: K, value: Contract[K] | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Contract>;
  return {
    conId: contract.conId,
    ...optional('symbol', contract.symbol),
    ...optional('secType', contract.secType as SecType | undefined),
    ...optional('exchange', contract.exchange),
    ...optional('primaryExch', contract.primaryExchange),
    ...optional('currency', contract.currency),
    ...optional('localSymbol', contract.localSymbol),
    ...optional('tradingClass', contract.tradingClass),
    ...optional('lastTradeDateOrContractMonth', contract.expiry),
    ...optional('strike', contract.strike),
    ...optional('right', contract.right as OptionType | undefined),
    ...optional('multiplier', contract.multiplier),
    ...optional(
      'comboLegs',
      contract.comboLegs?.map(({ conId, ratio, action, exchange }) => ({
        conId,
        ratio,
        action: action === 'SELL' ? OrderAction.SELL : OrderAction.BUY,
        exchange: exchange ?? 'SMART',
      })),
    ),
  };
}

/** The IB order for the service's order fields. */
export function ibOrder(fields: OrderFields, whatIf = false): Order {
  const trailing = fields.orderType === 'TRAIL' || fields.orderType === 'TRAIL LIMIT';
  const auxPrice =
    fields.orderType === 'REL' ? fields.pegOffset : trailing ? fields.trailingAmount : fields.stopPrice;
  const optional = <K extends keyof Order>(key: K, value: Order[K] | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Order>;
  return {
    action: fields.side === 'BUY' ? OrderAction.BUY : OrderAction.SELL,
    totalQuantity: fields.quantity,
    orderType: fields.orderType as OrderType,
    ...(fields.limitPrice === undefined ? {} : { lmtPrice: fields.limitPrice }),
    ...(auxPrice === undefined ? {} : { auxPrice }),
    ...(fields.trailingPercent === undefined ? {} : { trailingPercent: fields.trailingPercent }),
    ...(fields.tif === undefined ? {} : { tif: fields.tif as TimeInForce }),
    ...optional('lmtPriceOffset', fields.limitPriceOffset),
    ...optional('percentOffset', fields.percentOffset),
    ...optional('goodTillDate', ibDateTime(fields.goodTillDate)),
    ...optional('ocaGroup', fields.ocaGroup),
    ...optional('ocaType', fields.ocaGroup === undefined ? undefined : (fields.ocaType ?? 1)),
    outsideRth: fields.outsideRth ?? false,
    ...(fields.account === undefined ? {} : { account: fields.account }),
    // IB's default is transmit=true, but an unset field goes out empty: always say it.
    transmit: fields.transmit ?? true,
    ...(fields.orderRef === undefined ? {} : { orderRef: fields.orderRef }),
    ...(fields.parentId === undefined ? {} : { parentId: fields.parentId }),
    ...(whatIf ? { whatIf: true } : {}),
  };
}

/** IB's UTC date-time form, "20250611-15:00:00", of an ISO 8601 date-time. */
function ibDateTime(iso: string | undefined): string | undefined {
  if (iso === undefined || /^\d{8}[- ]/.test(iso)) return iso;
  const text = new Date(iso).toISOString();
  return `${text.slice(0, 10).replaceAll('-', '')}-${text.slice(11, 19)}`;
}

/** An IB date-time ("20250611-15:00:00", UTC; or "20250611 15:00:00 UTC") as ISO 8601; other forms as IB sent them. */
function isoDateTime(ib: string | undefined): string | undefined {
  if (!ib) return undefined;
  const match = /^(\d{4})(\d{2})(\d{2})[- ](\d{2}:\d{2}:\d{2})(?: (?:UTC|GMT))?$/.exec(ib.trim());
  return match ? `${match[1]}-${match[2]}-${match[3]}T${match[4]}.000Z` : ib;
}

/** What goes on the wire, in IB's terms, for the audit journal's "sent" entries. */
export function wireForm(
  contract: OrderContractRef,
  fields?: OrderFields,
  whatIf = false,
): { contract: object; ibOrder?: object } {
  return {
    contract: ibContract(contract),
    ...(fields === undefined ? {} : { ibOrder: ibOrder(fields, whatIf) }),
  };
}

/** An IBApiNext open order in the service's terms; what it does not say is left undefined. */
export function reportOf(open: OpenOrder): OrderReport {
  const { order, orderState, orderStatus } = open;
  const orderType = String(order.orderType);
  const trailing = orderType === 'TRAIL' || orderType === 'TRAIL LIMIT';
  const limitPrice = realNumber(order.lmtPrice);
  const auxPrice = realNumber(order.auxPrice);
  const trailingPercent = realNumber(order.trailingPercent);
  const pricedByLimit = !(orderType === 'MKT' || orderType === 'STP' || trailing);
  return {
    orderId: open.orderId,
    parentId: order.parentId !== undefined && order.parentId > 0 ? order.parentId : undefined,
    permId: order.permId,
    clientId: order.clientId,
    ...(order.orderRef ? { orderRef: order.orderRef } : {}),
    account: order.account,
    contract: contractView(contractRefOf(open.contract)),
    ...legsOf(open.contract),
    side: order.action === undefined ? undefined : String(order.action),
    quantity: realNumber(order.totalQuantity),
    orderType,
    limitPrice: pricedByLimit ? limitPrice : undefined,
    stopPrice: trailing ? realNumber(order.trailStopPrice) : orderType === 'REL' ? undefined : auxPrice,
    trailingAmount: trailing && trailingPercent === undefined ? auxPrice : undefined,
    trailingPercent: trailing ? trailingPercent : undefined,
    tif: order.tif ? String(order.tif) : undefined,
    goodTillDate: isoDateTime(order.goodTillDate),
    ocaGroup: order.ocaGroup ? order.ocaGroup : undefined,
    outsideRth: order.outsideRth === true,
    status: String(orderStatus?.status ?? orderState.status),
    filled: realNumber(orderStatus?.filled),
    remaining: realNumber(orderStatus?.remaining),
    avgFillPrice: realNumber(orderStatus?.avgFillPrice),
    lastFillPrice: realNumber(orderStatus?.lastFillPrice),
  };
}
