import { InvalidRequest, type FieldReader } from '../protocol/field-reader';
import { ServerVersion } from '../protocol/versions';
import type {
  ComboLeg,
  DeltaNeutralOrder,
  OrderCondition,
  OrderTicket,
  PegToBenchmark,
  ScaleAdjustments,
  TagValue,
} from './order-ticket';

/** Condition types as the client numbers them (OrderConditionType). */
const CONDITION_FIELD_COUNT: Record<number, number> = {
  1: 5, // Price: isMore value conId exchange triggerMethod
  3: 2, // Time: isMore value
  4: 2, // Margin: isMore value
  5: 3, // Execution: secType exchange symbol
  6: 4, // Volume: isMore value conId exchange
  7: 4, // PercentChange: isMore value conId exchange
};

const isPegBench = (orderType: string): boolean => orderType === 'PEG BENCH' || orderType === 'PEGBENCH';
const isPegBest = (orderType: string): boolean => orderType === 'PEG BEST' || orderType === 'PEGBEST';
const isPegMid = (orderType: string): boolean => orderType === 'PEG MID' || orderType === 'PEGMID';

function optionalInt(reader: FieldReader): number | undefined {
  const value = reader.optionalNumber();
  return value === undefined || value === 2147483647 ? undefined : Math.trunc(value);
}

function tagValues(reader: FieldReader, count: number): TagValue[] {
  const pairs: TagValue[] = [];
  for (let i = 0; i < count; i++) pairs.push({ tag: reader.string(), value: reader.string() });
  return pairs;
}

/** The PEG BEST / PEG MID fields (v170): minTradeQty for IBKRATS, the compete and mid offsets by order type. */
interface PegBestPegMid {
  minTradeQty: number | undefined;
  minCompeteSize: number | undefined;
  competeAgainstBestOffset: number | undefined;
  competeUpToMid: boolean;
  midOffsetAtWhole: number | undefined;
  midOffsetAtHalf: number | undefined;
}

function parsePegBestPegMid(reader: FieldReader, exchange: string, orderType: string): PegBestPegMid {
  const result: PegBestPegMid = {
    minTradeQty: exchange.toUpperCase() === 'IBKRATS' ? optionalInt(reader) : undefined,
    minCompeteSize: undefined,
    competeAgainstBestOffset: undefined,
    competeUpToMid: false,
    midOffsetAtWhole: undefined,
    midOffsetAtHalf: undefined,
  };
  let sendsMidOffsets = isPegMid(orderType);
  if (isPegBest(orderType)) {
    result.minCompeteSize = optionalInt(reader);
    const offset = reader.string();
    result.competeUpToMid = offset === 'Infinity';
    result.competeAgainstBestOffset = offset === '' || result.competeUpToMid ? undefined : Number(offset);
    sendsMidOffsets = result.competeUpToMid;
  }
  if (sendsMidOffsets) {
    result.midOffsetAtWhole = reader.optionalNumber();
    result.midOffsetAtHalf = reader.optionalNumber();
  }
  return result;
}

/**
 * Below v163 (fractional sizes) an API client can only mean whole shares: IB refuses a fractional size from
 * it with the order's id rather than rounding it.
 */
function refuseFractionalSize(serverVersion: number, totalQuantity: number | undefined): void {
  if (serverVersion >= ServerVersion.FRACTIONAL_SIZE_SUPPORT) return;
  if (totalQuantity === undefined || Number.isInteger(totalQuantity)) return;
  throw new InvalidRequest(
    `Fractional-sized order cannot be placed via API without fractional size support (${totalQuantity}).`,
  );
}

/**
 * Reads PLACE_ORDER after its message id, following the client encoder's conditional blocks (BAG legs,
 * delta-neutral, scale, hedge, algo, PEG BENCH/BEST/MID, conditions), so every optional part is consumed.
 */
