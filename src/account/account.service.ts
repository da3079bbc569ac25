import { Inject, Injectable } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import type { z } from 'zod';
import { CLOCK, type Clock } from '../common/clock';
import { APP_CONFIG } from '../config/config.tokens';
import { DomainError } from '../common/domain-error';
import { parseIbTime } from '../common/ib-time';
import type { AppConfig } from '../config/config.schema';
import { ContractsService } from '../contracts/contracts.service';
import {
  combinedFreshness,
  liveFreshness,
  LIVE_NOTES,
  requestFreshness,
  type FreshnessValue,
} from './account-freshness';
import { AccountLiveState } from './account-live-state';
import { AccountRepository, type PortfolioValuation } from './account.repository';
import type {
  AccountPnl,
  AccountSummary,
  AccountValues,
  AccountValuesInput,
  ExecutionEntry,
  Executions,
  ExecutionsInput,
  ManagedAccounts,
  PositionEntry,
  PositionPnl,
  PositionPnlInput,
  Positions,
} from './account.schemas';

type PositionEntryValue = z.infer<typeof PositionEntry>;

/** A position IB holds no portfolio line for: not valued. */
const NOT_VALUED: PortfolioValuation = {
  marketPrice: null,
  marketValue: null,
  unrealizedPnl: null,
  realizedPnl: null,
};

/**
 * The account side of IB: managed accounts, balances and margin, positions valued at market, PnL and
 * executions. Balances, positions, PnL and account values are answered from the subscriptions the live state
 * holds (no message to IB) when it holds the answer, else by a one-shot read (subscribe, take, cancel); each
 * such answer says which, and as of when.
 */
@Injectable()
export class AccountService {
  /** IB keeps one account-updates (portfolio) subscription per API client, so those reads take turns. */
  private readonly accountUpdates = new Mutex();

