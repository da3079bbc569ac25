import { before, since, type WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import { ServerVersion } from '../protocol/versions';
import type { Instrument } from '../market/instrument';
import type { OrderTicket } from './order-ticket';

/** How TWS prints Double.MAX_VALUE, "no value" for doubles the client reads with readDoubleOrUndefined. */
export const UNSET_DOUBLE = '1.7976931348623157E308';

/** Order statuses the simulator reports (IB's OrderStatus values). */
export type OrderStatus = 'PreSubmitted' | 'Submitted' | 'Filled' | 'Cancelled';

/** What OPEN_ORDER needs of an order besides its ticket. */
export interface OrderIdentity {
  ticket: OrderTicket;
  instrument: Instrument;
  account: string;
  clientId: number;
  permId: number;
  /** Current stop of a trailing order (OPEN_ORDER's trailStopPrice). */
  trailStop?: number;
}

/** The what-if block of OPEN_ORDER's orderState; empty for ordinary orders. */
export interface WhatIfResult {
  initMarginBefore: number;
  maintMarginBefore: number;
  equityWithLoanBefore: number;
  initMarginChange: number;
  maintMarginChange: number;
  equityWithLoanChange: number;
  initMarginAfter: number;
  maintMarginAfter: number;
  equityWithLoanAfter: number;
  commission: number;
  minCommission: number;
  maxCommission: number;
  commissionCurrency: string;
}

export interface ExecutionRecord {
  execId: string;
  orderId: number;
  clientId: number;
  permId: number;
  instrument: Instrument;
  /** Exchange the order was routed to, as the execution reports it. */
  exchange: string;
  account: string;
  side: 'BOT' | 'SLD';
  shares: number;
  price: number;
  /** Epoch ms of the fill. */
  time: number;
  /** TWS's execution time text. */
  timeText: string;
  cumQty: number;
  avgPrice: number;
  orderRef: string;
  commission: number;
  commissionCurrency: string;
  /** Realized PnL of a closing fill; undefined for an opening one. */
  realizedPnl: number | undefined;
}

/** Prices and money on the wire: rounded away from binary noise, never "1e-7". */
export function wireNumber(value: number): string {
  const rounded = Number(value.toFixed(8));
  if (Number.isInteger(rounded)) return String(rounded);
  return rounded.toFixed(8).replace(/0+$/, '');
}

const optional = (value: number | undefined): WireValue => (value === undefined ? '' : wireNumber(value));

/**
 * A size (order quantity, fill, position): a decimal from v163 (fractional sizes); below it clients read an
 * integer, so a fractional size goes out rounded there.
 */
export function wireSize(value: number): WireValue {
  const decimal = wireNumber(value);
  const whole = String(Math.round(value));
  if (decimal === whole) return decimal;
  return since(
    0,
    before(ServerVersion.FRACTIONAL_SIZE_SUPPORT, whole),
    since(ServerVersion.FRACTIONAL_SIZE_SUPPORT, decimal),
  );
}

/** The deprecated faProfile field that OPEN_ORDER, COMPLETED_ORDER and PLACE_ORDER carry below v177. */
export const FA_PROFILE: WireValue = before(ServerVersion.FA_PROFILE_DESUPPORT, '');

/** The PEG BEST / PEG MID fields of OPEN_ORDER and COMPLETED_ORDER (v170). */
export function pegBestPegMidFields(t: OrderTicket): WireValue {
  return since(
    ServerVersion.PEGBEST_PEGMID_OFFSETS,
    t.minTradeQty ?? '',
    t.minCompeteSize ?? '',
    t.competeUpToMid ? '' : optional(t.competeAgainstBestOffset),
    optional(t.midOffsetAtWhole),
    optional(t.midOffsetAtHalf),
  );
}

/** Contract multiplier as OPEN_ORDER and POSITION print it: blank for stocks, FX and indices. */
export function multiplierText(instrument: Instrument): string {
  return instrument.secType === 'STK' || instrument.secType === 'CASH' || instrument.secType === 'IND'
    ? ''
    : String(instrument.multiplier);
}

/** A ticket's pegged-to-benchmark fields and its conditions: open and completed orders share them. */
export function pushPegAndConditionFields(fields: WireValue[], t: OrderTicket): void {
  if (t.pegToBenchmark) {
    const peg = t.pegToBenchmark;
    fields.push(
      peg.referenceContractId,
      peg.isPeggedChangeAmountDecrease,
      optional(peg.peggedChangeAmount) || 0,
      optional(peg.referenceChangeAmount) || 0,
      peg.referenceExchangeId,
    );
  }
  fields.push(t.conditions.length);
  if (t.conditions.length > 0) {
    for (const condition of t.conditions)
      fields.push(condition.type, condition.conjunction, ...condition.fields);
    fields.push(t.conditionsIgnoreRth, t.conditionsCancelOrder);
  }
}

/** A ticket's combo legs, smart-routing parameters and scale fields: open and completed orders share them. */
export function pushLegsAndScaleFields(fields: WireValue[], t: OrderTicket): void {
  for (const leg of t.contract.comboLegs) {
    fields.push(
      leg.conId,
      leg.ratio,
      leg.action,
      leg.exchange,
      leg.openClose,
      leg.shortSaleSlot,
      leg.designatedLocation,
      leg.exemptCode,
    );
  }
  fields.push(t.orderComboLegPrices.length, ...t.orderComboLegPrices.map(optional));
  fields.push(t.smartComboRoutingParams.length);
  for (const param of t.smartComboRoutingParams) fields.push(param.tag, param.value);
  fields.push(t.scaleInitLevelSize ?? '', t.scaleSubsLevelSize ?? '', optional(t.scalePriceIncrement));
  if (t.scalePriceIncrement !== undefined && t.scalePriceIncrement > 0) {
    const scale = t.scaleAdjustments;
    fields.push(
      optional(scale?.priceAdjustValue),
      scale?.priceAdjustInterval ?? '',
      optional(scale?.profitOffset),
      scale?.autoReset ?? false,
      scale?.initPosition ?? '',
      scale?.initFillQty ?? '',
      scale?.randomPercent ?? false,
    );
  }
}

/** The contract as OPEN_ORDER and COMPLETED_ORDER carry it (conId first). */
export function contractBlock(instrument: Instrument, exchange: string): WireValue[] {
  return [
    instrument.conId,
    instrument.symbol,
    instrument.secType,
    instrument.lastTradeDate ?? '',
    instrument.strike ?? 0,
    instrument.right ?? '',
    multiplierText(instrument),
    exchange,
    instrument.currency,
    instrument.localSymbol,
    instrument.tradingClass,
  ];
}

export function routedExchange(ticket: OrderTicket, instrument: Instrument): string {
  return ticket.contract.exchange !== '' ? ticket.contract.exchange : instrument.exchange;
}

/**
 * OPEN_ORDER (no version field at the versions the simulator speaks): 133 fields for a plain order at v193,
 * fewer below (faProfile until v177; duration v158, postToAts v160, autoCancelParent v162, the PEG BEST/MID
 * offsets v170, customerAccount v183, professionalCustomer v184, bondAccruedInterest v185,
 * includeOvernight v189, the CME tagging fields v193), more when the
 * order carries delta-neutral, combo, scale, hedge, algo, PEG BENCH or condition blocks. The layout
 * follows @stoqey/ib's OrderDecoder read for read.
 */
export function openOrderMessage(order: OrderIdentity, status: string, whatIf?: WhatIfResult): WireValue[] {
  const t = order.ticket;
  const fields: WireValue[] = [Reply.OPEN_ORDER, t.orderId];
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
    order.clientId,
    order.permId,
    t.outsideRth,
    t.hidden ? 1 : 0,
    optional(t.discretionaryAmt),
    t.goodAfterTime,
    '', // sharesAllocation, deprecated
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
    t.auctionStrategy ?? 0,
    optional(t.startingPrice),
    optional(t.stockRefPrice),
    optional(t.delta),
    optional(t.stockRangeLower),
    optional(t.stockRangeUpper),
    t.displaySize ?? '',
    t.blockOrder,
    t.sweepToFill,
    t.allOrNone,
    t.minQty ?? '',
    t.ocaType,
    t.eTradeOnly,
    t.firmQuoteOnly,
    optional(t.nbboPriceCap),
    t.parentId,
    t.triggerMethod,
    optional(t.volatility),
    t.volatilityType ?? 0,
    t.deltaNeutralOrderType,
    optional(t.deltaNeutralAuxPrice),
  );
  if (t.deltaNeutralOrderType !== '') {
    const dn = t.deltaNeutral;
    fields.push(
      dn?.conId ?? 0,
      dn?.settlingFirm ?? '',
      dn?.clearingAccount ?? '',
      dn?.clearingIntent ?? '',
      dn?.openClose ?? '',
      dn?.shortSale ?? false,
      dn?.shortSaleSlot ?? 0,
      dn?.designatedLocation ?? '',
    );
  }
  const trailStop = order.trailStop ?? t.trailStopPrice;
  fields.push(
    t.continuousUpdate ? 1 : 0,
    t.referencePriceType ?? 0,
    optional(trailStop),
    optional(t.trailingPercent),
    '', // basisPoints
    '', // basisPointsType
    '', // comboLegsDescrip
    t.contract.comboLegs.length,
  );
  pushLegsAndScaleFields(fields, t);
  fields.push(t.hedgeType);
  if (t.hedgeType !== '') fields.push(t.hedgeParam);
  fields.push(t.optOutSmartRouting, t.clearingAccount, t.clearingIntent, t.notHeld);
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
  fields.push(t.solicited, whatIf !== undefined, status);
  if (whatIf) {
    fields.push(
      wireNumber(whatIf.initMarginBefore),
      wireNumber(whatIf.maintMarginBefore),
      wireNumber(whatIf.equityWithLoanBefore),
      wireNumber(whatIf.initMarginChange),
      wireNumber(whatIf.maintMarginChange),
      wireNumber(whatIf.equityWithLoanChange),
      wireNumber(whatIf.initMarginAfter),
      wireNumber(whatIf.maintMarginAfter),
      wireNumber(whatIf.equityWithLoanAfter),
      wireNumber(whatIf.commission),
      wireNumber(whatIf.minCommission),
      wireNumber(whatIf.maxCommission),
      whatIf.commissionCurrency,
      '', // warningText
    );
  } else {
    fields.push(...Array<WireValue>(12).fill(''), '', '');
  }
  fields.push(t.randomizeSize, t.randomizePrice);
  pushPegAndConditionFields(fields, t);
  fields.push(
    t.adjustedOrderType,
    optional(t.triggerPrice),
    optional(trailStop),
    optional(t.lmtPriceOffset),
    optional(t.adjustedStopPrice),
    optional(t.adjustedStopLimitPrice),
    optional(t.adjustedTrailingAmount),
    t.adjustableTrailingUnit,
    t.softDollarTierName,
    t.softDollarTierValue,
    '', // softDollarTier displayName
    optional(t.cashQty),
    t.dontUseAutoPriceForHedge,
    t.isOmsContainer,
    t.discretionaryUpToLimitPrice,
    t.usePriceMgmtAlgo,
    since(ServerVersion.DURATION, t.duration ?? ''),
    since(ServerVersion.POST_TO_ATS, t.postToAts ?? ''),
    since(ServerVersion.AUTO_CANCEL_PARENT, t.autoCancelParent),
    pegBestPegMidFields(t),
    since(ServerVersion.CUSTOMER_ACCOUNT, t.customerAccount),
    since(ServerVersion.PROFESSIONAL_CUSTOMER, t.professionalCustomer),
    since(ServerVersion.BOND_ACCRUED_INTEREST, ''), // bondAccruedInterest
    since(ServerVersion.INCLUDE_OVERNIGHT, t.includeOvernight),
    since(ServerVersion.CME_TAGGING_FIELDS_IN_OPEN_ORDER, t.extOperator, t.manualOrderIndicator ?? ''),
  );
  return fields;
}

