import { Injectable } from '@nestjs/common';
import type { AccountSummaries, ExecutionFilter, Position } from '@stoqey/ib';
import { filter, firstValueFrom } from 'rxjs';
import type { z } from 'zod';
import { IbSession } from '../connection/ib-session.repository';
import { contractView, type ContractView } from '../contracts/contracts.repository';
import type { AccountSummaryEntry, ExecutionEntry, PositionEntry } from './account.schemas';

/** IB's account summary tags, and the summary field each one fills. */
export const SUMMARY_TAGS = {
  NetLiquidation: 'netLiquidation',
  TotalCashValue: 'totalCash',
  SettledCash: 'settledCash',
  BuyingPower: 'buyingPower',
  EquityWithLoanValue: 'equityWithLoan',
  GrossPositionValue: 'grossPositionValue',
  InitMarginReq: 'initMargin',
  MaintMarginReq: 'maintMargin',
  AvailableFunds: 'availableFunds',
  ExcessLiquidity: 'excessLiquidity',
  Cushion: 'cushion',
  Leverage: 'leverage',
} as const satisfies Record<string, keyof z.infer<typeof AccountSummaryEntry>>;

/** Account summaries are requested for IB's group of every managed account. */
export const ALL_ACCOUNTS_GROUP = 'All';
/** The tags every account summary request names: the same text, so IBApiNext shares one subscription. */
export const SUMMARY_TAG_LIST = Object.keys(SUMMARY_TAGS).join(',');
/** IB marks a value it does not know with Double.MAX; anything this large is "unset", not an amount. */
const UNSET_THRESHOLD = 1e300;

/** One account's balances and margin: every amount null until IB reports it. */
export type AccountBalances = z.infer<typeof AccountSummaryEntry>;

/** A position as IB reports it (reqPositions), before it is valued. */
/** One of IB's account values: a tag (NetLiquidation, CashBalance, ...) in one currency ("BASE" for the total). */
export interface AccountValue {
  tag: string;
  currency: string;
  value: string;
}

export interface PositionHolding {
  contract: ContractView;
  position: number;
  averageCost: number;
}

/** A portfolio line's valuation (reqAccountUpdates). */
export type PortfolioValuation = Pick<
  z.infer<typeof PositionEntry>,
  'marketPrice' | 'marketValue' | 'unrealizedPnl' | 'realizedPnl'
>;

export interface AccountPnlValues {
  dailyPnl: number | null;
  unrealizedPnl: number | null;
  realizedPnl: number | null;
}

export interface PositionPnlValues extends AccountPnlValues {
  position: number | null;
  marketValue: number | null;
}

/** What IB is asked to filter executions by (it does not filter reliably: check again). */
export interface ExecutionQuery {
  account?: string | undefined;
  symbol?: string | undefined;
  secType?: string | undefined;
  side?: 'BUY' | 'SELL' | undefined;
}

/** An execution with its commission, its time still IB's text ("20260102 14:30:00 US/Eastern"). */
export type ExecutionReport = z.infer<typeof ExecutionEntry>;

/**
 * The account side of IB in the API's words: managed accounts, summaries, positions, portfolio, PnL and
 * executions. Each is a one-shot read of IB's streams (subscribe, take the full picture, cancel).
 */
@Injectable()
export class AccountRepository {
  constructor(private readonly session: IbSession) {}

  async managedAccounts(): Promise<string[]> {
    return this.session.ibRequest('managed accounts', async (ib) => ib.getManagedAccounts());
  }

  /** Balances and margin of each of `accounts` (every amount null for an account IB reported nothing for). */
  async balances(accounts: readonly string[]): Promise<AccountBalances[]> {
    const update = await this.session.ibRequest('account summary', async (ib) =>
      firstValueFrom(ib.getAccountSummary(ALL_ACCOUNTS_GROUP, SUMMARY_TAG_LIST)),
    );
    return accounts.map((account) => balancesOf(update.all, account));
  }

  /** Every position IB reports (closed ones included, with position 0), by account id. */
  async positions(): Promise<Map<string, PositionHolding[]>> {
    const update = await this.session.ibRequest('positions', async (ib) => firstValueFrom(ib.getPositions()));
    const positions = new Map<string, PositionHolding[]>();
    for (const [account, held] of update.all) positions.set(account, held.map(holdingOf));
    return positions;
  }

  /**
   * The account's portfolio valuations by conId, from its full account download (accountDownload).
   */
  async portfolio(account: string): Promise<Map<number, PortfolioValuation>> {
    const download = await this.accountDownload(account, 'portfolio');
    const lines = new Map<number, PortfolioValuation>();
    for (const line of download.portfolio?.get(account) ?? []) {
      lines.set(line.contract.conId ?? 0, valuationOf(line));
    }
    return lines;
  }

  /** Every value IB keeps for the account (reqAccountUpdates' tags), each per currency, as IB wrote it. */
  async accountValues(account: string): Promise<{ values: AccountValue[]; updatedAt: string | undefined }> {
    const download = await this.accountDownload(account, 'account values');
    const values: AccountValue[] = [];
    for (const [tag, byCurrency] of download.value?.get(account) ?? []) {
      for (const [currency, { value }] of byCurrency) values.push({ tag, currency, value });
    }
    return { values, updatedAt: download.timestamp };
  }

