import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import {
  DurationUnit,
  EventName,
  IBApiTickType,
  MarketDataType,
  type Bar as IbBar,
  type BarSizeSetting,
  type IBApiNext,
  type MarketDataTicks,
  type WhatToShow,
} from '@stoqey/ib';
import { filter, lastValueFrom, map, Observable, pairwise } from 'rxjs';
import { DomainError } from '../common/domain-error';
import { toDomainError } from '../connection/ib-errors';
import { IbSession } from '../connection/ib-session.repository';
import {
  headTimestampMs,
  toBidAskTick,
  toBucket,
  toMidpointTick,
  toTradeTick,
  type HistoricalTicksRequest,
} from './historical-ticks';
import type { IbContract } from '../contracts/contracts.repository';
import { genericTicksFor, optionValuesOf, type OptionTickValues } from './option-analytics.repository';
import type {
  HeadTimestamp,
  Histogram,
  HistoricalBars,
  HistoricalTick,
  MarketDataTypeName,
  Quote,
} from './market-data.schemas';

const IB_MARKET_DATA_TYPE: Record<MarketDataTypeName, MarketDataType> = {
  'real-time': MarketDataType.REALTIME,
  frozen: MarketDataType.FROZEN,
  delayed: MarketDataType.DELAYED,
  'delayed-frozen': MarketDataType.DELAYED_FROZEN,
};

const TYPE_NAMES = new Map<number, MarketDataTypeName>(
  Object.entries(IB_MARKET_DATA_TYPE).map(([name, type]) => [type, name as MarketDataTypeName]),
);

/** The quote fields IB's ticks fill. */
export type QuoteValues = Pick<
  Quote,
  'bid' | 'ask' | 'last' | 'bidSize' | 'askSize' | 'lastSize' | 'volume' | 'open' | 'high' | 'low' | 'close'
>;

/** Which tick carries each quote field: for real-time (and frozen) data, and for delayed data. */
const QUOTE_TICKS: readonly (readonly [keyof QuoteValues, IBApiTickType, IBApiTickType])[] = [
  ['bid', IBApiTickType.BID, IBApiTickType.DELAYED_BID],
  ['ask', IBApiTickType.ASK, IBApiTickType.DELAYED_ASK],
  ['last', IBApiTickType.LAST, IBApiTickType.DELAYED_LAST],
  ['bidSize', IBApiTickType.BID_SIZE, IBApiTickType.DELAYED_BID_SIZE],
  ['askSize', IBApiTickType.ASK_SIZE, IBApiTickType.DELAYED_ASK_SIZE],
  ['lastSize', IBApiTickType.LAST_SIZE, IBApiTickType.DELAYED_LAST_SIZE],
  ['volume', IBApiTickType.VOLUME, IBApiTickType.DELAYED_VOLUME],
  ['open', IBApiTickType.OPEN, IBApiTickType.DELAYED_OPEN],
  ['high', IBApiTickType.HIGH, IBApiTickType.DELAYED_HIGH],
  ['low', IBApiTickType.LOW, IBApiTickType.DELAYED_LOW],
  ['close', IBApiTickType.CLOSE, IBApiTickType.DELAYED_CLOSE],
];
const LAST_TIMESTAMP = [IBApiTickType.LAST_TIMESTAMP, IBApiTickType.DELAYED_LAST_TIMESTAMP] as const;
const DELAYED_TICKS = new Set<number>([...QUOTE_TICKS.map(([, , delayed]) => delayed), LAST_TIMESTAMP[1]]);

/** The market data IB sent so far for one request, by the API's names. */
export interface TickUpdate {
  /** The quote values, from the delayed ticks when IB sent delayed data; null when IB sent none. */
  values: QuoteValues;
  /** When the last trade happened, in epoch seconds; null when IB did not say. */
  lastTradeSeconds: number | null;
  /** True when IB sent delayed ticks: delayed data, whatever IB's label says (or if it sent none). */
  delayed: boolean;
  /** True when IB sent at least one quote field: an answer worth giving. */
  hasQuoteValues: boolean;
  /** When the newest of the values arrived (epoch ms); 0 when none did. */
  receivedAt: number;
  /** From IB's MARKET_DATA_TYPE message for the request; undefined if none arrived (yet). */
  reportedType: MarketDataTypeName | undefined;
  /** An option's computations, volume and open interest (other contracts: all null). */
  option?: OptionTickValues;
}