/** ORDER_STATUS (no version field since v131, market cap price): sizes are integers below v163. */
export function orderStatusMessage(
  order: { ticket: OrderTicket; permId: number; clientId: number },
  status: OrderStatus,
  filled: number,
  avgFillPrice: number,
  lastFillPrice: number,
): WireValue[] {
  const total = order.ticket.totalQuantity ?? 0;
  return [
    Reply.ORDER_STATUS,
    order.ticket.orderId,
    status,
    wireSize(filled),
    wireSize(Math.max(0, total - filled)),
    wireNumber(avgFillPrice),
    order.permId,
    order.ticket.parentId,
    wireNumber(lastFillPrice),
    order.clientId,
    '', // whyHeld
    0, // mktCapPrice
  ];
}

export function openOrderEndMessage(): WireValue[] {
  return [Reply.OPEN_ORDER_END, 1];
}

/** EXECUTION_DATA (no version field since v136); pendingPriceRevision from v178; reqId -1 for live fills. */
export function executionMessage(reqId: number, execution: ExecutionRecord): WireValue[] {
  const instrument = execution.instrument;
  return [
    Reply.EXECUTION_DATA,
    reqId,
    execution.orderId,
    instrument.conId,
    instrument.symbol,
    instrument.secType,
    instrument.lastTradeDate ?? '',
    instrument.strike ?? 0,
    instrument.right ?? '',
    multiplierText(instrument),
    execution.exchange,
    instrument.currency,
    instrument.localSymbol,
    instrument.tradingClass,
    execution.execId,
    execution.timeText,
    execution.account,
    execution.exchange,
    execution.side,
    wireSize(execution.shares),
    wireNumber(execution.price),
    execution.permId,
    execution.clientId,
    0, // liquidation
    wireSize(execution.cumQty),
    wireNumber(execution.avgPrice),
    execution.orderRef,
    '', // evRule
    '', // evMultiplier
    '', // modelCode
    2, // lastLiquidity: removed liquidity (the simulator always takes the touch)
    since(ServerVersion.PENDING_PRICE_REVISION, 0), // pendingPriceRevision
  ];
}

export function executionEndMessage(reqId: number): WireValue[] {
  return [Reply.EXECUTION_DATA_END, 1, reqId];
}

export function commissionReportMessage(execution: ExecutionRecord): WireValue[] {
  return [
    Reply.COMMISSION_REPORT,
    1,
    execution.execId,
    wireNumber(execution.commission),
    execution.commissionCurrency,
    execution.realizedPnl === undefined ? UNSET_DOUBLE : wireNumber(execution.realizedPnl),
    UNSET_DOUBLE, // yield
    0, // yieldRedemptionDate
  ];
}
