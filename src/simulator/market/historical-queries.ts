import type { ClientSession } from '../protocol/client-session';
import type { WireValue } from '../protocol/framing';
import type { FieldReader, WireContract } from '../protocol/field-reader';
import { Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import { formatHeadTimestamp, headTimestampMessage, headTimestampMs } from './head-timestamp';
import { histogram, histogramDataMessage, MAX_HISTOGRAM_WINDOW_MS, parseHistogramPeriod } from './histogram';
import { HistoricalBarBuilder } from './historical-bars';
import {
  HistoricalPacing,
  parseBarSize,
  parseEndDateTime,
  parseWhatToShow,
  WHAT_TO_SHOW,
  type PacingRequest,
  type WhatToShow,
} from './historical-request';
import {
  historicalTicksMessages,
  MAX_HISTORICAL_TICKS,
  parseTickKind,
  TICK_KINDS,
  TimeAndSales,
  type TickKind,
  type TickRequest,
} from './historical-ticks';
import type { Instrument } from './instrument';
import type { Market } from './market';
import { MarketCode, MarketText } from './market-data-messages';
import { resolveRequestContract } from './request-contract';

/** IB's code for a refused reqHistoricalTicks ("Failed to request historical ticks:<reason>"). */
export const HISTORICAL_TICKS_FAILED = 10187;

/** IB's texts for these requests, beyond the historical data ones in MarketText. */
export const QueryText = {
  /** EClient's own rule for reqHistoricalTicks: "Exactly one of start time and end time has to be defined". */
  startOrEnd: 'Error validating request: Exactly one of start time and end time has to be defined.',
  numberOfTicks: (count: number) =>
    `Error validating request: Number of ticks ${count} is invalid. It must be between 1 and ${MAX_HISTORICAL_TICKS}.`,
  invalidPeriod: (period: string) =>
    `Error validating request: Histogram period "${period}" is invalid. The format is "<integer> <seconds|days|weeks|months|years>".`,
  invalidStartDate: MarketText.invalidEndDate.replace(/^End Date\/Time:/, 'Start Date/Time:'),
  ticksNoPermissions: (exchange: string, secType: string) =>
    `Failed to request historical ticks:No market data permissions for ${exchange} ${secType}`,
  ticksNoData: (kind: TickKind, exchange: string, secType: string) =>
    `Failed to request historical ticks:No data of type ${TICK_KINDS[kind]} is available for the exchange '${exchange}' and the security type '${secType}'`,
} as const;

class RequestRefused extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
    readonly pacing = false,
  ) {
    super(text);
  }
}

interface HeadTimestampRequest {
  reqId: number;
  contract: WireContract;
  useRth: boolean;
  whatToShow: string;
  formatDate: string;
}

interface HistogramRequest {
  reqId: number;
  contract: WireContract;
  useRth: boolean;
  period: string;
}

interface RawTicksRequest {
  reqId: number;
  contract: WireContract;
  startDateTime: string;
  endDateTime: string;
  numberOfTicks: number;
  whatToShow: string;
  useRth: boolean;
  ignoreSize: boolean;
}

/**
 * reqHeadTimestamp, reqHistogramData and reqHistoricalTicks (Time & Sales), with their cancels: answers cut
 * from the same price path as the quotes and bars, IB's validation and error codes, and IB's historical
 * pacing rules (each of these is a historical data request to IB's HMDS).
 */
export class HistoricalQueries {
  private readonly pacing = new HistoricalPacing();
  private readonly tape: TimeAndSales;
  private readonly bars: HistoricalBarBuilder;
  private violations = 0;

  constructor(
    private readonly context: SimulatorContext,
    private readonly market: Market,
  ) {
    this.tape = new TimeAndSales(market);
    this.bars = new HistoricalBarBuilder(market);
  }

  register(): void {
    const server = this.context.server;
    server.on(Request.REQ_HEAD_TIMESTAMP, (session, request) => {
      const raw = readHeadTimestampRequest(request);
      this.answer(session, raw.reqId, () => [this.headTimestamp(raw)]);
    });
    server.on(Request.REQ_HISTOGRAM_DATA, (session, request) => {
      const raw = readHistogramRequest(request);
      this.answer(session, raw.reqId, () => [this.histogram(raw)]);
    });
    server.on(Request.REQ_HISTORICAL_TICKS, (session, request) => {
      const raw = readTicksRequest(request);
      this.answer(session, raw.reqId, () => this.historicalTicks(raw));
    });
    // Both are answered at once, so a cancel (IBApiNext sends one after every answer) finds nothing to stop.
    server.on(Request.CANCEL_HEAD_TIMESTAMP, () => undefined);
    server.on(Request.CANCEL_HISTOGRAM_DATA, () => undefined);
  }

