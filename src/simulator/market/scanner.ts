import type { ClientSession } from '../protocol/client-session';
import type { FieldReader } from '../protocol/field-reader';
import type { WireValue } from '../protocol/framing';
import { Reply, Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import type { Instrument, Quote } from './instrument';
import type { Market } from './market';

/** IB reports scanner problems as 162 with this prefix, and acknowledges a cancel the same way. */
export const ScannerCode = { HMDS_ERROR: 162 } as const;
const HMDS_PREFIX = 'Historical Market Data Service error message:';
export const ScannerText = {
  unknownScanCode: (code: string) => `${HMDS_PREFIX}Scanner type with code ${code} is disabled.`,
  unknownLocation: `${HMDS_PREFIX}Error: Market Scanner is not configured for one of the chosen locations.`,
  unknownFilter: (tag: string) => `${HMDS_PREFIX}Scanner filter ${tag} is disabled.`,
  cancelled: (reqId: number) => `API scanner subscription cancelled: ${reqId}`,
} as const;

/** IB returns at most 50 rows per scan. */
const MAX_ROWS = 50;
const DEFAULT_REFRESH_MS = 3_000;

/** What a scan ranks by: a quote's figures, and the average volume by now for "hot by volume". */
interface ScanInput {
  instrument: Instrument;
  quote: Quote;
  averageVolume: number;
}

interface ScanType {
  displayName: string;
  /** Higher ranks first; undefined leaves the instrument out. */
  score(input: ScanInput): number | undefined;
}

const percent = (value: number, base: number): number | undefined =>
  base > 0 ? ((value - base) / base) * 100 : undefined;

/** The scan codes the simulator computes, from the same quotes market data streams. */
export const SCAN_TYPES: Record<string, ScanType> = {
  TOP_PERC_GAIN: { displayName: 'Top % Gainers', score: ({ quote }) => percent(quote.last, quote.close) },
  TOP_PERC_LOSE: {
    displayName: 'Top % Losers',
    score: ({ quote }) => negate(percent(quote.last, quote.close)),
  },
  MOST_ACTIVE: { displayName: 'Most Active', score: ({ quote }) => quote.volume },
  MOST_ACTIVE_USD: { displayName: 'Most Active ($)', score: ({ quote }) => quote.volume * quote.last },
  HOT_BY_VOLUME: {
    displayName: 'Hot Contracts by Volume',
    score: ({ quote, averageVolume }) => (averageVolume > 0 ? quote.volume / averageVolume : undefined),
  },
  TOP_OPEN_PERC_GAIN: {
    displayName: 'Top % Gainers Since Open',
    score: ({ quote }) => percent(quote.last, quote.open),
  },
  TOP_OPEN_PERC_LOSE: {
    displayName: 'Top % Losers Since Open',
    score: ({ quote }) => negate(percent(quote.last, quote.open)),
  },
  HIGH_OPEN_GAP: {
    displayName: 'Top Close-to-Open % Gainers',
    score: ({ quote }) => percent(quote.open, quote.close),
  },
  LOW_OPEN_GAP: {
    displayName: 'Top Close-to-Open % Losers',
    score: ({ quote }) => negate(percent(quote.open, quote.close)),
  },
  TOP_PRICE_RANGE: {
    displayName: 'Top Price Range',
    score: ({ quote }) => (quote.close > 0 ? ((quote.high - quote.low) / quote.close) * 100 : undefined),
  },
};

function negate(value: number | undefined): number | undefined {
  return value === undefined ? undefined : -value;
}

/** Location codes for US stocks: which primary exchanges each covers. */
const LOCATIONS: Record<string, { name: string; exchanges: string[] }> = {
  'STK.US': { name: 'US Stocks', exchanges: ['NASDAQ', 'NYSE', 'ARCA', 'AMEX'] },
  'STK.US.MAJOR': { name: 'Listed/NASDAQ', exchanges: ['NASDAQ', 'NYSE', 'ARCA', 'AMEX'] },
  'STK.NYSE': { name: 'NYSE', exchanges: ['NYSE'] },
  'STK.NASDAQ': { name: 'NASDAQ', exchanges: ['NASDAQ'] },
  'STK.NASDAQ.NMS': { name: 'NASDAQ NMS', exchanges: ['NASDAQ'] },
  'STK.ARCA': { name: 'NYSE Arca', exchanges: ['ARCA'] },
  'STK.AMEX': { name: 'NYSE American', exchanges: ['AMEX'] },
};

/** Filters accepted as struct fields or as filter options (tag=value). */
const FILTERS: Record<string, { displayName: string; test: (input: ScanInput, value: number) => boolean }> = {
  priceAbove: { displayName: 'Price Above', test: ({ quote }, value) => quote.last > value },
  priceBelow: { displayName: 'Price Below', test: ({ quote }, value) => quote.last < value },
  volumeAbove: { displayName: 'Volume Above', test: ({ quote }, value) => quote.volume > value },
  usdVolumeAbove: {
    displayName: 'USD Volume Above',
    test: ({ quote }, value) => quote.volume * quote.last > value,
  },
  changePercAbove: {
    displayName: 'Change % Above',
    test: ({ quote }, value) => (percent(quote.last, quote.close) ?? 0) > value,
  },
  changePercBelow: {
    displayName: 'Change % Below',
    test: ({ quote }, value) => (percent(quote.last, quote.close) ?? 0) < value,
  },
};

/** IB's stockTypeFilter values the universe can tell apart. */
const STOCK_TYPES: Record<string, (instrument: Instrument) => boolean> = {
  ALL: () => true,
  CORP: (instrument) => instrument.stockType === 'COMMON',
  ETF: (instrument) => instrument.stockType === 'ETF',
};

/** A parsed REQ_SCANNER_SUBSCRIPTION. */
export interface ScanRequest {
  reqId: number;
  numberOfRows: number;
  instrument: string;
  locationCode: string;
  scanCode: string;
  stockTypeFilter: string;
  filters: { tag: string; value: number }[];
}

/** Layout at v193 (no version field): see tws-protocol.md §2.5. */
export function readScanRequest(request: FieldReader): ScanRequest {
  const reqId = request.int();
  const numberOfRows = request.int(-1);
  const instrument = request.string();
  const locationCode = request.string();
  const scanCode = request.string();
  const filters: { tag: string; value: number }[] = [];
  const abovePrice = request.optionalNumber();
  const belowPrice = request.optionalNumber();
  const aboveVolume = request.optionalNumber();
  if (abovePrice !== undefined) filters.push({ tag: 'priceAbove', value: abovePrice });
  if (belowPrice !== undefined) filters.push({ tag: 'priceBelow', value: belowPrice });
  if (aboveVolume !== undefined) filters.push({ tag: 'volumeAbove', value: aboveVolume });
  // marketCap, ratings, maturity, coupon, excludeConvertible, averageOptionVolumeAbove, scannerSettingPairs:
  // the universe has none of these figures, so they cannot narrow the scan.
  request.skip(13);
  const stockTypeFilter = request.string().toUpperCase();
  for (const pair of request.string().split(';')) {
    const [tag, value] = pair.split('=');
    if (tag === undefined || tag.trim() === '' || value === undefined || value.trim() === '') continue;
    filters.push({ tag: tag.trim(), value: Number(value) });
  }
  request.skip(1); // scannerSubscriptionOptions
  return { reqId, numberOfRows, instrument, locationCode, scanCode, stockTypeFilter, filters };
}

/** Why a scan cannot run (IB's 162 text), or undefined when it can. */
export function scanRequestProblem(scan: ScanRequest): string | undefined {
  if (!SCAN_TYPES[scan.scanCode]) return ScannerText.unknownScanCode(scan.scanCode);
  if (scan.instrument !== 'STK' || !LOCATIONS[scan.locationCode]) return ScannerText.unknownLocation;
  const unknownFilter = scan.filters.find(({ tag, value }) => !FILTERS[tag] || Number.isNaN(value));
  if (unknownFilter) return ScannerText.unknownFilter(unknownFilter.tag);
  if (scan.stockTypeFilter !== '' && !STOCK_TYPES[scan.stockTypeFilter]) {
    return ScannerText.unknownFilter(`stockTypeFilter=${scan.stockTypeFilter}`);
  }
  return undefined;
}

/** The ranked instruments of a scan at `atMs`, best first. */
export function runScan(market: Market, scan: ScanRequest, atMs: number): Instrument[] {
  const scanType = SCAN_TYPES[scan.scanCode];
  const location = LOCATIONS[scan.locationCode];
  if (!scanType || !location) return [];
  const stockType = STOCK_TYPES[scan.stockTypeFilter] ?? STOCK_TYPES.ALL ?? (() => true);
  const rows = market
    .instruments()
    .filter(
      (instrument) =>
        instrument.secType === 'STK' &&
        instrument.currency === 'USD' &&
        location.exchanges.includes(instrument.primaryExchange) &&
        stockType(instrument),
    )
    .map((instrument) => ({
      instrument,
      quote: market.quote(instrument.conId, atMs),
      averageVolume: market.averageVolume(instrument.conId, atMs),
    }))
    .filter((input) => scan.filters.every(({ tag, value }) => FILTERS[tag]?.test(input, value) ?? true))
    .map((input) => ({ instrument: input.instrument, score: scanType.score(input) }))
    .filter(
      (row): row is { instrument: Instrument; score: number } =>
        row.score !== undefined && Number.isFinite(row.score),
    )
    .sort((a, b) => b.score - a.score || a.instrument.symbol.localeCompare(b.instrument.symbol));
  const limit = scan.numberOfRows > 0 ? Math.min(scan.numberOfRows, MAX_ROWS) : MAX_ROWS;
  return rows.slice(0, limit).map((row) => row.instrument);
}

/** SCANNER_DATA v3: ranks from 0, then each row's contract; distance, benchmark, projection and legs empty. */
export function scannerDataMessage(reqId: number, instruments: readonly Instrument[]): WireValue[] {
  return [
    Reply.SCANNER_DATA,
    3,
    reqId,
    instruments.length,
    ...instruments.flatMap((instrument, rank) => [
      rank,
      instrument.conId,
      instrument.symbol,
      instrument.secType,
      instrument.lastTradeDate ?? '',
      instrument.strike ?? 0,
      instrument.right ?? '',
      instrument.exchange,
      instrument.currency,
      instrument.localSymbol,
      instrument.marketName ?? instrument.tradingClass,
      instrument.tradingClass,
      '', // distance
      '', // benchmark
      '', // projection
      '', // legsStr
    ]),
  ];
}

const escapeXml = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** The ScanParameterResponse document: only what the simulator supports, shaped like IB's. */
export function scannerParametersXml(): string {
  const filterCodes = Object.keys(FILTERS);
  const locations = Object.entries(LOCATIONS)
    .filter(([code]) => code !== 'STK.US')
    .map(
      ([code, { name }]) =>
        `<Location><name>${escapeXml(name)}</name><instruments>STK</instruments><routeExchange>SMART</routeExchange>` +
        `<locationCode>${code}</locationCode><delayedOnly>false</delayedOnly><access>unrestricted</access></Location>`,
    )
    .join('');
  const scanTypes = Object.entries(SCAN_TYPES)
    .map(
      ([code, { displayName }]) =>
        `<ScanType><displayName>${escapeXml(displayName)}</displayName><scanCode>${code}</scanCode>` +
        `<instruments>STK</instruments><absoluteColumns>false</absoluteColumns><supportsSorting>true</supportsSorting>` +
        `<respSizeLimit>${MAX_ROWS}</respSizeLimit><snapshotSizeLimit>${MAX_ROWS}</snapshotSizeLimit>` +
        `<searchDefault>false</searchDefault><access>unrestricted</access></ScanType>`,
    )
    .join('');
  const filters = Object.entries(FILTERS)
    .map(
      ([code, { displayName }]) =>
        `<RangeFilter><id>${code.toUpperCase()}</id><category>Price and Volume</category><access>unrestricted</access>` +
        `<AbstractField type="scanner.filter.DoubleField"><code>${code}</code>` +
        `<displayName>${escapeXml(displayName)}</displayName><varName>${code}</varName>` +
        `<abbrev>${escapeXml(displayName)}</abbrev></AbstractField></RangeFilter>`,
    )
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<ScanParameterResponse>' +
    '<InstrumentList varName="fullInstrumentList"><Instrument><name>US Stocks</name><type>STK</type>' +
    `<filters>${filterCodes.join(',')}</filters><group>STK.GLOBAL</group><shortName>US Stocks</shortName>` +
    '</Instrument></InstrumentList>' +
    '<LocationTree varName="locationTree"><Location><name>US Stocks</name><instruments>STK</instruments>' +
    '<routeExchange>SMART</routeExchange><locationCode>STK.US</locationCode><delayedOnly>false</delayedOnly>' +
    `<access>unrestricted</access><LocationTree>${locations}</LocationTree></Location></LocationTree>` +
    `<ScanTypeList varName="scanTypeList">${scanTypes}</ScanTypeList>` +
    `<FilterList varName="filterList">${filters}</FilterList>` +
    '</ScanParameterResponse>'
  );
}