/** What historical bars to ask for, in the API's words. */
export interface HistoricalBarsRequest {
  /** End of the bars (ISO 8601); undefined for now. */
  end: string | undefined;
  /** IB's duration string, e.g. "1 D". */
  duration: string;
  barSize: HistoricalBars['barSize'];
  whatToShow: HistoricalBars['whatToShow'];
  regularHoursOnly: boolean;
}

/** Bars carry their time as epoch seconds (intraday) or yyyyMMdd (daily and longer). */
const EPOCH_SECONDS_DATES = 2;

/** A histogram period's unit as IBApiNext takes it ("3 days" is 3 and DAY). */
const PERIOD_UNITS: Record<string, DurationUnit> = {
  second: DurationUnit.SECOND,
  day: DurationUnit.DAY,
  week: DurationUnit.WEEK,
  month: DurationUnit.MONTH,
  year: DurationUnit.YEAR,
};

/**
 * Market data and historical data calls on the session IbSession holds: each request gets its market
 * data type, and learns the type IB reported for it.
 */
@Injectable()
export class MarketDataRepository implements OnModuleDestroy {
  /** IB's MARKET_DATA_TYPE per request id, for the requests this repository made. */
  private readonly reportedTypes = new Map<number, MarketDataType | undefined>();
  private readonly onMarketDataType = (reqId: number, type: number): void => {
    if (this.reportedTypes.has(reqId)) this.reportedTypes.set(reqId, type);
  };

  constructor(private readonly session: IbSession) {
    // IBApiNext does not pass on IB's MARKET_DATA_TYPE message (58); the IBApi inside it emits it.
    session.ibRawApi().on(EventName.marketDataType, this.onMarketDataType);
  }

  onModuleDestroy(): void {
    this.session.ibRawApi().off(EventName.marketDataType, this.onMarketDataType);
  }

  /** Emits each time the IB session (re)connects: a new gateway session, which holds no streams yet. */
  get reconnected(): Observable<void> {
    return this.session.states.pipe(
      pairwise(),
      filter(([previous, current]) => previous !== 'connected' && current === 'connected'),
      map(() => undefined),
    );
  }

  /** The IB session requests go to now, as an opaque token: streams opened on another one are gone. */
  currentSession(): object | undefined {
    return this.session.state === 'connected' ? this.session.ibClient('market data') : undefined;
  }

