import { before, since, type WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import { decimalSize } from '../protocol/messages';
import { ServerVersion } from '../protocol/versions';

/** Server message ids of market and historical data missing from the shared table. */
export const MarketReply = {
  TICK_OPTION_COMPUTATION: 21,
  HISTORICAL_DATA_UPDATE: 90,
} as const;

/** IB's tick type ids (the client's TickType enum). */
export const TickType = {
  BID_SIZE: 0,
  BID: 1,
  ASK: 2,
  ASK_SIZE: 3,
  LAST: 4,
  LAST_SIZE: 5,
  HIGH: 6,
  LOW: 7,
  VOLUME: 8,
  CLOSE: 9,
  BID_OPTION: 10,
  ASK_OPTION: 11,
  LAST_OPTION: 12,
  MODEL_OPTION: 13,
  OPEN: 14,
  LAST_TIMESTAMP: 45,
  DELAYED_BID: 66,
  DELAYED_ASK: 67,
  DELAYED_LAST: 68,
  DELAYED_BID_SIZE: 69,
  DELAYED_ASK_SIZE: 70,
  DELAYED_LAST_SIZE: 71,
  DELAYED_HIGH: 72,
  DELAYED_LOW: 73,
  DELAYED_VOLUME: 74,
  DELAYED_CLOSE: 75,
  DELAYED_OPEN: 76,
  DELAYED_BID_OPTION: 80,
  DELAYED_ASK_OPTION: 81,
  DELAYED_LAST_OPTION: 82,
  DELAYED_MODEL_OPTION: 83,
  DELAYED_LAST_TIMESTAMP: 88,
} as const;

/** What REQ_MARKET_DATA_TYPE asks for and MARKET_DATA_TYPE reports. */
export const MarketDataType = { REALTIME: 1, FROZEN: 2, DELAYED: 3, DELAYED_FROZEN: 4 } as const;
export type MarketDataType = (typeof MarketDataType)[keyof typeof MarketDataType];

/** IB message codes of market and historical data requests. */
export const MarketCode = {
  MAX_TICKERS: 101,
  HISTORICAL_DATA_SERVICE: 162,
  NO_SECURITY_DEFINITION: 200,
  CANT_FIND_TICKER: 300,
  ERROR_VALIDATING_REQUEST: 321,
  ERROR_PROCESSING_REQUEST: 322,
  NOT_SUBSCRIBED: 354,
  DELAYED_DATA_DISPLAYED: 10167,
  INVALID_END_DATE: 10314,
} as const;

const HMDS = 'Historical Market Data Service error message:';

/** IB's texts for those codes, as real gateways send them. */
export const MarketText = {
  maxTickers: 'Max number of tickers has been reached.',
  noSecurityDefinition: 'No security definition has been found for the request',
  ambiguousContract: (symbol: string) => `The contract description specified for ${symbol} is ambiguous.`,
  cantFindTicker: (tickerId: number) => `Can't find EId with tickerId:${tickerId}`,
  duplicateTickerId: "Error processing request.-'bO' : cause - Duplicate ticker id",
  duplicateHistoricalTickerId:
    "Error processing request.-'bX' : cause - Duplicate ticker ID for API historical data query",
  notSubscribed: 'Requested market data is not subscribed.',
  /** 354 for an instrument the user may see delayed: IB names the feed the data would come from. */
  notSubscribedDelayedAvailable: (symbol: string, exchange: string) =>
    `Requested market data is not subscribed.Delayed market data is available.${symbol} ${exchange}/TOP/ALL`,
  delayedDataDisplayed: 'Requested market data is not subscribed. Displaying delayed market data.',
  noPermissions: (exchange: string, secType: string) =>
    `${HMDS}No market data permissions for ${exchange} ${secType}`,
  pacingViolation: `${HMDS}Historical data request pacing violation`,
  noHistoricalData: (description: string) => `${HMDS}No historical market data for ${description}`,
  queryReturnedNoData: (description: string) => `${HMDS}HMDS query returned no data: ${description}`,
  invalidStep: (barSeconds: number) => `${HMDS}invalid step: ${barSeconds}`,
  timeLengthExceedsMax: `${HMDS}Time length exceed max.`,
  invalidBarSize:
    "Error validating request.-'bK' : cause - Historical data bar size setting is invalid. Legal ones are: " +
    '1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins, 10 mins, 15 mins, 20 mins, ' +
    '30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day, 1W, 1M',
  /** IB's own complaint about "400 D"; the same shape for seconds beyond a day. */
  durationMustBeInLargerUnit: (limit: string, unit: string) =>
    `Error validating request.-'bH' : cause - Historical data requests for durations longer than ${limit} must be made in ${unit}.`,
  invalidDuration: (duration: string) =>
    `Error validating request.-'bH' : cause - Historical data duration "${duration}" is invalid. ` +
    'The format is "<integer> <S|D|W|M|Y>".',
  invalidWhatToShow: (whatToShow: string) =>
    `Error validating request.-'bH' : cause - Historical data type ${whatToShow} is not supported.`,
  invalidFormatDate: (formatDate: string) =>
    `Error validating request.-'bT' : cause - Date formatting selection of ${formatDate} rejected`,
  invalidEndDate:
    'End Date/Time: The date, time, or time-zone entered is invalid. The correct format is yyyymmdd hh:mm:ss ' +
    'xx/xxxx where yyyymmdd and xx/xxxx are optional. E.g.: 20031126 15:59:00 US/Eastern  Note that there is ' +
    'a space between the date and time, and between the time and time-zone.  If no date is specified, current ' +
    'date is assumed. If no time-zone is specified, local time-zone is assumed(deprecated).  You can also ' +
    'provide yyyymmddd-hh:mm:ss time is in UTC. Note that there is a dash between the date and time in UTC notation.',
} as const;

// ---- Market data ----

/**
 * TICK_PRICE v6; the size rides along for BID, ASK and LAST (and their delayed twins), a decimal from v163
 * (whole below it, as every size).
 */
export function tickPriceMessage(
  tickerId: number,
  tickType: number,
  price: number,
  size: number | '',
): WireValue[] {
  return [Reply.TICK_PRICE, 6, tickerId, tickType, price, size === '' ? '' : decimalSize(size), 0];
}

export function tickSizeMessage(tickerId: number, tickType: number, size: number): WireValue[] {
  return [Reply.TICK_SIZE, 6, tickerId, tickType, decimalSize(size)];
}

export function tickStringMessage(tickerId: number, tickType: number, value: string): WireValue[] {
  return [Reply.TICK_STRING, 6, tickerId, tickType, value];
}

/** TICK_REQ_PARAMS has no version field. */
export function tickRequestParametersMessage(
  tickerId: number,
  minTick: number,
  bboExchange: string,
  snapshotPermissions: number,
): WireValue[] {
  return [Reply.TICK_REQ_PARAMS, tickerId, minTick, bboExchange, snapshotPermissions];
}

export function marketDataTypeMessage(tickerId: number, type: MarketDataType): WireValue[] {
  return [Reply.MARKET_DATA_TYPE, 1, tickerId, type];
}

export function tickSnapshotEndMessage(tickerId: number): WireValue[] {
  return [Reply.TICK_SNAPSHOT_END, 1, tickerId];
}

export interface OptionComputation {
  impliedVolatility: number;
  delta: number;
  optionPrice: number;
  pvDividend: number;
  gamma: number;
  vega: number;
  theta: number;
  underlyingPrice: number;
}

/**
 * TICK_OPTION_COMPUTATION: a version field (6) below v156 (PRICE_BASED_VOLATILITY); from 156 none, and a
 * tickAttrib (0: return-based) after the tick type.
 */
export function tickOptionComputationMessage(
  tickerId: number,
  tickType: number,
  computation: OptionComputation,
): WireValue[] {
  const c = computation;
  return [
    MarketReply.TICK_OPTION_COMPUTATION,
    before(ServerVersion.PRICE_BASED_VOLATILITY, 6), // version
    tickerId,
    tickType,
    since(ServerVersion.PRICE_BASED_VOLATILITY, 0), // tickAttrib
    c.impliedVolatility,
    c.delta,
    c.optionPrice,
    c.pvDividend,
    c.gamma,
    c.vega,
    c.theta,
    c.underlyingPrice,
  ];
}

// ---- Historical data ----

/** A bar as it goes on the wire: -1 volume, WAP and count mean "not available" (MIDPOINT, BID, ASK...). */
export interface WireBar {
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  wap: number;
  count: number;
}

/**
 * HISTORICAL_DATA: no version and no hasGaps (from v124, so at every version spoken), the whole answer in
 * this one message; volumes are decimals from v163, whole below it.
 */
export function historicalDataMessage(
  reqId: number,
  start: string,
  end: string,
  bars: readonly WireBar[],
): WireValue[] {
  const fields: WireValue[] = [Reply.HISTORICAL_DATA, reqId, start, end, bars.length];
  for (const bar of bars) {
    fields.push(
      bar.date,
      bar.open,
      bar.high,
      bar.low,
      bar.close,
      decimalSize(bar.volume),
      bar.wap,
      bar.count,
    );
  }
  return fields;
}

/** HISTORICAL_DATA_UPDATE: note IB's order, close before high and low, WAP before volume. */
export function historicalDataUpdateMessage(reqId: number, bar: WireBar): WireValue[] {
  return [
    MarketReply.HISTORICAL_DATA_UPDATE,
    reqId,
    bar.count,
    bar.date,
    bar.open,
    bar.close,
    bar.high,
    bar.low,
    bar.wap,
    decimalSize(bar.volume),
  ];
}
