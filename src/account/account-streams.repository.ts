import { Injectable } from '@nestjs/common';
import type { IBApiNext, ItemListUpdate, Position } from '@stoqey/ib';
import { filter, map, Observable } from 'rxjs';
import { IbCode } from '../connection/ib-errors';
import { IbSession, type SessionState } from '../connection/ib-session.repository';
import {
  ALL_ACCOUNTS_GROUP,
  amountOf,
  balancesOf,
  holdingOf,
  SUMMARY_TAG_LIST,
  valuationOf,
  type AccountBalances,
  type AccountPnlValues,
  type AccountValue,
  type PortfolioValuation,
  type PositionHolding,
} from './account.repository';

/** A position line with the account that holds it. */
export interface AccountHolding extends PositionHolding {
  account: string;
}

/**
 * What one push of a stream says. A snapshot replaces everything known (the full picture after a request);
 * otherwise the lines are changes to apply. IBApiNext's own running "all" of positions loses lines when one
 * closes, so the service keeps its picture from the changes instead.
 */
export interface PositionsPush {
  snapshot: boolean;
  holdings: AccountHolding[];
}

export interface AccountUpdatesPush {
  /** The download is complete (accountDownloadEnd): from here on, the picture is the account's whole state. */
  snapshot: boolean;
  values: AccountValue[];
  portfolio: Array<{ conId: number; valuation: PortfolioValuation }>;
  /** IB's time of the update (HH:mm), when this push carried it. */
  updatedAt: string | undefined;
}

/**
 * IB's account streams held open (reqAccountSummary, reqPositions, reqPnL, reqAccountUpdates), in the
 * service's terms. Subscribing sends the request; unsubscribing cancels it. Each fails with NOT_CONNECTED
 * when there is no session.
 */
@Injectable()
export class AccountStreamsRepository {
  constructor(private readonly session: IbSession) {}

  /** The session's state: held streams belong to one session and must be requested again on the next. */
  get sessionStates(): Observable<SessionState> {
    return this.session.states;
  }

  /**
   * IB's connection to its servers, while the session stays up: lost (1100: nothing is pushed any more), or
   * restored (1101 or 1102: pushes may have been lost meanwhile).
   */
  get connectivity(): Observable<'lost' | 'restored'> {
    return this.session.systemMessages.pipe(
      filter((message) => CONNECTIVITY_CODES.has(message.code)),
      map((message) => (message.code === IbCode.CONNECTIVITY_LOST ? 'lost' : 'restored')),
    );
  }

  /** Balances of every managed account (reqAccountSummary for the group "All"), in full at each push. */
  accountSummary(): Observable<Map<string, AccountBalances>> {
    return this.held('account summary', (ib) => ib.getAccountSummary(ALL_ACCOUNTS_GROUP, SUMMARY_TAG_LIST), {
      map: (update) =>
        new Map([...update.all.keys()].map((account) => [account, balancesOf(update.all, account)])),
    });
  }

  positions(): Observable<PositionsPush> {
    return this.held('positions', (ib) => ib.getPositions(), {
      map: (update, snapshot) => ({
        snapshot,
        holdings: linesOf(snapshot ? update.all : changesOf(update)).map((line) => ({
          account: line.account,
          ...holdingOf(line),
        })),
      }),
    });
  }

  pnl(account: string): Observable<AccountPnlValues> {
    // The model code "" (IB's "no model", as an absent one) keeps IBApiNext from sharing this held stream
    // with one-shot reads (getPnL(account)), which must ask IB afresh, not replay the held value.
    return this.held(`PnL of ${account}`, (ib) => ib.getPnL(account, ''), {
      map: (pnl) => ({
        dailyPnl: amountOf(pnl.dailyPnL),
        unrealizedPnl: amountOf(pnl.unrealizedPnL),
        realizedPnl: amountOf(pnl.realizedPnL),
      }),
    });
  }

