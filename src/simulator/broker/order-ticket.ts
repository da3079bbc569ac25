import type { WireContract } from '../protocol/field-reader';

// The order as the broker keeps it, apart from the wire reading (order-parser) so that order, broker and
// OPEN_ORDER's writer depend on the shape only.

/** One leg of a BAG contract as PLACE_ORDER carries it. */
export interface ComboLeg {
  conId: number;
  ratio: number;
  action: string;
  exchange: string;
  openClose: number;
  shortSaleSlot: number;
  designatedLocation: string;
  exemptCode: number;
}

export interface TagValue {
  tag: string;
  value: string;
}

/** An order condition, kept as the client sent it so OPEN_ORDER can echo it. */
export interface OrderCondition {
  type: number;
  conjunction: string;
  /** The condition's own fields after type and conjunction, in wire order. */
  fields: string[];
}

export interface DeltaNeutralOrder {
  conId: number;
  settlingFirm: string;
  clearingAccount: string;
  clearingIntent: string;
  openClose: string;
  shortSale: boolean;
  shortSaleSlot: number;
  designatedLocation: string;
}

export interface ScaleAdjustments {
  priceAdjustValue?: number;
  priceAdjustInterval?: number;
  profitOffset?: number;
  autoReset: boolean;
  initPosition?: number;
  initFillQty?: number;
  randomPercent: boolean;
}

export interface PegToBenchmark {
  referenceContractId: number;
  isPeggedChangeAmountDecrease: boolean;
  peggedChangeAmount?: number;
  referenceChangeAmount?: number;
  referenceExchangeId: string;
}

/**
 * Everything a PLACE_ORDER message (server version 193, no version field) carries, in the order the
 * client's encoder writes it. Unset numbers are undefined; unset strings are empty.
 */
export interface OrderTicket {
  orderId: number;
  contract: WireContract & { secIdType: string; secId: string; comboLegs: ComboLeg[] };
  action: string;
  totalQuantity?: number;
  orderType: string;
  lmtPrice?: number;
  auxPrice?: number;
  tif: string;
  ocaGroup: string;
  account: string;
  openClose: string;
  origin: number;
  orderRef: string;
  /** IB's default is true; the client sends an empty field for "unset", which counts as true. */
  transmit: boolean;
  /** Whether the client set transmit explicitly to false (what-if orders must not). */
  transmitExplicitlyFalse: boolean;
  parentId: number;
  blockOrder: boolean;
  sweepToFill: boolean;
  displaySize?: number;
  triggerMethod: number;
  outsideRth: boolean;
  hidden: boolean;
  orderComboLegPrices: (number | undefined)[];
  smartComboRoutingParams: TagValue[];
  discretionaryAmt?: number;
  goodAfterTime: string;
  goodTillDate: string;
  faGroup: string;
  faMethod: string;
  faPercentage: string;
  modelCode: string;
  shortSaleSlot: number;
  designatedLocation: string;
  exemptCode: number;
  ocaType: number;
  rule80A: string;
  settlingFirm: string;
  allOrNone: boolean;
  minQty?: number;
  percentOffset?: number;
  eTradeOnly: boolean;
  firmQuoteOnly: boolean;
  nbboPriceCap?: number;
  auctionStrategy?: number;
  startingPrice?: number;
  stockRefPrice?: number;
  delta?: number;
  stockRangeLower?: number;
  stockRangeUpper?: number;
  overridePercentageConstraints: boolean;
  volatility?: number;
  volatilityType?: number;
  deltaNeutralOrderType: string;
  deltaNeutralAuxPrice?: number;
  deltaNeutral?: DeltaNeutralOrder;
  continuousUpdate: boolean;
  referencePriceType?: number;
  trailStopPrice?: number;
  trailingPercent?: number;
  scaleInitLevelSize?: number;
  scaleSubsLevelSize?: number;
  scalePriceIncrement?: number;
  scaleAdjustments?: ScaleAdjustments;
  scaleTable: string;
  activeStartTime: string;
  activeStopTime: string;
  hedgeType: string;
  hedgeParam: string;
  optOutSmartRouting: boolean;
  clearingAccount: string;
  clearingIntent: string;
  notHeld: boolean;
  deltaNeutralContract?: { conId: number; delta?: number; price?: number };
  algoStrategy: string;
  algoParams: TagValue[];
  algoId: string;
  whatIf: boolean;
  orderMiscOptions: string;
  solicited: boolean;
  randomizeSize: boolean;
  randomizePrice: boolean;
  pegToBenchmark?: PegToBenchmark;
  conditions: OrderCondition[];
  conditionsIgnoreRth: boolean;
  conditionsCancelOrder: boolean;
  adjustedOrderType: string;
  triggerPrice?: number;
  lmtPriceOffset?: number;
  adjustedStopPrice?: number;
  adjustedStopLimitPrice?: number;
  adjustedTrailingAmount?: number;
  adjustableTrailingUnit: number;
  extOperator: string;
  softDollarTierName: string;
  softDollarTierValue: string;
  cashQty?: number;
  mifid2DecisionMaker: string;
  mifid2DecisionAlgo: string;
  mifid2ExecutionTrader: string;
  mifid2ExecutionAlgo: string;
  dontUseAutoPriceForHedge: boolean;
  isOmsContainer: boolean;
  discretionaryUpToLimitPrice: boolean;
  usePriceMgmtAlgo: boolean;
  duration?: number;
  postToAts?: number;
  autoCancelParent: boolean;
  advancedErrorOverride: string;
  manualOrderTime: string;
  minTradeQty?: number;
  minCompeteSize?: number;
  competeAgainstBestOffset?: number;
  /** PEG BEST's "up to mid" marker: the client sends Infinity and then the two mid offsets. */
  competeUpToMid: boolean;
  midOffsetAtWhole?: number;
  midOffsetAtHalf?: number;
  customerAccount: string;
  professionalCustomer: boolean;
  includeOvernight: boolean;
  manualOrderIndicator?: number;
}