  /**
   * The full download of reqAccountUpdates for one account, then cancelled. IB keeps one such subscription
   * per API client: callers must not run two at a time.
   */
  private async accountDownload(account: string, what: string) {
    const update = await this.session.ibRequest(`${what} of ${account}`, async (ib) =>
      firstValueFrom(
        // The download's end is the one emission that carries no change (the first one lists everything).
        ib
          .getAccountUpdates(account)
          .pipe(
            filter(
              (next, index) =>
                index > 0 &&
                next.added === undefined &&
                next.changed === undefined &&
                next.removed === undefined,
            ),
          ),
      ),
    );
    return update.all;
  }

  async pnl(account: string): Promise<AccountPnlValues> {
    const pnl = await this.session.ibRequest(`PnL of ${account}`, async (ib) =>
      firstValueFrom(ib.getPnL(account)),
    );
    return {
      dailyPnl: amountOf(pnl.dailyPnL),
      unrealizedPnl: amountOf(pnl.unrealizedPnL),
      realizedPnl: amountOf(pnl.realizedPnL),
    };
  }

  async positionPnl(account: string, conId: number): Promise<PositionPnlValues> {
    const pnl = await this.session.ibRequest(`PnL of conId ${conId} in ${account}`, async (ib) =>
      firstValueFrom(ib.getPnLSingle(account, '', conId)),
    );
    return {
      position: amountOf(pnl.position),
      dailyPnl: amountOf(pnl.dailyPnL),
      unrealizedPnl: amountOf(pnl.unrealizedPnL),
      realizedPnl: amountOf(pnl.realizedPnL),
      marketValue: amountOf(pnl.marketValue),
    };
  }

  /**
   * Today's executions IB reports for the query, each with its commission report. IBApiNext hands every
   * execution report to every pending request (and live fills too): the same execution may come twice, and
   * others than asked for may come.
   */
  async executions(query: ExecutionQuery): Promise<ExecutionReport[]> {
    const upstream: ExecutionFilter = {
      ...(query.account === undefined ? {} : { acctCode: query.account.toUpperCase() }),
      ...(query.symbol === undefined ? {} : { symbol: query.symbol.toUpperCase() }),
      ...(query.secType === undefined ? {} : { secType: query.secType as ExecutionFilter['secType'] }),
      ...(query.side === undefined ? {} : { side: query.side }),
    };
    const [details, reports] = await this.session.ibRequest('executions', async (ib) =>
      Promise.all([ib.getExecutionDetails(upstream), ib.getCommissionReport(upstream)]),
    );
    const commissions = new Map(reports.map((report) => [report.execId ?? '', report]));
    return details.map(({ contract, execution }) => {
      const execId = execution.execId ?? '';
      const commission = commissions.get(execId);
      return {
        execId,
        orderId: execution.orderId ?? 0,
        permId: execution.permId ?? 0,
        clientId: execution.clientId ?? 0,
        account: execution.acctNumber ?? '',
        time: execution.time ?? '',
        side: execution.side === 'BOT' ? 'BUY' : 'SELL',
        shares: execution.shares ?? 0,
        price: execution.price ?? 0,
        cumulativeQuantity: execution.cumQty ?? 0,
        averagePrice: execution.avgPrice ?? 0,
        exchange: execution.exchange ?? '',
        ...(execution.orderRef ? { orderRef: execution.orderRef } : {}),
        conId: contract.conId ?? 0,
        symbol: contract.symbol ?? '',
        secType: contract.secType ?? '',
        currency: contract.currency ?? '',
        ...(contract.localSymbol ? { localSymbol: contract.localSymbol } : {}),
        commission: amountOf(commission?.commission),
        commissionCurrency: commission?.currency ?? null,
        realizedPnl: amountOf(commission?.realizedPNL),
      };
    });
  }
}

/** One account's balances from IB's account summary (every amount null for one IB reported nothing for). */
export function balancesOf(summaries: AccountSummaries, account: string): AccountBalances {
  const tags = summaries.get(account);
  const entry: AccountBalances = {
    account,
    currency: '',
    netLiquidation: null,
    totalCash: null,
    settledCash: null,
    buyingPower: null,
    equityWithLoan: null,
    grossPositionValue: null,
    initMargin: null,
    maintMargin: null,
    availableFunds: null,
    excessLiquidity: null,
    cushion: null,
    leverage: null,
  };
  for (const [tag, field] of Object.entries(SUMMARY_TAGS)) {
    for (const [currency, { value }] of tags?.get(tag) ?? []) {
      entry[field] = amountOf(Number(value));
      if (currency !== '' && entry.currency === '') entry.currency = currency;
    }
  }
  return entry;
}

/** A position line of reqPositions in the service's terms. */
export function holdingOf(position: Position): PositionHolding {
  return {
    contract: contractView(position.contract),
    position: position.pos,
    averageCost: position.avgCost ?? 0,
  };
}

/** A portfolio line's valuation (reqAccountUpdates). */
export function valuationOf(line: Position): PortfolioValuation {
  return {
    marketPrice: amountOf(line.marketPrice),
    marketValue: amountOf(line.marketValue),
    unrealizedPnl: amountOf(line.unrealizedPNL),
    realizedPnl: amountOf(line.realizedPNL),
  };
}

/** IB's amount, or null when IB sent none or its "unset" marker. */
export function amountOf(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) || Math.abs(value) >= UNSET_THRESHOLD ? null : value;
}