  /** Requests refused for pacing (162). */
  pacingViolations(): number {
    return this.violations;
  }

  private answer(session: ClientSession, reqId: number, compute: () => WireValue[][]): void {
    let messages: WireValue[][];
    try {
      messages = compute();
    } catch (error) {
      if (!(error instanceof RequestRefused)) throw error;
      if (error.pacing) this.violations++;
      session.sendError(reqId, error.code, error.text);
      return;
    }
    for (const message of messages) session.send(message);
  }

  // ---- reqHeadTimestamp ----

  private headTimestamp(raw: HeadTimestampRequest): WireValue[] {
    const instrument = this.instrument(raw.contract);
    const whatToShow = parseWhatToShow(raw.whatToShow);
    if (!whatToShow) throw invalid(MarketText.invalidWhatToShow(raw.whatToShow));
    if (raw.formatDate !== '1' && raw.formatDate !== '2') {
      throw invalid(MarketText.invalidFormatDate(raw.formatDate));
    }
    requirePermissions(instrument);
    const now = this.context.clock.now();
    const head = headTimestampMs(this.market, instrument, whatToShow, raw.useRth, now);
    if (head === undefined) throw hmds(MarketText.noHistoricalData(describe(instrument, whatToShow)));
    this.pace(instrument, raw.contract, ['head', whatToShow, raw.useRth, raw.formatDate], whatToShow, 1);
    return headTimestampMessage(raw.reqId, formatHeadTimestamp(head, raw.formatDate === '1' ? 1 : 2));
  }

  // ---- reqHistogramData ----

  private histogram(raw: HistogramRequest): WireValue[] {
    const instrument = this.instrument(raw.contract);
    const duration = parseHistogramPeriod(raw.period);
    if (!duration) throw invalid(QueryText.invalidPeriod(raw.period));
    requirePermissions(instrument);
    const now = this.context.clock.now();
    const head = headTimestampMs(this.market, instrument, 'TRADES', raw.useRth, now);
    if (head === undefined) throw hmds(MarketText.noHistoricalData(describe(instrument, 'TRADES')));
    // The period counts back from now as a bar request's duration does: "3 days" are the last 3 sessions.
    const barSize = parseBarSize('1 min');
    if (!barSize) throw new Error('"1 min" is a bar size');
    const windowStart = this.bars.windowStart({
      reqId: raw.reqId,
      instrument,
      endMs: now,
      duration,
      barSize,
      whatToShow: 'TRADES',
      regularHoursOnly: raw.useRth,
      formatDate: 2,
      keepUpToDate: false,
    });
    if (now - windowStart > MAX_HISTOGRAM_WINDOW_MS) throw hmds(MarketText.timeLengthExceedsMax);
    this.pace(instrument, raw.contract, ['histogram', raw.useRth, raw.period], 'TRADES', 1);
    const start = Math.max(windowStart, head);
    return histogramDataMessage(raw.reqId, histogram(this.market, instrument, start, now, raw.useRth));
  }

  // ---- reqHistoricalTicks ----

