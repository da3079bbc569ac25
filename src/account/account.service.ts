import { Inject, Injectable } from '@nestjs/common';
import type { ExecutionFilter, IBApiNext } from '@stoqey/ib';
import { Mutex } from 'async-mutex';
import { DateTime } from 'luxon';
import { filter, firstValueFrom } from 'rxjs';
import type { z } from 'zod';
import { APP_CONFIG } from '../config/config.tokens';
import { DomainError } from '../common/domain-error';
import type { AppConfig } from '../config/config.schema';
import { IbSession } from '../connection/ib-session.repository';
import { contractFields, ContractsService } from '../contracts/contracts.service';
import type {
  AccountPnl,
  AccountSummary,
  AccountSummaryEntry,
  ExecutionEntry,
  Executions,
  ExecutionsInput,
  ManagedAccounts,
  PositionEntry,
  PositionPnl,
  PositionPnlInput,
  Positions,
} from './account.schemas';

/** reqAccountSummary tags, and the summary field each one fills. */
const SUMMARY_TAGS = {
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
const ALL_ACCOUNTS_GROUP = 'All';
/** IB marks a value it does not know with Double.MAX; anything this large is "unset", not an amount. */
const UNSET_THRESHOLD = 1e300;

type PortfolioLine = Pick<
  PositionEntryValue,
  'marketPrice' | 'marketValue' | 'unrealizedPnl' | 'realizedPnl'
>;
type PositionEntryValue = z.infer<typeof PositionEntry>;

/**
 * The account side of IB: managed accounts, balances and margin, positions valued at market, PnL and
 * executions. Each answer is a one-shot read of IB's streams (subscribe, take the full picture, cancel).
 */
@Injectable()
export class AccountService {
  /** IB keeps one account-updates (portfolio) subscription per API client, so those reads take turns. */
  private readonly accountUpdates = new Mutex();

  constructor(
    private readonly ib: IbSession,
    private readonly contracts: ContractsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async managedAccounts(): Promise<z.infer<typeof ManagedAccounts>> {
    const accounts = await this.accountIds();
    return {
      accounts: accounts.map((account) => ({ account, paper: account.toUpperCase().startsWith('DU') })),
    };
  }

  async summary(account: string | undefined): Promise<z.infer<typeof AccountSummary>> {
    const accounts = await this.selectAccounts(account);
    const update = await this.ib.ibRequest('account summary', async (ib) =>
      firstValueFrom(ib.getAccountSummary(ALL_ACCOUNTS_GROUP, Object.keys(SUMMARY_TAGS).join(','))),
    );
    return {
      accounts: accounts.map((id) => {
        const tags = update.all.get(id);
        const entry: z.infer<typeof AccountSummaryEntry> = {
          account: id,
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
      }),
    };
  }

  /** Positions (reqPositions) valued with the portfolio lines of reqAccountUpdates (price, value, PnL). */
  async positions(account: string | undefined): Promise<z.infer<typeof Positions>> {
    const accounts = await this.selectAccounts(account);
    const update = await this.ib.ibRequest('positions', async (ib) => firstValueFrom(ib.getPositions()));
    const positions: PositionEntryValue[] = [];
    for (const id of accounts) {
      const held = (update.all.get(id) ?? []).filter((position) => position.pos !== 0);
      if (held.length === 0) continue;
      const portfolio = await this.portfolio(id);
      for (const position of held) {
        const conId = position.contract.conId ?? 0;
        positions.push({
          account: id,
          ...contractFields(position.contract),
          position: position.pos,
          averageCost: position.avgCost ?? 0,
          ...(portfolio.get(conId) ?? {
            marketPrice: null,
            marketValue: null,
            unrealizedPnl: null,
            realizedPnl: null,
          }),
        });
      }
    }
    return { positions };
  }

  async pnl(account: string | undefined): Promise<z.infer<typeof AccountPnl>> {
    const accounts = await this.selectAccounts(account);
    const entries = await Promise.all(
      accounts.map(async (id) => {
        const pnl = await this.ib.ibRequest(`PnL of ${id}`, async (ib) => firstValueFrom(ib.getPnL(id)));
        return {
          account: id,
          dailyPnl: amountOf(pnl.dailyPnL),
          unrealizedPnl: amountOf(pnl.unrealizedPnL),
          realizedPnl: amountOf(pnl.realizedPnL),
        };
      }),
    );
    return { accounts: entries };
  }

  async positionPnl(input: z.infer<typeof PositionPnlInput>): Promise<z.infer<typeof PositionPnl>> {
    const { account, ...query } = input;
    const [accounts, qualified] = await Promise.all([
      this.selectAccounts(account),
      this.contracts.resolveContract(query),
    ]);
    const { conId } = qualified.contract;
    const entries = await Promise.all(
      accounts.map(async (id) => {
        const pnl = await this.ib.ibRequest(`PnL of conId ${conId} in ${id}`, async (ib) =>
          firstValueFrom(ib.getPnLSingle(id, '', conId)),
        );
        return {
          account: id,
          conId,
          symbol: qualified.contract.symbol ?? '',
          position: amountOf(pnl.position) ?? 0,
          dailyPnl: amountOf(pnl.dailyPnL),
          unrealizedPnl: amountOf(pnl.unrealizedPnL),
          realizedPnl: amountOf(pnl.realizedPnL),
          marketValue: amountOf(pnl.marketValue),
        };
      }),
    );
    return { positions: entries };
  }

  /** Today's executions with their commissions, filtered (IB filters too, but not reliably by time). */
  async executions(input: z.infer<typeof ExecutionsInput>): Promise<z.infer<typeof Executions>> {
    if (input.account !== undefined) await this.selectAccounts(input.account);
    const upstream: ExecutionFilter = {
      ...(input.account === undefined ? {} : { acctCode: input.account.toUpperCase() }),
      ...(input.symbol === undefined ? {} : { symbol: input.symbol.toUpperCase() }),
      ...(input.secType === undefined ? {} : { secType: input.secType as ExecutionFilter['secType'] }),
      ...(input.side === undefined ? {} : { side: input.side }),
    };
    // IBApiNext hands every execution report to every pending request (and live fills too): hence the
    // filtering and de-duplication below.
    const [details, reports] = await this.ib.ibRequest('executions', async (ib: IBApiNext) =>
      Promise.all([ib.getExecutionDetails(upstream), ib.getCommissionReport(upstream)]),
    );
    const commissions = new Map(reports.map((report) => [report.execId ?? '', report]));
    const since = input.since === undefined ? undefined : Date.parse(input.since);
    const byExecId = new Map<string, z.infer<typeof ExecutionEntry>>();
    for (const { contract, execution } of details) {
      const execId = execution.execId ?? '';
      if (execId === '' || byExecId.has(execId)) continue;
      const side = execution.side === 'BOT' ? 'BUY' : 'SELL';
      const time = this.executionTime(execution.time ?? '');
      const entry: z.infer<typeof ExecutionEntry> = {
        execId,
        orderId: execution.orderId ?? 0,
        permId: execution.permId ?? 0,
        clientId: execution.clientId ?? 0,
        account: execution.acctNumber ?? '',
        time: time === undefined ? (execution.time ?? '') : new Date(time).toISOString(),
        side,
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
        commission: amountOf(commissions.get(execId)?.commission),
        commissionCurrency: commissions.get(execId)?.currency ?? null,
        realizedPnl: amountOf(commissions.get(execId)?.realizedPNL),
      };
      const matches =
        (input.account === undefined || entry.account.toUpperCase() === input.account.toUpperCase()) &&
        (input.symbol === undefined || entry.symbol.toUpperCase() === input.symbol.toUpperCase()) &&
        (input.secType === undefined || entry.secType === input.secType) &&
        (input.side === undefined || entry.side === input.side) &&
        (since === undefined || (time !== undefined && time >= since));
      if (matches) byExecId.set(execId, entry);
    }
    const executions = [...byExecId.values()].sort(
      (a, b) => a.time.localeCompare(b.time) || a.execId.localeCompare(b.execId),
    );
    return { executions };
  }

  // ---- Helpers ----

  private async accountIds(): Promise<string[]> {
    return this.ib.ibRequest('managed accounts', async (ib) => ib.getManagedAccounts());
  }

  /** The named account (NOT_FOUND unless managed), or every managed account. */
  private async selectAccounts(account: string | undefined): Promise<string[]> {
    const accounts = await this.accountIds();
    if (account === undefined) return accounts;
    const match = accounts.find((id) => id.toUpperCase() === account.toUpperCase());
    if (match === undefined) {
      throw new DomainError(
        'NOT_FOUND',
        `Unknown account ${account}; this login manages ${accounts.join(', ') || 'no accounts'}`,
      );
    }
    return [match];
  }

  /** The account's portfolio lines by conId: the full download of reqAccountUpdates, then cancelled. */
  private async portfolio(account: string): Promise<Map<number, PortfolioLine>> {
    const update = await this.accountUpdates.runExclusive(async () =>
      this.ib.ibRequest(`portfolio of ${account}`, async (ib) =>
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
      ),
    );
    const lines = new Map<number, PortfolioLine>();
    for (const line of update.all.portfolio?.get(account) ?? []) {
      lines.set(line.contract.conId ?? 0, {
        marketPrice: amountOf(line.marketPrice),
        marketValue: amountOf(line.marketValue),
        unrealizedPnl: amountOf(line.unrealizedPNL),
        realizedPnl: amountOf(line.realizedPNL),
      });
    }
    return lines;
  }

  /**
   * IB's execution time: "20260102 14:30:00 US/Eastern" (or "GMT"); without a zone it is the gateway's
   * local time (gateway.timeZone, else UTC). Epoch ms, or undefined when unreadable.
   */
  private executionTime(text: string): number | undefined {
    const match = /^(\d{8})\s+(\d{2}:\d{2}:\d{2})(?:\s+(\S+))?$/.exec(text.trim());
    if (!match) return undefined;
    const zone = match[3] ?? this.config.gateway.timeZone ?? 'UTC';
    const parsed = DateTime.fromFormat(`${match[1]} ${match[2]}`, 'yyyyMMdd HH:mm:ss', {
      zone: zone === 'GMT' ? 'UTC' : zone,
    });
    return parsed.isValid ? parsed.toMillis() : undefined;
  }
}

function amountOf(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) || Math.abs(value) >= UNSET_THRESHOLD ? null : value;
}
