import { Injectable } from '@nestjs/common';
import {
  EventName,
  IBApi,
  MarketDataType,
  type Bar,
  type BarSizeSetting,
  type Contract,
  type IBApiNext,
  type MarketDataTicks,
  type WhatToShow,
} from '@stoqey/ib';
import { filter, lastValueFrom, map, Observable, pairwise } from 'rxjs';
import { IbSession } from '../connection/ib-session.repository';
import { toMarketDataError } from './market-data-errors';
import type { MarketDataTypeName } from './market-data.schemas';

export const IB_MARKET_DATA_TYPE: Record<MarketDataTypeName, MarketDataType> = {
  'real-time': MarketDataType.REALTIME,
  frozen: MarketDataType.FROZEN,
  delayed: MarketDataType.DELAYED,
  'delayed-frozen': MarketDataType.DELAYED_FROZEN,
};

const TYPE_NAMES = new Map<number, MarketDataTypeName>(
  Object.entries(IB_MARKET_DATA_TYPE).map(([name, type]) => [type, name as MarketDataTypeName]),
);

/** The ticks IB sent so far for one request, and how IB labelled them. */
export interface TickUpdate {
  ticks: MarketDataTicks;
  /** From IB's MARKET_DATA_TYPE message for the request; undefined if none arrived (yet). */
  reportedType: MarketDataTypeName | undefined;
}

export interface HistoricalBarsRequest {
  /** IB's endDateTime: "" for now, or "yyyyMMdd-HH:mm:ss" in UTC. */
  endDateTime: string;
  duration: string;
  barSize: BarSizeSetting;
  whatToShow: WhatToShow;
  regularHoursOnly: boolean;
}

/** Bars carry their time as epoch seconds (intraday) or yyyyMMdd (daily and longer). */
export const EPOCH_SECONDS_DATES = 2;

/**
 * Market data and historical data calls on the session IbSession holds: each request gets its market
 * data type, and learns the type IB reported for it.
 */
@Injectable()
export class MarketDataRepository {
  /** IB's MARKET_DATA_TYPE per request id, for the requests this repository made. */
  private readonly reportedTypes = new Map<number, MarketDataType | undefined>();
  private readonly listenedSessions = new WeakSet<IBApiNext>();

  constructor(private readonly ibApi: IbSession) {}

  /** Emits each time the IB session (re)connects: a new gateway session, which holds no streams yet. */
  get reconnected(): Observable<void> {
    return this.ibApi.states.pipe(
      pairwise(),
      filter(([previous, current]) => previous !== 'connected' && current === 'connected'),
      map(() => undefined),
    );
  }

  /** The IB session requests go to now, as an opaque token: streams opened on another one are gone. */
  currentSession(): object | undefined {
    return this.ibApi.state === 'connected' ? this.ibApi.ibClient('market data') : undefined;
  }

  /**
   * Market data for `contract`: a stream (until unsubscribed) or, with `snapshot`, one set of values that
   * completes. Errors are domain errors naming `subject`.
   */
  marketData(
    contract: Contract,
    type: MarketDataTypeName,
    snapshot: boolean,
    subject: string,
  ): Observable<TickUpdate> {
    return new Observable<TickUpdate>((subscriber) => {
      let session: IBApiNext;
      try {
        session = this.ibApi.ibClient(`market data for ${subject}`);
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      this.listenForReportedTypes(session);
      // IBApiNext numbers a new request when the observable is made: bracketing it with two draws of the
      // counter tells its id (when they are two apart; one apart means it joined an identical request).
      const before = session.nextReqId;
      const updates = session.getMarketData(contract, '', snapshot, false);
      const reqId = session.nextReqId === before + 2 ? before + 1 : undefined;
      if (reqId !== undefined) this.reportedTypes.set(reqId, undefined);
      // Subscribing sends the request (the session is connected): the type goes just before it.
      const inner = withMarketDataType(session, IB_MARKET_DATA_TYPE[type], () =>
        updates.subscribe({
          next: (update) =>
            subscriber.next({
              ticks: update.all,
              reportedType: typeName(reqId === undefined ? undefined : this.reportedTypes.get(reqId)),
            }),
          error: (error: unknown) => subscriber.error(toMarketDataError(error, subject, 'quote')),
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
    contract: Contract,
    type: MarketDataTypeName,
    subject: string,
  ): Promise<TickUpdate | undefined> {
    return this.ibApi.ibRequest(`quote for ${subject}`, async () =>
      lastValueFrom(this.marketData(contract, type, true, subject), { defaultValue: undefined }),
    );
  }

  async historicalBars(contract: Contract, request: HistoricalBarsRequest, subject: string): Promise<Bar[]> {
    return this.ibApi.ibRequest(`historical bars for ${subject}`, async (session) => {
      try {
        return await session.getHistoricalData(
          contract,
          request.endDateTime,
          request.duration,
          request.barSize,
          request.whatToShow,
          request.regularHoursOnly ? 1 : 0,
          EPOCH_SECONDS_DATES,
        );
      } catch (error) {
        throw toMarketDataError(error, subject, 'bars');
      }
    });
  }

  /**
   * IBApiNext does not pass on IB's MARKET_DATA_TYPE message (58); the IBApi inside it, which its typings
   * mark private, emits it. Without that IBApi, quotes fall back to what their tick types show.
   */
  private listenForReportedTypes(session: IBApiNext): void {
    if (this.listenedSessions.has(session)) return;
    this.listenedSessions.add(session);
    const inner = (session as unknown as { api?: unknown }).api;
    if (!(inner instanceof IBApi)) return;
    inner.on(EventName.marketDataType, (reqId: number, type: number) => {
      if (this.reportedTypes.has(reqId)) this.reportedTypes.set(reqId, type);
    });
  }
}

/**
 * reqMarketDataType applies to the requests after it on the same socket, and messages leave in the order
 * they are queued: setting the type just before `send` and real-time again right after gives the request
 * its type, while the session stays at real-time (IB's default) for everyone else, also after a reconnect.
 */
function withMarketDataType<T>(session: IBApiNext, type: MarketDataType, send: () => T): T {
  if (type === MarketDataType.REALTIME) return send();
  session.setMarketDataType(type);
  try {
    return send();
  } finally {
    session.setMarketDataType(MarketDataType.REALTIME);
  }
}

function typeName(type: MarketDataType | undefined): MarketDataTypeName | undefined {
  return type === undefined ? undefined : TYPE_NAMES.get(type);
}