  /** reqAccountUpdates for `account`: IB keeps ONE such subscription per API client. */
  accountUpdates(account: string): Observable<AccountUpdatesPush> {
    return this.held(`account updates of ${account}`, (ib) => ib.getAccountUpdates(account), {
      map: (update, snapshot) => {
        const changes = snapshot ? update.all : mergeChanges(update);
        const values: AccountValue[] = [];
        for (const [tag, byCurrency] of changes.value?.get(account) ?? []) {
          for (const [currency, { value }] of byCurrency) values.push({ tag, currency, value });
        }
        const portfolio = (changes.portfolio?.get(account) ?? []).map((line) => ({
          conId: line.contract.conId ?? 0,
          valuation: valuationOf(line),
        }));
        return { snapshot, values, portfolio, updatedAt: changes.timestamp ?? update.all.timestamp };
      },
    });
  }

  /**
   * One of IBApiNext's streams as an Observable of the service's values. A push that changes nothing
   * (IBApiNext's end-of-download marker) is a snapshot. IBApiNext replays its last value at once to a new
   * subscriber; that value may be a previous session's, and real data never arrives synchronously: skipped.
   */
  private held<T, R>(
    what: string,
    open: (ib: IBApiNext) => Observable<T>,
    convert: { map: (update: T, snapshot: boolean) => R },
  ): Observable<R> {
    return new Observable<R>((subscriber) => {
      let ib: IBApiNext;
      try {
        ib = this.session.ibClient(what);
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      let subscribing = true;
      const upstream = open(ib).subscribe({
        next: (update) => {
          if (!subscribing) subscriber.next(convert.map(update, isSnapshot(update)));
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      subscribing = false;
      return () => upstream.unsubscribe();
    });
  }
}

const CONNECTIVITY_CODES: ReadonlySet<number> = new Set([
  IbCode.CONNECTIVITY_LOST,
  IbCode.CONNECTIVITY_RESTORED_DATA_LOST,
  IbCode.CONNECTIVITY_RESTORED_DATA_KEPT,
]);

/** A push without added, changed or removed lines: IB's end marker after a (re)request, the full picture. */
function isSnapshot(update: unknown): boolean {
  if (typeof update !== 'object' || update === null || !('all' in update)) return true; // PnL: always whole
  const list = update as ItemListUpdate<unknown>;
  return list.added === undefined && list.changed === undefined && list.removed === undefined;
}

type AccountPositionsMap = ReadonlyMap<string, Position[]>;

function linesOf(positions: AccountPositionsMap | undefined): Position[] {
  return [...(positions?.values() ?? [])].flat();
}

/** The added, changed and removed lines of a positions push (a removed line carries position 0). */
function changesOf(update: ItemListUpdate<AccountPositionsMap>): AccountPositionsMap {
  const merged = new Map<string, Position[]>();
  for (const part of [update.added, update.changed, update.removed]) {
    for (const [account, lines] of part ?? [])
      merged.set(account, [...(merged.get(account) ?? []), ...lines]);
  }
  return merged;
}

type AccountUpdateValue = ItemListUpdate<{
  timestamp?: string;
  portfolio?: AccountPositionsMap;
  value?: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, { value: string }>>>;
}>;

/** The changes of one account-updates push, folded into one picture of what changed. */
function mergeChanges(update: AccountUpdateValue): NonNullable<AccountUpdateValue['changed']> {
  const parts = [update.added, update.changed, update.removed];
  const portfolio = new Map<string, Position[]>();
  for (const part of parts) {
    for (const [account, lines] of part?.portfolio ?? []) {
      portfolio.set(account, [...(portfolio.get(account) ?? []), ...lines]);
    }
  }
  const value = parts.find((part) => part?.value !== undefined)?.value;
  const timestamp = parts.find((part) => part?.timestamp !== undefined)?.timestamp;
  return {
    portfolio,
    ...(value === undefined ? {} : { value }),
    ...(timestamp === undefined ? {} : { timestamp }),
  };
}