/**
 * REQ_SCANNER_PARAMETERS, REQ_SCANNER_SUBSCRIPTION and CANCEL_SCANNER_SUBSCRIPTION. A subscription
 * sends the ranked rows at once and again every few seconds, until cancelled or the client disconnects.
 */
export function registerScannerHandlers(
  context: SimulatorContext,
  market: Market,
  options: { refreshMs?: number } = {},
): { dispose(): void } {
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const subscriptions = new Map<ClientSession, Map<number, NodeJS.Timeout>>();

  const stop = (session: ClientSession, reqId: number): boolean => {
    const timers = subscriptions.get(session);
    const timer = timers?.get(reqId);
    if (!timers || !timer) return false;
    clearInterval(timer);
    timers.delete(reqId);
    return true;
  };
  const stopAll = (): void => {
    for (const timers of subscriptions.values()) for (const timer of timers.values()) clearInterval(timer);
    subscriptions.clear();
  };

  context.server.on(Request.REQ_SCANNER_PARAMETERS, (session) => {
    session.send([Reply.SCANNER_PARAMETERS, 1, scannerParametersXml()]);
  });

  context.server.on(Request.REQ_SCANNER_SUBSCRIPTION, (session, request) => {
    const scan = readScanRequest(request);
    const problem = scanRequestProblem(scan);
    if (problem) {
      session.sendError(scan.reqId, ScannerCode.HMDS_ERROR, problem);
      return;
    }
    stop(session, scan.reqId);
    let timers = subscriptions.get(session);
    if (!timers) {
      const created = new Map<number, NodeJS.Timeout>();
      timers = created;
      subscriptions.set(session, created);
      session.onClose(() => {
        for (const timer of created.values()) clearInterval(timer);
        subscriptions.delete(session);
      });
    }
    const publish = (): void => {
      if (!context.faults.marketDataFlowing) return;
      session.send(scannerDataMessage(scan.reqId, runScan(market, scan, context.clock.now())));
    };
    publish();
    const timer = setInterval(publish, refreshMs);
    timer.unref();
    timers.set(scan.reqId, timer);
  });

  context.server.on(Request.CANCEL_SCANNER_SUBSCRIPTION, (session, request) => {
    request.skip(1); // version
    const reqId = request.int();
    if (stop(session, reqId)) session.sendError(reqId, ScannerCode.HMDS_ERROR, ScannerText.cancelled(reqId));
  });

  // IB drops every subscription when connectivity comes back with data lost (1101).
  context.faults.on('subscriptions-lost', stopAll);

  return {
    dispose: () => {
      context.faults.off('subscriptions-lost', stopAll);
      stopAll();
    },
  };
}
