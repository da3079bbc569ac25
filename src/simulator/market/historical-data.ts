import type { ClientSession } from '../protocol/client-session';
import type { FieldReader, WireContract } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import { ServerVersion } from '../protocol/versions';
import type { SimulatorContext } from '../simulator-context';
import { HistoricalBarBuilder, type BarRequest } from './historical-bars';
import { historicalSchedule, historicalScheduleMessage } from './historical-schedule';
import type { PriceBar } from './instrument';
import type { Market } from './market';
import {
  historicalDataMessage,
  historicalDataUpdateMessage,
  MarketCode,
  MarketText,
} from './market-data-messages';
import {
  durationSeconds,
  formatZoned,
  HistoricalPacing,
  parseBarSize,
  parseDuration,
  parseEndDateTime,
  parseWhatToShow,
  smallestBarSeconds,
  WHAT_TO_SHOW,
} from './historical-request';
import { resolveRequestContract } from './request-contract';

/** Beyond this many bars a request is refused as too long, whatever the bar size. */
const MAX_BARS = 100_000;

export interface HistoricalDataOptions {
  /** How often keepUpToDate requests get the current bar; default 1000 ms. */
  barUpdateIntervalMs?: number;
}

interface RawRequest {
  reqId: number;
  contract: WireContract;
  endDateTime: string;
  barSizeSetting: string;
  durationStr: string;
  useRth: boolean;
  whatToShow: string;
  formatDate: string;
  keepUpToDate: boolean;
}

class RequestRefused extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
    /** A pacing violation, counted by the control surface. */
    readonly pacing = false,
  ) {
    super(text);
  }
}

/**
 * reqHistoricalData: bars from the same price path as the live quotes, IB's validation and error texts,
 * IB's pacing rules, and keepUpToDate updates of the current bar until the request is cancelled.
 */
export class HistoricalDataService {
  private readonly pacing = new HistoricalPacing();
  private readonly barBuilder: HistoricalBarBuilder;
  private readonly live = new Map<ClientSession, Map<number, BarRequest>>();
  private readonly barUpdateIntervalMs: number;
  private violations = 0;
  private timer: NodeJS.Timeout | undefined;
  /** After IB's 1101 ("data lost") clients must resubscribe: keepUpToDate requests end too. */
  private readonly onSubscriptionsLost = (): void => this.live.clear();