  private historicalTicks(raw: RawTicksRequest): WireValue[][] {
    const instrument = this.instrument(raw.contract);
    const kind = parseTickKind(raw.whatToShow);
    if (!kind) throw invalid(MarketText.invalidWhatToShow(raw.whatToShow));
    const start = raw.startDateTime.trim();
    const end = raw.endDateTime.trim();
    if ((start === '') === (end === '')) throw invalid(QueryText.startOrEnd);
    const now = this.context.clock.now();
    const startMs = start === '' ? undefined : parseEndDateTime(start, now);
    const endMs = end === '' ? undefined : parseEndDateTime(end, now);
    if (start !== '' && startMs === undefined) {
      throw new RequestRefused(MarketCode.INVALID_END_DATE, QueryText.invalidStartDate);
    }
    if (end !== '' && endMs === undefined) {
      throw new RequestRefused(MarketCode.INVALID_END_DATE, MarketText.invalidEndDate);
    }
    if (raw.numberOfTicks < 1 || raw.numberOfTicks > MAX_HISTORICAL_TICKS) {
      throw invalid(QueryText.numberOfTicks(raw.numberOfTicks));
    }
    const venue = instrument.primaryExchange || instrument.exchange;
    if (instrument.entitlement === 'none') {
      throw new RequestRefused(
        HISTORICAL_TICKS_FAILED,
        QueryText.ticksNoPermissions(venue, instrument.secType),
      );
    }
    const request: TickRequest = {
      instrument,
      kind,
      startMs,
      endMs,
      count: raw.numberOfTicks,
      regularHoursOnly: raw.useRth,
      ignoreSize: raw.ignoreSize,
    };
    const head = headTimestampMs(this.market, instrument, kind, raw.useRth, now);
    if (head === undefined) {
      throw new RequestRefused(
        HISTORICAL_TICKS_FAILED,
        QueryText.ticksNoData(kind, instrument.exchange, instrument.secType),
      );
    }
    const identity = ['ticks', start, end, raw.numberOfTicks, kind, raw.useRth, raw.ignoreSize];
    this.pace(instrument, raw.contract, identity, kind, WHAT_TO_SHOW[kind]);
    const answer = this.tape.ticks(request, this.tape.seconds(request, now, head));
    return historicalTicksMessages(raw.reqId, answer);
  }

  // ---- Shared ----

  private instrument(contract: WireContract): Instrument {
    const resolved = resolveRequestContract(this.market, contract);
    if ('error' in resolved) throw new RequestRefused(resolved.error.code, resolved.error.text);
    return resolved.instrument;
  }

  /** IB's historical pacing; the same contract, exchange and data type share the two-second burst. */
  private pace(
    instrument: Instrument,
    contract: WireContract,
    identity: readonly (string | number | boolean)[],
    whatToShow: WhatToShow,
    weight: number,
  ): void {
    const request: PacingRequest = {
      identity: [instrument.conId, contract.exchange, ...identity].join('|'),
      scope: [instrument.conId, contract.exchange, whatToShow].join('|'),
      weight,
    };
    if (!this.pacing.admit(request, Date.now())) throw hmds(MarketText.pacingViolation, true);
  }
}

function invalid(text: string): RequestRefused {
  return new RequestRefused(MarketCode.ERROR_VALIDATING_REQUEST, text);
}

function hmds(text: string, pacing = false): RequestRefused {
  return new RequestRefused(MarketCode.HISTORICAL_DATA_SERVICE, text, pacing);
}

function requirePermissions(instrument: Instrument): void {
  if (instrument.entitlement === 'none') {
    throw hmds(
      MarketText.noPermissions(instrument.primaryExchange || instrument.exchange, instrument.secType),
    );
  }
}

/** How IB's HMDS names a contract and data type in its errors: "EUR/CASH@FXSUBPIP Last", "SPX@CBOE Bid". */
function describe(instrument: Instrument, whatToShow: WhatToShow): string {
  const kind = whatToShow === 'TRADES' ? 'Last' : whatToShow.charAt(0) + whatToShow.slice(1).toLowerCase();
  if (instrument.secType === 'CASH') return `${instrument.symbol}/CASH@FXSUBPIP ${kind}`;
  return `${instrument.localSymbol}@${instrument.exchange} ${kind}`;
}

// ---- Readers (v193: no version fields) ----

function readHeadTimestampRequest(request: FieldReader): HeadTimestampRequest {
  const reqId = request.int();
  const contract = request.contract();
  request.skip(1); // includeExpired
  const useRth = request.bool();
  const whatToShow = request.string();
  const formatDate = request.string();
  return { reqId, contract, useRth, whatToShow, formatDate };
}

function readHistogramRequest(request: FieldReader): HistogramRequest {
  const reqId = request.int();
  const contract = request.contract();
  request.skip(1); // includeExpired
  const useRth = request.bool();
  const period = request.string();
  return { reqId, contract, useRth, period };
}

function readTicksRequest(request: FieldReader): RawTicksRequest {
  const reqId = request.int();
  const contract = request.contract();
  request.skip(1); // includeExpired
  const startDateTime = request.string();
  const endDateTime = request.string();
  const numberOfTicks = request.int();
  const whatToShow = request.string();
  const useRth = request.bool();
  const ignoreSize = request.bool();
  request.skip(1); // miscOptions
  return { reqId, contract, startDateTime, endDateTime, numberOfTicks, whatToShow, useRth, ignoreSize };
}