  /**
   * Market data for `contract`: a stream (until unsubscribed) or, with `snapshot`, one set of values that
   * completes. Errors are domain errors naming `subject`.
   */
  marketData(
    contract: IbContract,
    type: MarketDataTypeName,
    snapshot: boolean,
    subject: string,
  ): Observable<TickUpdate> {
    return new Observable<TickUpdate>((subscriber) => {
      let ib: IBApiNext;
      try {
        ib = this.session.ibClient(`market data for ${subject}`);
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      // IBApiNext numbers a new request when the observable is made: bracketing it with two draws of the
      // counter tells its id (when they are two apart; one apart means it joined an identical request).
      const before = ib.nextReqId;
      const updates = ib.getMarketData(contract, genericTicksFor(contract, snapshot), snapshot, false);
      const reqId = ib.nextReqId === before + 2 ? before + 1 : undefined;
      if (reqId !== undefined) this.reportedTypes.set(reqId, undefined);
      // Subscribing sends the request (the session is connected): the type goes just before it.
      const inner = withMarketDataType(ib, IB_MARKET_DATA_TYPE[type], () =>
        updates.subscribe({
          next: (update) =>
            subscriber.next(
              tickUpdateOf(
                update.all,
                typeName(reqId === undefined ? undefined : this.reportedTypes.get(reqId)),
              ),
            ),
          error: (error: unknown) => subscriber.error(toDomainError(error, { request: 'quote', subject })),
          complete: () => subscriber.complete(),
        }),
      );
      return () => {
        inner.unsubscribe();
        if (reqId !== undefined) this.reportedTypes.delete(reqId);
      };
    });
  }

  /** One set of values; resolves undefined when IB ends the snapshot without any. */
  async snapshot(
    contract: IbContract,
    type: MarketDataTypeName,
    subject: string,
  ): Promise<TickUpdate | undefined> {
    return this.session.ibRequest(`quote for ${subject}`, async () =>
      lastValueFrom(this.marketData(contract, type, true, subject), { defaultValue: undefined }),
    );
  }

  /** The bars IB has for the request, oldest first (bars IB sent without a time or price are left out). */
  async historicalBars(
    contract: IbContract,
    request: HistoricalBarsRequest,
    subject: string,
  ): Promise<HistoricalBars['bars']> {
    const bars = await this.session.ibRequest(
      `historical bars for ${subject}`,
      async (ib) =>
        ib.getHistoricalData(
          contract,
          request.end === undefined ? '' : ibUtcDateTime(request.end),
          request.duration,
          request.barSize as BarSizeSetting,
          request.whatToShow as WhatToShow,
          request.regularHoursOnly ? 1 : 0,
          EPOCH_SECONDS_DATES,
        ),
      { request: 'bars', subject },
    );
    return bars.flatMap(toBar);
  }

  /** The earliest time IB has `whatToShow` data for the contract, in epoch ms. */
  async headTimestamp(
    contract: IbContract,
    whatToShow: HeadTimestamp['whatToShow'],
    regularHoursOnly: boolean,
    subject: string,
  ): Promise<number> {
    const text = await this.session.ibRequest(
      `head timestamp for ${subject}`,
      async (ib) =>
        ib.getHeadTimestamp(contract, whatToShow as WhatToShow, regularHoursOnly, EPOCH_SECONDS_DATES),
      { request: 'head-timestamp', subject },
    );
    const epochMs = headTimestampMs(text);
    if (epochMs === undefined) {
      throw new DomainError(
        'IB_ERROR',
        `IB answered the head timestamp of ${subject} with "${text}", no time`,
        {
          ibMessage: text,
        },
      );
    }
    return epochMs;
  }

  /** Time & Sales: the ticks IB has for the request, oldest first (IB may send them in several messages). */
  async historicalTicks(
    contract: IbContract,
    request: HistoricalTicksRequest,
    subject: string,
  ): Promise<HistoricalTick[]> {
    const start = request.start === undefined ? '' : ibUtcDateTime(request.start);
    const end = request.end === undefined ? '' : ibUtcDateTime(request.end);
    const { count } = request;
    const rth = request.regularHoursOnly ? 1 : 0;
    return this.session.ibRequest(
      `historical ticks for ${subject}`,
      async (ib): Promise<HistoricalTick[]> => {
        switch (request.type) {
          case 'TRADES':
            return (await all(ib.getHistoricalTicksLast(contract, start, end, count, rth))).flatMap(
              toTradeTick,
            );
          case 'BID_ASK':
            return (await all(ib.getHistoricalTicksBidAsk(contract, start, end, count, rth, false))).flatMap(
              toBidAskTick,
            );
          case 'MIDPOINT':
            return (await all(ib.getHistoricalTicksMid(contract, start, end, count, rth))).flatMap(
              toMidpointTick,
            );
        }
      },
      { request: 'ticks', subject },
    );
  }

  /** How many trades IB counted at each price level over `period` ("3 days"), lowest price first. */
  async histogram(
    contract: IbContract,
    period: string,
    regularHoursOnly: boolean,
    subject: string,
  ): Promise<Histogram['buckets']> {
    const match = /^(\d+) (second|day|week|month|year)s?$/.exec(period);
    const unit = match?.[2] === undefined ? undefined : PERIOD_UNITS[match[2]];
    if (!match || unit === undefined) {
      throw new DomainError('INVALID_INPUT', `"${period}" is no histogram period such as "3 days"`);
    }
    const entries = await this.session.ibRequest(
      `histogram for ${subject}`,
      async (ib) => ib.getHistogramData(contract, regularHoursOnly, Number(match[1]), unit),
      { request: 'histogram', subject },
    );
    return entries.flatMap(toBucket).sort((a, b) => a.price - b.price);
  }
}

/** Every tick of a Time & Sales request: IBApiNext emits the growing list and completes when IB says done. */
async function all<T>(ticks: Observable<T[]>): Promise<T[]> {
  return lastValueFrom(ticks, { defaultValue: [] });
}

/**
 * reqMarketDataType applies to the requests after it on the same socket, and messages leave in the order
 * they are queued: setting the type just before `send` and real-time again right after gives the request
 * its type, while the session stays at real-time (IB's default) for everyone else, also after a reconnect.
 */
function withMarketDataType<T>(ib: IBApiNext, type: MarketDataType, send: () => T): T {
  if (type === MarketDataType.REALTIME) return send();
  ib.setMarketDataType(type);
  try {
    return send();
  } finally {
    ib.setMarketDataType(MarketDataType.REALTIME);
  }
}

function typeName(type: MarketDataType | undefined): MarketDataTypeName | undefined {
  return type === undefined ? undefined : TYPE_NAMES.get(type);
}

/** The ticks of one request by the API's names: delayed tick types tell delayed data from real-time data. */
function tickUpdateOf(ticks: MarketDataTicks, reportedType: MarketDataTypeName | undefined): TickUpdate {
  let delayed = false;
  let receivedAt = 0;
  for (const [tickType, tick] of ticks) {
    if (DELAYED_TICKS.has(tickType)) delayed = true;
    if (tick.ingressTm > receivedAt) receivedAt = tick.ingressTm;
  }
  const column = delayed ? 2 : 1;
  const values = {} as QuoteValues;
  let hasQuoteValues = false;
  for (const fieldTicks of QUOTE_TICKS) {
    values[fieldTicks[0]] = tickValue(ticks, fieldTicks[column]);
    if (!hasQuoteValues) hasQuoteValues = ticks.has(fieldTicks[1]) || ticks.has(fieldTicks[2]);
  }
  return {
    values,
    lastTradeSeconds: tickValue(ticks, LAST_TIMESTAMP[delayed ? 1 : 0]),
    delayed,
    hasQuoteValues,
    receivedAt,
    reportedType,
    option: optionValuesOf(ticks, delayed),
  };
}

/** A tick's value; null when IB sent none (or no number). */
function tickValue(ticks: MarketDataTicks, tickType: IBApiTickType): number | null {
  const value = ticks.get(tickType)?.value;
  return value === undefined || !Number.isFinite(value) ? null : value;
}

/** IB's UTC form of an end time: "yyyyMMdd-HH:mm:ss". */
function ibUtcDateTime(iso: string): string {
  const text = new Date(iso).toISOString();
  return `${text.slice(0, 4)}${text.slice(5, 7)}${text.slice(8, 10)}-${text.slice(11, 19)}`;
}

/** IB's bar: epoch seconds (intraday) or yyyyMMdd (daily and longer); -1 values are already dropped. */
function toBar(bar: IbBar): HistoricalBars['bars'] {
  const { time, open, high, low, close } = bar;
  if (
    time === undefined ||
    open === undefined ||
    high === undefined ||
    low === undefined ||
    close === undefined
  ) {
    return [];
  }
  return [
    {
      time: barTime(time),
      open,
      high,
      low,
      close,
      volume: bar.volume ?? null,
      wap: bar.WAP ?? null,
      count: bar.count ?? null,
    },
  ];
}

function barTime(time: string): string {
  const trimmed = time.trim();
  if (/^\d{8}$/.test(trimmed)) return `${trimmed.slice(0, 4)}-${trimmed.slice(4, 6)}-${trimmed.slice(6, 8)}`;
  if (/^\d{9,}$/.test(trimmed)) return new Date(Number(trimmed) * 1000).toISOString();
  return trimmed;
}