  constructor(
    private readonly context: SimulatorContext,
    private readonly market: Market,
    options: HistoricalDataOptions = {},
  ) {
    this.barUpdateIntervalMs = options.barUpdateIntervalMs ?? 1000;
    this.barBuilder = new HistoricalBarBuilder(market);
  }

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_HISTORICAL_DATA, (session, request) => this.request(session, readRequest(request)));
    server.on(Request.CANCEL_HISTORICAL_DATA, (session, request) => {
      request.skip(1); // version
      this.live.get(session)?.delete(request.int());
    });
    this.context.faults.on('subscriptions-lost', this.onSubscriptionsLost);
    this.timer = setInterval(() => this.sendUpdates(), this.barUpdateIntervalMs);
    this.timer.unref();
  }

  pacingViolations(): number {
    return this.violations;
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.context.faults.off('subscriptions-lost', this.onSubscriptionsLost);
    this.live.clear();
  }

  private request(session: ClientSession, raw: RawRequest): void {
    // SCHEDULE (from v165; an older client cannot ask for it, and below it the simulator refuses it as
    // any unknown data type, with 321) answers the sessions of the window instead of bars.
    if (
      raw.whatToShow.trim().toUpperCase() === 'SCHEDULE' &&
      session.serverVersion >= ServerVersion.HISTORICAL_SCHEDULE
    ) {
      this.schedule(session, raw);
      return;
    }
    let request: BarRequest;
    let start: number;
    let bars: PriceBar[];
    try {
      if (this.live.get(session)?.has(raw.reqId)) {
        throw new RequestRefused(MarketCode.ERROR_PROCESSING_REQUEST, MarketText.duplicateHistoricalTickerId);
      }
      request = this.validate(raw);
      this.pace(raw, request);
      start = this.barBuilder.windowStart(request);
      bars = this.barBuilder.bars(request, start);
      if (bars.length === 0 && !request.keepUpToDate) {
        throw new RequestRefused(
          MarketCode.HISTORICAL_DATA_SERVICE,
          MarketText.queryReturnedNoData(describe(request)),
        );
      }
    } catch (error) {
      if (!(error instanceof RequestRefused)) throw error;
      if (error.pacing) this.violations++;
      session.sendError(raw.reqId, error.code, error.text);
      return;
    }
    const zone = request.instrument.timeZoneId;
    session.send(
      historicalDataMessage(
        request.reqId,
        formatZoned(start, zone),
        formatZoned(request.endMs, zone),
        this.barBuilder.toWire(request, bars),
      ),
    );
    if (request.keepUpToDate) this.keepUpToDate(session, request);
  }

  /** The trading sessions of the request's window (HISTORICAL_SCHEDULE), after the same validation and pacing. */
  private schedule(session: ClientSession, raw: RawRequest): void {
    let request: BarRequest;
    try {
      // Validated as a MIDPOINT request: contract, duration, bar size, end and permissions as for bars.
      request = this.validate({ ...raw, whatToShow: 'MIDPOINT', keepUpToDate: false });
      this.pace(raw, request);
    } catch (error) {
      if (!(error instanceof RequestRefused)) throw error;
      if (error.pacing) this.violations++;
      session.sendError(raw.reqId, error.code, error.text);
      return;
    }
    const start = this.barBuilder.windowStart(request);
    const sessions = historicalSchedule(this.market, request.instrument, start, request.endMs, raw.useRth);
    session.send(historicalScheduleMessage(raw.reqId, request.instrument, sessions));
  }

  private validate(raw: RawRequest): BarRequest {
    const resolved = resolveRequestContract(this.market, raw.contract);
    if ('error' in resolved) throw new RequestRefused(resolved.error.code, resolved.error.text);
    const instrument = resolved.instrument;
    const invalid = (text: string): RequestRefused =>
      new RequestRefused(MarketCode.ERROR_VALIDATING_REQUEST, text);
    const hmds = (text: string): RequestRefused =>
      new RequestRefused(MarketCode.HISTORICAL_DATA_SERVICE, text);
    const barSize = parseBarSize(raw.barSizeSetting);
    if (!barSize) throw invalid(MarketText.invalidBarSize);
    const duration = parseDuration(raw.durationStr);
    if (!duration) throw invalid(MarketText.invalidDuration(raw.durationStr));
    if (duration.unit === 'S' && duration.count > 86_400) {
      throw invalid(MarketText.durationMustBeInLargerUnit('86400 seconds', 'days'));
    }
    if (duration.unit === 'D' && duration.count > 365) {
      throw invalid(MarketText.durationMustBeInLargerUnit('365 days', 'years'));
    }
    const whatToShow = parseWhatToShow(raw.whatToShow);
    if (!whatToShow) throw invalid(MarketText.invalidWhatToShow(raw.whatToShow));
    if (raw.formatDate !== '1' && raw.formatDate !== '2') {
      throw invalid(MarketText.invalidFormatDate(raw.formatDate));
    }
    const endMs = raw.keepUpToDate
      ? this.context.clock.now()
      : parseEndDateTime(raw.endDateTime, this.context.clock.now());
    if (endMs === undefined) throw new RequestRefused(MarketCode.INVALID_END_DATE, MarketText.invalidEndDate);
    const seconds = durationSeconds(duration);
    const barSeconds = barSize.ms / 1000;
    if (barSeconds < smallestBarSeconds(seconds)) throw hmds(MarketText.invalidStep(barSeconds));
    if (seconds / barSeconds > MAX_BARS) throw hmds(MarketText.timeLengthExceedsMax);
    if (instrument.entitlement === 'none') {
      throw hmds(
        MarketText.noPermissions(instrument.primaryExchange || instrument.exchange, instrument.secType),
      );
    }
    const request: BarRequest = {
      reqId: raw.reqId,
      instrument,
      endMs,
      duration,
      barSize,
      whatToShow,
      regularHoursOnly: raw.useRth,
      formatDate: raw.formatDate === '1' ? 1 : 2,
      keepUpToDate: raw.keepUpToDate,
    };
    // IDEALPRO prints no trades, so FX has no TRADES bars.
    if (instrument.secType === 'CASH' && whatToShow === 'TRADES') {
      throw hmds(MarketText.noHistoricalData(describe(request)));
    }
    return request;
  }

  private pace(raw: RawRequest, request: BarRequest): void {
    const conId = request.instrument.conId;
    const admitted = this.pacing.admit(
      {
        identity: [
          conId,
          raw.contract.exchange,
          raw.endDateTime,
          raw.durationStr,
          raw.barSizeSetting,
          raw.whatToShow,
          raw.useRth,
          raw.formatDate,
          raw.keepUpToDate,
        ].join('|'),
        scope: [conId, raw.contract.exchange, request.whatToShow].join('|'),
        weight: WHAT_TO_SHOW[request.whatToShow],
      },
      Date.now(),
    );
    if (!admitted)
      throw new RequestRefused(MarketCode.HISTORICAL_DATA_SERVICE, MarketText.pacingViolation, true);
  }

  // ---- keepUpToDate ----

  private keepUpToDate(session: ClientSession, request: BarRequest): void {
    let requests = this.live.get(session);
    if (!requests) {
      const created = new Map<number, BarRequest>();
      requests = created;
      this.live.set(session, created);
      session.onClose(() => this.live.delete(session));
    }
    requests.set(request.reqId, request);
  }

  /** The bar in progress, for every live request whose market trades and whose data flows. */
  private sendUpdates(): void {
    if (!this.context.faults.marketDataFlowing) return;
    const now = this.context.clock.now();
    for (const [session, requests] of this.live) {
      for (const request of requests.values()) {
        const conId = request.instrument.conId;
        const open = request.regularHoursOnly
          ? this.market.isRegularHours(conId, now)
          : this.market.isTrading(conId, now);
        if (!open) continue;
        const current = { ...request, endMs: now };
        const bar = this.barBuilder.bars(current, this.barBuilder.currentBarStart(current)).at(-1);
        const wire = bar && this.barBuilder.toWire(current, [bar])[0];
        if (wire) session.send(historicalDataUpdateMessage(request.reqId, wire));
      }
    }
  }
}