  constructor(
    private readonly repository: AccountRepository,
    private readonly contracts: ContractsService,
    private readonly live: AccountLiveState,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async managedAccounts(): Promise<z.infer<typeof ManagedAccounts>> {
    const accounts = await this.repository.managedAccounts();
    return {
      accounts: accounts.map((account) => ({ account, paper: account.toUpperCase().startsWith('DU') })),
    };
  }

  async summary(account: string | undefined): Promise<z.infer<typeof AccountSummary>> {
    const accounts = await this.selectAccounts(account);
    const held = this.live.balances(accounts);
    if (held) return { accounts: held.value, freshness: liveFreshness(held.asOf, LIVE_NOTES.summary) };
    return {
      accounts: await this.repository.balances(accounts),
      freshness: this.requested('account summary not held yet (no session, or its first push is pending)'),
    };
  }

  /** Positions (reqPositions) valued with the portfolio lines of reqAccountUpdates (price, value, PnL). */
  async positions(account: string | undefined): Promise<z.infer<typeof Positions>> {
    const accounts = await this.selectAccounts(account);
    const parts: FreshnessValue[] = [];
    const heldHoldings = this.live.holdings();
    parts.push(
      heldHoldings
        ? liveFreshness(heldHoldings.asOf, LIVE_NOTES.positions)
        : this.requested('positions not held yet'),
    );
    const holdings = heldHoldings?.value ?? (await this.repository.positions());
    const positions: PositionEntryValue[] = [];
    for (const id of accounts) {
      const held = (holdings.get(id) ?? []).filter((holding) => holding.position !== 0);
      if (held.length === 0) continue;
      const portfolio = await this.portfolioOf(id, parts);
      for (const { contract, position, averageCost } of held) {
        positions.push({
          account: id,
          ...contract,
          position,
          averageCost,
          ...(portfolio.get(contract.conId) ?? NOT_VALUED),
        });
      }
    }
    return { positions, freshness: combinedFreshness(parts) };
  }

  async pnl(account: string | undefined): Promise<z.infer<typeof AccountPnl>> {
    const accounts = await this.selectAccounts(account);
    const parts: FreshnessValue[] = [];
    const entries = await Promise.all(
      accounts.map(async (id) => {
        const held = this.live.pnl(id);
        parts.push(
          held
            ? liveFreshness(held.asOf, LIVE_NOTES.pnl)
            : this.requested(`PnL of ${id} not held, or not pushed since its position changed`),
        );
        return { account: id, ...(held?.value ?? (await this.repository.pnl(id))) };
      }),
    );
    return { accounts: entries, freshness: combinedFreshness(parts) };
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
        const pnl = await this.repository.positionPnl(id, conId);
        return {
          account: id,
          conId,
          symbol: qualified.contract.symbol ?? '',
          position: pnl.position ?? 0,
          dailyPnl: pnl.dailyPnl,
          unrealizedPnl: pnl.unrealizedPnl,
          realizedPnl: pnl.realizedPnl,
          marketValue: pnl.marketValue,
        };
      }),
    );
    return { positions: entries };
  }

  /** Every account value IB keeps (reqAccountUpdates), per account, filtered by tag and currency. */
  async accountValues(input: z.infer<typeof AccountValuesInput>): Promise<z.infer<typeof AccountValues>> {
    const accounts = await this.selectAccounts(input.account);
    const tags = input.tags === undefined ? undefined : new Set(input.tags.split(','));
    const entries: z.infer<typeof AccountValues>['accounts'] = [];
    for (const account of accounts) {
      const { download, freshness } = await this.accountValuesOf(account);
      const values = download.values
        .filter(
          (value) =>
            (tags === undefined || tags.has(value.tag)) &&
            (input.currency === undefined || value.currency === input.currency),
        )
        .map((value) => ({ ...value, number: numberOf(value.value) }))
        .sort((a, b) => a.tag.localeCompare(b.tag) || a.currency.localeCompare(b.currency));
      entries.push({ account, updatedAt: download.updatedAt ?? null, values, freshness });
    }
    return {
      accounts: entries,
      freshness: combinedFreshness(entries.flatMap((entry) => entry.freshness ?? [])),
    };
  }

  /** Today's executions with their commissions, filtered (IB filters too, but not reliably by time). */
  async executions(input: z.infer<typeof ExecutionsInput>): Promise<z.infer<typeof Executions>> {
    if (input.account !== undefined) await this.selectAccounts(input.account);
    // IB may report the same execution twice and others than asked for: hence the filtering and
    // de-duplication below.
    const reports = await this.repository.executions(input);
    const since = input.since === undefined ? undefined : Date.parse(input.since);
    const until = input.until === undefined ? undefined : Date.parse(input.until);
    const byExecId = new Map<string, z.infer<typeof ExecutionEntry>>();
    for (const report of reports) {
      const { execId } = report;
      if (execId === '' || byExecId.has(execId)) continue;
      const time = this.executionTime(report.time);
      const entry: z.infer<typeof ExecutionEntry> = {
        ...report,
        time: time === undefined ? report.time : new Date(time).toISOString(),
      };
      const matches =
        (input.account === undefined || entry.account.toUpperCase() === input.account.toUpperCase()) &&
        (input.symbol === undefined || entry.symbol.toUpperCase() === input.symbol.toUpperCase()) &&
        (input.secType === undefined || entry.secType === input.secType) &&
        (input.side === undefined || entry.side === input.side) &&
        (since === undefined || (time !== undefined && time >= since)) &&
        (until === undefined || (time !== undefined && time < until));
      if (matches) byExecId.set(execId, entry);
    }
    const executions = [...byExecId.values()].sort(
      (a, b) => a.time.localeCompare(b.time) || a.execId.localeCompare(b.execId),
    );
    return { executions };
  }

  // ---- Helpers ----

  /** The named account (NOT_FOUND unless managed), or every managed account. */
  private async selectAccounts(account: string | undefined): Promise<string[]> {
    const accounts = this.live.managedAccounts() ?? (await this.repository.managedAccounts());
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

  /** An account's portfolio valuations: held, else downloaded (one account download at a time: IB's rule). */
  private async portfolioOf(
    account: string,
    parts: FreshnessValue[],
  ): Promise<Map<number, PortfolioValuation>> {
    const held = this.live.portfolio(account);
    if (held) {
      parts.push(liveFreshness(held.asOf, LIVE_NOTES.portfolio));
      return held.value;
    }
    parts.push(this.requested(this.notHeldReason(account, 'valuations')));
    return this.accountUpdates.runExclusive(async () =>
      this.live.whileAccountUpdatesYielded(account, async () => this.repository.portfolio(account)),
    );
  }

  /** Every account value of `account` (reqAccountUpdates): held, else downloaded. */
  private async accountValuesOf(account: string) {
    const held = this.live.accountValues(account);
    if (held) return { download: held.value, freshness: liveFreshness(held.asOf, LIVE_NOTES.values) };
    const freshness = this.requested(this.notHeldReason(account, 'account values'));
    const download = await this.accountUpdates.runExclusive(async () =>
      this.live.whileAccountUpdatesYielded(account, async () => this.repository.accountValues(account)),
    );
    return { download, freshness };
  }

  /** Why the account updates of `account` were requested rather than read. */
  private notHeldReason(account: string, what: string): string {
    const held = this.live.accountUpdatesAccount;
    return held === undefined || held === account
      ? `${what} of ${account} not held yet (no session, or the download is pending)`
      : `IB allows one account-updates subscription per API client and it is held for ${held}: ${what} of ${account} were requested`;
  }

  private requested(reason: string): FreshnessValue {
    return requestFreshness(this.clock.now(), reason);
  }

  /** IB's execution time in epoch ms; without a zone, the gateway's (gateway.timeZone, else UTC). */
  private executionTime(text: string): number | undefined {
    return parseIbTime(text, this.config.gateway.timeZone ?? 'UTC');
  }
}

/** An account value as a number, when IB wrote one ("12345.67"); null for text ("true", "", "INDIVIDUAL"). */
function numberOf(text: string): number | null {
  if (text.trim() === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}
