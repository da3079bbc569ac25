import {
  BarSizeSetting,
  OrderAction,
  OrderType,
  SecType,
  WshEventData,
  type Contract,
  type ScannerSubscription,
} from '@stoqey/ib';
import { Encoder } from '@stoqey/ib/dist/core/io/encoder';
import { Request, requestIdPosition } from '../../../src/simulator/protocol/message-ids';
import { ServerVersion } from '../../../src/simulator/protocol/versions';

/** A request id no other field of these requests holds. */
const ID = 7777777;

const CONTRACT: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};
const OPTION: Contract = { ...CONTRACT, conId: 0, secType: SecType.OPT, strike: 200, right: 'C' as never };

/** How @stoqey/ib 1.6.10 sends each request kind the simulator handles, with `ID` as its id. */
const ENCODE: Record<keyof typeof Request, ((encoder: Encoder) => void) | undefined> = {
  START_API: undefined, // read by the session itself, never refused for an id
  REQ_MKT_DATA: (e) => e.reqMktData(ID, CONTRACT, '', false, false),
  CANCEL_MKT_DATA: (e) => e.cancelMktData(ID),
  PLACE_ORDER: (e) =>
    e.placeOrder(ID, CONTRACT, { action: OrderAction.BUY, orderType: OrderType.MKT, totalQuantity: 1 }),
  CANCEL_ORDER: (e) => e.cancelOrder(ID, {}),
  REQ_OPEN_ORDERS: (e) => e.reqOpenOrders(),
  REQ_ACCOUNT_DATA: (e) => e.reqAccountUpdates(true, 'DU1111111'),
  REQ_EXECUTIONS: (e) => e.reqExecutions(ID, {}),
  REQ_IDS: (e) => e.reqIds(1),
  REQ_CONTRACT_DATA: (e) => e.reqContractDetails(ID, CONTRACT),
  REQ_NEWS_BULLETINS: (e) => e.reqNewsBulletins(true),
  CANCEL_NEWS_BULLETINS: (e) => e.cancelNewsBulletins(),
  SET_SERVER_LOGLEVEL: (e) => e.setServerLogLevel(3),
  REQ_AUTO_OPEN_ORDERS: (e) => e.reqAutoOpenOrders(true),
  REQ_ALL_OPEN_ORDERS: (e) => e.reqAllOpenOrders(),
  REQ_MANAGED_ACCTS: (e) => e.reqManagedAccts(),
  REQ_HISTORICAL_DATA: (e) =>
    e.reqHistoricalData(ID, CONTRACT, '', '1 D', BarSizeSetting.HOURS_ONE, 'TRADES', 1, 1, false, []),
  REQ_SCANNER_SUBSCRIPTION: (e) =>
    e.reqScannerSubscription(ID, { numberOfRows: 10 } as ScannerSubscription, [], []),
  CANCEL_SCANNER_SUBSCRIPTION: (e) => e.cancelScannerSubscription(ID),
  REQ_SCANNER_PARAMETERS: (e) => e.reqScannerParameters(),
  CANCEL_HISTORICAL_DATA: (e) => e.cancelHistoricalData(ID),
  REQ_CURRENT_TIME: (e) => e.reqCurrentTime(),
  REQ_GLOBAL_CANCEL: (e) => e.reqGlobalCancel({}),
  REQ_MARKET_DATA_TYPE: (e) => e.reqMarketDataType(3),
  REQ_POSITIONS: (e) => e.reqPositions(),
  REQ_ACCOUNT_SUMMARY: (e) => e.reqAccountSummary(ID, 'All', 'NetLiquidation'),
  CANCEL_ACCOUNT_SUMMARY: (e) => e.cancelAccountSummary(ID),
  CANCEL_POSITIONS: (e) => e.cancelPositions(),
  REQ_POSITIONS_MULTI: (e) => e.reqPositionsMulti(ID, 'DU1111111', ''),
  CANCEL_POSITIONS_MULTI: (e) => e.cancelPositionsMulti(ID),
  REQ_ACCOUNT_UPDATES_MULTI: (e) => e.reqAccountUpdatesMulti(ID, 'DU1111111', '', false),
  CANCEL_ACCOUNT_UPDATES_MULTI: (e) => e.cancelAccountUpdatesMulti(ID),
  REQ_SEC_DEF_OPT_PARAMS: (e) => e.reqSecDefOptParams(ID, 'AAPL', '', SecType.STK, 265598),
  REQ_MATCHING_SYMBOLS: (e) => e.reqMatchingSymbols(ID, 'AAP'),
  REQ_MARKET_RULE: (e) => e.reqMarketRule(26),
  REQ_PNL: (e) => e.reqPnL(ID, 'DU1111111', ''),
  CANCEL_PNL: (e) => e.cancelPnL(ID),
  REQ_PNL_SINGLE: (e) => e.reqPnLSingle(ID, 'DU1111111', '', 265598),
  CANCEL_PNL_SINGLE: (e) => e.cancelPnLSingle(ID),
  REQ_COMPLETED_ORDERS: (e) => e.reqCompletedOrders(false),
  REQ_WSH_META_DATA: (e) => e.reqWshMetaData(ID),
  CANCEL_WSH_META_DATA: (e) => e.reqCancelWshMetaData(ID),
  REQ_WSH_EVENT_DATA: (e) => e.reqWshEventData(ID, new WshEventData(265598)),
  CANCEL_WSH_EVENT_DATA: (e) => e.reqCancelWshEventData(ID),
  REQ_USER_INFO: (e) => e.reqUserInfo(ID),
  REQ_NEWS_ARTICLE: (e) => e.reqNewsArticle(ID, 'BRFG', 'BRFG$1', []),
  REQ_NEWS_PROVIDERS: (e) => e.reqNewsProviders(),
  REQ_HISTORICAL_NEWS: (e) => e.reqHistoricalNews(ID, 265598, 'BRFG', '', '', 10, []),
  REQ_HEAD_TIMESTAMP: (e) => e.reqHeadTimestamp(ID, CONTRACT, 'TRADES', true, 1),
  REQ_HISTOGRAM_DATA: (e) => e.reqHistogramData(ID, CONTRACT, true, '3 days'),
  CANCEL_HISTOGRAM_DATA: (e) => e.cancelHistogramData(ID),
  CANCEL_HEAD_TIMESTAMP: (e) => e.cancelHeadTimestamp(ID),
  REQ_HISTORICAL_TICKS: (e) =>
    e.reqHistoricalTicks(ID, CONTRACT, '', '20260101 10:00:00', 10, 'TRADES', 1, false, []),
  REQ_CALC_IMPLIED_VOLAT: (e) => e.calculateImpliedVolatility(ID, OPTION, 5, 200, []),
  REQ_CALC_OPTION_PRICE: (e) => e.calculateOptionPrice(ID, OPTION, 0.3, 200, []),
  CANCEL_CALC_IMPLIED_VOLAT: (e) => e.cancelCalculateImpliedVolatility(ID),
  CANCEL_CALC_OPTION_PRICE: (e) => e.cancelCalculateOptionPrice(ID),
};