/** REQ_HISTORICAL_DATA at v193 (no version field): 23 fields for a plain contract. */
function readRequest(request: FieldReader): RawRequest {
  const reqId = request.int();
  const contract = request.contract();
  request.skip(1); // includeExpired
  const endDateTime = request.string();
  const barSizeSetting = request.string();
  const durationStr = request.string();
  const useRth = request.bool();
  const whatToShow = request.string();
  const formatDate = request.string();
  if (contract.secType.toUpperCase() === 'BAG') request.skip(4 * request.int());
  const keepUpToDate = request.bool();
  return {
    reqId,
    contract,
    endDateTime,
    barSizeSetting,
    durationStr,
    useRth,
    whatToShow,
    formatDate,
    keepUpToDate,
  };
}

/** How IB's HMDS names a request in its errors: "EUR/CASH@FXSUBPIP Last 1d", "AAPL@SMART Trades 60". */
function describe(request: BarRequest): string {
  const { instrument, barSize, whatToShow } = request;
  const seconds = barSize.ms / 1000;
  const step = barSize.unit === 'intraday' ? String(seconds) : `1${barSize.unit[0] ?? 'd'}`;
  if (instrument.secType === 'CASH') {
    const kind = whatToShow === 'TRADES' ? 'Last' : whatToShow.charAt(0) + whatToShow.slice(1).toLowerCase();
    return `${instrument.symbol}/CASH@FXSUBPIP ${kind} ${step}`;
  }
  const kind = whatToShow === 'TRADES' ? 'Trades' : whatToShow.charAt(0) + whatToShow.slice(1).toLowerCase();
  return `${instrument.localSymbol}@${instrument.exchange} ${kind} ${step}`;
}
