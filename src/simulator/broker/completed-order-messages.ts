import { formatTwsDateTime } from '../control/simulator-clock';
import { since, type WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import { ServerVersion } from '../protocol/versions';
import {
  contractBlock,
  FA_PROFILE,
  pegBestPegMidFields,
  pushLegsAndScaleFields,
  pushPegAndConditionFields,
  routedExchange,
  wireNumber,
  wireSize,
  type OrderIdentity,
  type OrderStatus,
} from './order-messages';

/** What COMPLETED_ORDER reports of a filled or cancelled order. */
export interface CompletedOrder extends OrderIdentity {
  status: OrderStatus;
  filled: number;
  /** Epoch ms it was filled or cancelled. */
  completedTime: number | undefined;
}

/** IB's "no value" for an int (Integer.MAX_VALUE), as completed orders print refFuturesConId. */
const UNSET_INT = 2147483647;
/** What IB prints as a completed order's shareholder when the account declared none. */
const NO_SHAREHOLDER = 'Not an insider or substantial shareholder';

const optional = (value: number | undefined): WireValue => (value === undefined ? '' : wireNumber(value));

function completedStatus(status: OrderStatus): string {
  return status === 'Cancelled' ? 'Cancelled by Trader' : status;
}

/**
 * COMPLETED_ORDER. Unlike OPEN_ORDER it carries neither an order id nor a client id (a completed order may
 * come from another session or TWS itself); the layout follows @stoqey/ib's decodeMsg_COMPLETED_ORDER read
 * for read, with IB's version gates: the PEG BEST/MID offsets from v170, customerAccount v183,
 * professionalCustomer v184, and the deprecated faProfile below v177. IB's own decoders (ibapi's
 * decodeFAParams, and ib-tws-api's) read faProfile there by server version; @stoqey/ib's reads it by the
 * message's version, which for COMPLETED_ORDER it sets to MAX_VALUE, so it never does and is one field off
 * below v177. parentPermId: that of a bracket child's parent.
 */
export function completedOrderMessage(order: CompletedOrder, parentPermId: number | undefined): WireValue[] {
  const t = order.ticket;
  const trailStop = order.trailStop ?? t.trailStopPrice;
  const fields: WireValue[] = [Reply.COMPLETED_ORDER];
  fields.push(...contractBlock(order.instrument, routedExchange(t, order.instrument)));
  fields.push(
    t.action,
    wireSize(t.totalQuantity ?? 0),
    t.orderType,
    optional(t.lmtPrice),
    optional(t.auxPrice),
    t.tif,
    t.ocaGroup,
    order.account,
    t.openClose,
    t.origin,
    t.orderRef,
    order.permId,
    t.outsideRth,
    t.hidden ? 1 : 0,
    optional(t.discretionaryAmt),
    t.goodAfterTime,
    t.faGroup,
    t.faMethod,
    t.faPercentage,
    FA_PROFILE,
    t.modelCode,
    t.goodTillDate,
    t.rule80A,
    optional(t.percentOffset),
    t.settlingFirm,
    t.shortSaleSlot,
    t.designatedLocation,
    t.exemptCode,
    optional(t.startingPrice),
    optional(t.stockRefPrice),
    optional(t.delta),
    optional(t.stockRangeLower),
    optional(t.stockRangeUpper),
    t.displaySize ?? '',
    t.sweepToFill,
    t.allOrNone,
    t.minQty ?? '',
    t.ocaType,
    t.triggerMethod,
    optional(t.volatility),
    t.volatilityType ?? 0,
    t.deltaNeutralOrderType,
    optional(t.deltaNeutralAuxPrice),
  );
  if (t.deltaNeutralOrderType !== '') {
    // Fewer delta-neutral fields than OPEN_ORDER: no settling firm, clearing or openClose.
    const dn = t.deltaNeutral;
    fields.push(dn?.conId ?? 0, dn?.shortSale ?? false, dn?.shortSaleSlot ?? 0, dn?.designatedLocation ?? '');
  }
  fields.push(
    t.continuousUpdate ? 1 : 0,
    t.referencePriceType ?? 0,
    optional(trailStop),
    optional(t.trailingPercent),
    '', // comboLegsDescrip
    t.contract.comboLegs.length,
  );
  pushLegsAndScaleFields(fields, t);
  fields.push(t.hedgeType);
  if (t.hedgeType !== '') fields.push(t.hedgeParam);
  fields.push(t.clearingAccount, t.clearingIntent, t.notHeld);
  if (t.deltaNeutralContract) {
    const dn = t.deltaNeutralContract;
    fields.push(true, dn.conId, optional(dn.delta), optional(dn.price));
  } else {
    fields.push(false);
  }
  fields.push(t.algoStrategy);
  if (t.algoStrategy !== '') {
    fields.push(t.algoParams.length);
    for (const param of t.algoParams) fields.push(param.tag, param.value);
  }
  fields.push(t.solicited, order.status, t.randomizeSize, t.randomizePrice);
  pushPegAndConditionFields(fields, t);
  fields.push(
    optional(trailStop),
    optional(t.lmtPriceOffset),
    optional(t.cashQty),
    t.dontUseAutoPriceForHedge,
    t.isOmsContainer,
    '', // autoCancelDate
    wireSize(order.filled),
    UNSET_INT, // refFuturesConId
    t.autoCancelParent,
    NO_SHAREHOLDER,
    false, // imbalanceOnly
    false, // routeMarketableToBbo
    parentPermId ?? '',
    order.completedTime === undefined ? '' : formatTwsDateTime(order.completedTime),
    completedStatus(order.status),
    pegBestPegMidFields(t),
    since(ServerVersion.CUSTOMER_ACCOUNT, t.customerAccount),
    since(ServerVersion.PROFESSIONAL_CUSTOMER, t.professionalCustomer),
  );
  return fields;
}

export function completedOrdersEndMessage(): WireValue[] {
  return [Reply.COMPLETED_ORDERS_END];
}