export function parsePlaceOrder(reader: FieldReader): OrderTicket {
  const orderId = reader.int();
  const contract = {
    ...reader.contract(),
    secIdType: reader.string(),
    secId: reader.string(),
    comboLegs: [] as ComboLeg[],
  };
  const isBag = contract.secType.toUpperCase() === 'BAG';
  const action = reader.string();
  const totalQuantity = reader.optionalNumber();
  const orderType = reader.string().toUpperCase();
  const lmtPrice = reader.optionalNumber();
  const auxPrice = reader.optionalNumber();
  const tif = reader.string();
  const ocaGroup = reader.string();
  const account = reader.string();
  const openClose = reader.string();
  const origin = reader.int();
  const orderRef = reader.string();
  const transmitField = reader.string();
  const parentId = reader.int();
  const blockOrder = reader.bool();
  const sweepToFill = reader.bool();
  const displaySize = optionalInt(reader);
  const triggerMethod = reader.int();
  const outsideRth = reader.bool();
  const hidden = reader.bool();

  const orderComboLegPrices: (number | undefined)[] = [];
  let smartComboRoutingParams: TagValue[] = [];
  if (isBag) {
    const legCount = reader.int();
    for (let i = 0; i < legCount; i++) {
      contract.comboLegs.push({
        conId: reader.int(),
        ratio: reader.int(),
        action: reader.string(),
        exchange: reader.string(),
        openClose: reader.int(),
        shortSaleSlot: reader.int(),
        designatedLocation: reader.string(),
        exemptCode: reader.int(-1),
      });
    }
    const priceCount = reader.int();
    for (let i = 0; i < priceCount; i++) orderComboLegPrices.push(reader.optionalNumber());
    smartComboRoutingParams = tagValues(reader, reader.int());
  }

  reader.skip(1); // sharesAllocation, deprecated
  const discretionaryAmt = reader.optionalNumber();
  const goodAfterTime = reader.string();
  const goodTillDate = reader.string();
  const faGroup = reader.string();
  const faMethod = reader.string();
  const faPercentage = reader.string();
  if (reader.serverVersion < ServerVersion.FA_PROFILE_DESUPPORT) reader.skip(1); // faProfile, deprecated
  const modelCode = reader.string();
  const shortSaleSlot = reader.int();
  const designatedLocation = reader.string();
  const exemptCode = reader.int(-1);
  const ocaType = reader.int();
  const rule80A = reader.string();
  const settlingFirm = reader.string();
  const allOrNone = reader.bool();
  const minQty = optionalInt(reader);
  const percentOffset = reader.optionalNumber();
  const eTradeOnly = reader.bool();
  const firmQuoteOnly = reader.bool();
  const nbboPriceCap = reader.optionalNumber();
  const auctionStrategy = optionalInt(reader);
  const startingPrice = reader.optionalNumber();
  const stockRefPrice = reader.optionalNumber();
  const delta = reader.optionalNumber();
  const stockRangeLower = reader.optionalNumber();
  const stockRangeUpper = reader.optionalNumber();
  const overridePercentageConstraints = reader.bool();
  const volatility = reader.optionalNumber();
  const volatilityType = optionalInt(reader);
  const deltaNeutralOrderType = reader.string();
  const deltaNeutralAuxPrice = reader.optionalNumber();
  let deltaNeutral: DeltaNeutralOrder | undefined;
  if (deltaNeutralOrderType !== '') {
    deltaNeutral = {
      conId: reader.int(),
      settlingFirm: reader.string(),
      clearingAccount: reader.string(),
      clearingIntent: reader.string(),
      openClose: reader.string(),
      shortSale: reader.bool(),
      shortSaleSlot: reader.int(),
      designatedLocation: reader.string(),
    };
  }
  const continuousUpdate = reader.bool();
  const referencePriceType = optionalInt(reader);
  const trailStopPrice = reader.optionalNumber();
  const trailingPercent = reader.optionalNumber();
  const scaleInitLevelSize = optionalInt(reader);
  const scaleSubsLevelSize = optionalInt(reader);
  const scalePriceIncrementField = reader.string();
  const scalePriceIncrement = scalePriceIncrementField === '' ? undefined : Number(scalePriceIncrementField);
  let scaleAdjustments: ScaleAdjustments | undefined;
  // The encoder adds these seven whenever scalePriceIncrement was defined, i.e. the field is non-empty.
  if (scalePriceIncrementField !== '') {
    scaleAdjustments = {
      priceAdjustValue: reader.optionalNumber(),
      priceAdjustInterval: optionalInt(reader),
      profitOffset: reader.optionalNumber(),
      autoReset: reader.bool(),
      initPosition: optionalInt(reader),
      initFillQty: optionalInt(reader),
      randomPercent: reader.bool(),
    };
  }
  const scaleTable = reader.string();
  const activeStartTime = reader.string();
  const activeStopTime = reader.string();
  const hedgeType = reader.string();
  const hedgeParam = hedgeType !== '' ? reader.string() : '';
  const optOutSmartRouting = reader.bool();
  const clearingAccount = reader.string();
  const clearingIntent = reader.string();
  const notHeld = reader.bool();
  const deltaNeutralContract = reader.bool()
    ? { conId: reader.int(), delta: reader.optionalNumber(), price: reader.optionalNumber() }
    : undefined;
  const algoStrategy = reader.string();
  const algoParams = algoStrategy !== '' ? tagValues(reader, reader.int()) : [];
  const algoId = reader.string();
  const whatIf = reader.bool();
  const orderMiscOptions = reader.string();
  const solicited = reader.bool();
  const randomizeSize = reader.bool();
  const randomizePrice = reader.bool();
  const pegToBenchmark: PegToBenchmark | undefined = isPegBench(orderType)
    ? {
        referenceContractId: reader.int(),
        isPeggedChangeAmountDecrease: reader.bool(),
        peggedChangeAmount: reader.optionalNumber(),
        referenceChangeAmount: reader.optionalNumber(),
        referenceExchangeId: reader.string(),
      }
    : undefined;
  const conditionCount = reader.int();
  const conditions: OrderCondition[] = [];
  let conditionsIgnoreRth = false;
  let conditionsCancelOrder = false;
  if (conditionCount > 0) {
    for (let i = 0; i < conditionCount; i++) {
      const type = reader.int();
      const conjunction = reader.string();
      const fields: string[] = [];
      for (let f = 0; f < (CONDITION_FIELD_COUNT[type] ?? 0); f++) fields.push(reader.string());
      conditions.push({ type, conjunction, fields });
    }
    conditionsIgnoreRth = reader.bool();
    conditionsCancelOrder = reader.bool();
  }
  const adjustedOrderType = reader.string();
  const triggerPrice = reader.optionalNumber();
  const lmtPriceOffset = reader.optionalNumber();
  const adjustedStopPrice = reader.optionalNumber();
  const adjustedStopLimitPrice = reader.optionalNumber();
  const adjustedTrailingAmount = reader.optionalNumber();
  const adjustableTrailingUnit = reader.int();
  const extOperator = reader.string();
  const softDollarTierName = reader.string();
  const softDollarTierValue = reader.string();
  const cashQty = reader.optionalNumber();
  const mifid2DecisionMaker = reader.string();
  const mifid2DecisionAlgo = reader.string();
  const mifid2ExecutionTrader = reader.string();
  const mifid2ExecutionAlgo = reader.string();
  const dontUseAutoPriceForHedge = reader.bool();
  const isOmsContainer = reader.bool();
  const discretionaryUpToLimitPrice = reader.bool();
  const usePriceMgmtAlgo = reader.bool();
  const duration = reader.since(ServerVersion.DURATION, () => optionalInt(reader));
  const postToAts = reader.since(ServerVersion.POST_TO_ATS, () => optionalInt(reader));
  const autoCancelParent = reader.since(ServerVersion.AUTO_CANCEL_PARENT, () => reader.bool()) ?? false;
  const advancedErrorOverride =
    reader.since(ServerVersion.ADVANCED_ORDER_REJECT, () => reader.string()) ?? '';
  const manualOrderTime = reader.since(ServerVersion.MANUAL_ORDER_TIME, () => reader.string()) ?? '';
  const pegOffsets = reader.since(ServerVersion.PEGBEST_PEGMID_OFFSETS, () =>
    parsePegBestPegMid(reader, contract.exchange, orderType),
  );
  const customerAccount = reader.since(ServerVersion.CUSTOMER_ACCOUNT, () => reader.string()) ?? '';
  const professionalCustomer =
    reader.since(ServerVersion.PROFESSIONAL_CUSTOMER, () => reader.bool()) ?? false;
  if (
    reader.serverVersion >= ServerVersion.RFQ_FIELDS &&
    reader.serverVersion < ServerVersion.UNDO_RFQ_FIELDS
  ) {
    reader.skip(2); // externalUserId, manualOrderIndicator: sent from v187 to v189 only, always unset
  }
  const includeOvernight = reader.since(ServerVersion.INCLUDE_OVERNIGHT, () => reader.bool()) ?? false;
  const manualOrderIndicator = reader.since(ServerVersion.CME_TAGGING_FIELDS, () => optionalInt(reader));
  refuseFractionalSize(reader.serverVersion, totalQuantity);

  return {
    orderId,
    contract,
    action: action.toUpperCase(),
    totalQuantity,
    orderType,
    lmtPrice,
    auxPrice,
    tif,
    ocaGroup,
    account,
    openClose,
    origin,
    orderRef,
    transmit: transmitField !== '0',
    transmitExplicitlyFalse: transmitField === '0',
    parentId,
    blockOrder,
    sweepToFill,
    displaySize,
    triggerMethod,
    outsideRth,
    hidden,
    orderComboLegPrices,
    smartComboRoutingParams,
    discretionaryAmt,
    goodAfterTime,
    goodTillDate,
    faGroup,
    faMethod,
    faPercentage,
    modelCode,
    shortSaleSlot,
    designatedLocation,
    exemptCode,
    ocaType,
    rule80A,
    settlingFirm,
    allOrNone,
    minQty,
    percentOffset,
    eTradeOnly,
    firmQuoteOnly,
    nbboPriceCap,
    auctionStrategy,
    startingPrice,
    stockRefPrice,
    delta,
    stockRangeLower,
    stockRangeUpper,
    overridePercentageConstraints,
    volatility,
    volatilityType,
    deltaNeutralOrderType,
    deltaNeutralAuxPrice,
    deltaNeutral,
    continuousUpdate,
    referencePriceType,
    trailStopPrice,
    trailingPercent,
    scaleInitLevelSize,
    scaleSubsLevelSize,
    scalePriceIncrement,
    scaleAdjustments,
    scaleTable,
    activeStartTime,
    activeStopTime,
    hedgeType,
    hedgeParam,
    optOutSmartRouting,
    clearingAccount,
    clearingIntent,
    notHeld,
    deltaNeutralContract,
    algoStrategy,
    algoParams,
    algoId,
    whatIf,
    orderMiscOptions,
    solicited,
    randomizeSize,
    randomizePrice,
    pegToBenchmark,
    conditions,
    conditionsIgnoreRth,
    conditionsCancelOrder,
    adjustedOrderType,
    triggerPrice,
    lmtPriceOffset,
    adjustedStopPrice,
    adjustedStopLimitPrice,
    adjustedTrailingAmount,
    adjustableTrailingUnit,
    extOperator,
    softDollarTierName,
    softDollarTierValue,
    cashQty,
    mifid2DecisionMaker,
    mifid2DecisionAlgo,
    mifid2ExecutionTrader,
    mifid2ExecutionAlgo,
    dontUseAutoPriceForHedge,
    isOmsContainer,
    discretionaryUpToLimitPrice,
    usePriceMgmtAlgo,
    duration,
    postToAts,
    autoCancelParent,
    advancedErrorOverride,
    manualOrderTime,
    minTradeQty: pegOffsets?.minTradeQty,
    minCompeteSize: pegOffsets?.minCompeteSize,
    competeAgainstBestOffset: pegOffsets?.competeAgainstBestOffset,
    competeUpToMid: pegOffsets?.competeUpToMid ?? false,
    midOffsetAtWhole: pegOffsets?.midOffsetAtWhole,
    midOffsetAtHalf: pegOffsets?.midOffsetAtHalf,
    customerAccount,
    professionalCustomer,
    includeOvernight,
    manualOrderIndicator,
  };
}
