import { Injectable } from '@nestjs/common';
import type { MarketDataUpdate } from '@stoqey/ib';
import { catchError, filter, map, throwError, type Observable } from 'rxjs';
import { ibErrorOf } from '../connection/ib-errors';
import { IbSession } from '../connection/ib-session.repository';
import type { QualifiedContract } from '../contracts/contracts.service';

/** A contract as contracts resolved it: what the probe subscribes to. */
export type ProbeContract = QualifiedContract['contract'];

/**
 * The watchdog's conversation with IB: its probe's market data, told as the times ticks arrived. The only
 * file of the health domain that speaks @stoqey/ib.
 */
@Injectable()
export class ProbeDataRepository {
  constructor(private readonly ibApi: IbSession) {}

  /**
   * Subscribes to `contract`'s market data and emits when each update's newest value arrived (epoch ms, as
   * stamped on arrival; a replayed old value does not count as a tick). Errors when IB ends the
   * subscription, with IB's message; throws NOT_CONNECTED when the session is down. IBApiNext re-requests
   * the stream after a reconnect.
   */
  tickArrivals(contract: ProbeContract, what: string): Observable<number> {
    return this.ibApi
      .ibClient(what)
      .getMarketData(contract, '', false, false)
      .pipe(
        map(latestArrival),
        filter((at): at is number => at !== undefined),
        catchError((error: unknown) => throwError(() => asError(error))),
      );
  }
}

/** When the newest value in an update arrived. */
function latestArrival(update: MarketDataUpdate): number | undefined {
  const values = update.changed ?? update.added ?? update.all;
  let latest: number | undefined;
  for (const tick of values.values()) {
    if (latest === undefined || tick.ingressTm > latest) latest = tick.ingressTm;
  }
  return latest;
}

/** IB's error (IBApiNextError: a code and a wrapped Error) as an Error with IB's message. */
function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  const report = ibErrorOf(error);
  return new Error(report?.message || String(error));
}