/** The fields @stoqey/ib puts on the wire at `serverVersion`, as the server splits them; undefined if refused. */
function encode(serverVersion: number, send: (encoder: Encoder) => void): string[] | undefined {
  let tokens: unknown[] | undefined;
  const encoder = new Encoder({
    serverVersion,
    sendMsg: (...sent: unknown[]) => (tokens = sent),
    emitError: () => (tokens = undefined),
  });
  send(encoder);
  if (!tokens) return undefined;
  const flat: unknown[] = tokens.flat(Infinity);
  return flat.map((value) =>
    value === undefined || value === null
      ? ''
      : typeof value === 'boolean'
        ? value
          ? '1'
          : '0'
        : String(value as string | number),
  );
}

/** The earliest version at which @stoqey/ib sends each request the simulator refuses below it. */
const SINCE: Partial<Record<keyof typeof Request, number>> = {
  REQ_WSH_META_DATA: ServerVersion.WSHE_CALENDAR,
  CANCEL_WSH_META_DATA: ServerVersion.WSHE_CALENDAR,
  REQ_WSH_EVENT_DATA: ServerVersion.WSHE_CALENDAR,
  CANCEL_WSH_EVENT_DATA: ServerVersion.WSHE_CALENDAR,
  REQ_USER_INFO: ServerVersion.USER_INFO,
};

/** Every request kind at 151, 157 and 193 (or, for one that arrived later, at its first version and 193). */
const cases = (Object.keys(Request) as (keyof typeof Request)[])
  .filter((name) => ENCODE[name] !== undefined)
  .flatMap((name) => {
    const versions = [ServerVersion.OLDEST, ServerVersion.REPLACE_FA_END, ServerVersion.NEWEST].map(
      (version) => Math.max(version, SINCE[name] ?? version),
    );
    return [...new Set(versions)].map((version) => [name, version] as const);
  });

describe('requestIdPosition', () => {
  it.each(cases)('finds the id of %s where @stoqey/ib puts it at v%i', (name, version) => {
    const send = ENCODE[name];
    if (!send) throw new Error(`no encoder for ${name}`);
    const fields = encode(version, send);
    if (!fields) throw new Error(`@stoqey/ib refuses ${name} at v${version}`);
    expect(Number(fields[0])).toBe(Request[name]);
    const at = fields.indexOf(String(ID));
    const expected = at < 0 ? undefined : at;
    expect(requestIdPosition(Request[name], version)).toBe(expected);
  });

  it('@stoqey/ib refuses the requests that arrived later below their version', () => {
    for (const [name, version] of Object.entries(SINCE) as [keyof typeof Request, number][]) {
      const send = ENCODE[name];
      expect(send && encode(version - 1, send)).toBeUndefined();
      expect(send && encode(version, send)).toBeDefined();
    }
  });
});
