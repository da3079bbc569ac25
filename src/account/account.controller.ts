import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import type { z } from 'zod';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import { NoInput } from '../connection/connection.schemas';
import {
  AccountInput,
  AccountPnl,
  AccountSummary,
  AccountValues,
  AccountValuesInput,
  Executions,
  ExecutionsInput,
  ManagedAccounts,
  PositionPnl,
  PositionPnlInput,
  Positions,
} from './account.schemas';
import { AccountService } from './account.service';

/** Reads of the account: nothing changes, and nothing leaves IB for an exchange. */
const READ_ONLY = { readOnly: true, destructive: false, idempotent: true, openWorld: false } as const;

@ApiTags('account')
@McpController('account')
export class AccountController {
  constructor(private readonly router: GatewayRouter) {}

  /** The gateway that manages the account asked about (or the one named). */
  private async account(input: GatewayChoice): Promise<AccountService> {
    return (await this.router.forAccount(input)).get(AccountService);
  }

  @Operation({
    name: 'get_managed_accounts',
    summary: 'List the managed accounts',
    description: 'The IB accounts the logged-in user manages, each marked paper (DU...) or live.',
    path: 'managed',
    input: NoInput,
    output: ManagedAccounts,
    safety: READ_ONLY,
  })
  async managed(@Input(NoInput) input: z.infer<typeof NoInput>): Promise<z.infer<typeof ManagedAccounts>> {
    return (await this.account(input)).managedAccounts();
  }

  @Operation({
    name: 'get_account_summary',
    summary: 'Get balances and margin of the accounts',
    description:
      'Net liquidation, cash, buying power, equity with loan, initial and maintenance margin, available funds and excess liquidity, in the base currency; for one account or all managed accounts.',
    path: 'summary',
    input: AccountInput,
    output: AccountSummary,
    safety: READ_ONLY,
  })
  async summary(
    @Input(AccountInput) input: z.infer<typeof AccountInput>,
  ): Promise<z.infer<typeof AccountSummary>> {
    return (await this.account(input)).summary(input.account);
  }

  @Operation({
    name: 'get_positions',
    summary: 'Get the positions with market value and PnL',
    description:
      'Every open position (quantity, average cost) with its mark price, market value, unrealized and realized PnL in the currency of the instrument; for one account or all managed accounts.',
    path: 'positions',
    input: AccountInput,
    output: Positions,
    safety: READ_ONLY,
  })
  async positions(
    @Input(AccountInput) input: z.infer<typeof AccountInput>,
  ): Promise<z.infer<typeof Positions>> {
    return (await this.account(input)).positions(input.account);
  }

  @Operation({
    name: 'get_pnl',
    summary: "Get the accounts' daily, unrealized and realized PnL",
    description:
      'PnL of the trading day, unrealized PnL and PnL realized today, in the base currency of the account.',
    path: 'pnl',
    input: AccountInput,
    output: AccountPnl,
    safety: READ_ONLY,
  })
  async pnl(@Input(AccountInput) input: z.infer<typeof AccountInput>): Promise<z.infer<typeof AccountPnl>> {
    return (await this.account(input)).pnl(input.account);
  }

  @Operation({
    name: 'get_position_pnl',
    summary: "Get one position's daily, unrealized and realized PnL",
    description:
      'PnL of one contract (by symbol or conId) in one account or each managed account: position, daily, unrealized and realized PnL and market value, in the base currency. PnL is null for a contract never held.',
    path: 'position-pnl',
    input: PositionPnlInput,
    output: PositionPnl,
    safety: READ_ONLY,
  })
  async positionPnl(
    @Input(PositionPnlInput) input: z.infer<typeof PositionPnlInput>,
  ): Promise<z.infer<typeof PositionPnl>> {
    return (await this.account(input)).positionPnl(input);
  }

  @Operation({
    name: 'get_account_values',
    summary: 'Get every account value IB keeps, by tag and currency',
    description:
      "All of IB's account values (reqAccountUpdates: cash per currency, margin, buying power, PnL, settings; about 150 tags), each per currency, with IB's text and the number it holds; optionally only some tags or one currency. IB refreshes them every few minutes: updatedAt says when it last did. get_account_summary has the 13 most used ones.",
    path: 'values',
    input: AccountValuesInput,
    output: AccountValues,
    safety: READ_ONLY,
  })
  async values(
    @Input(AccountValuesInput) input: z.infer<typeof AccountValuesInput>,
  ): Promise<z.infer<typeof AccountValues>> {
    return (await this.account(input)).accountValues(input);
  }

  @Operation({
    name: 'get_executions',
    summary: "Get today's executions",
    description:
      "Today's fills with their commissions and realized PnL, optionally only one account, symbol, security type, side, or a time window (since, until).",
    path: 'executions',
    input: ExecutionsInput,
    output: Executions,
    safety: READ_ONLY,
  })
  async executions(
    @Input(ExecutionsInput) input: z.infer<typeof ExecutionsInput>,
  ): Promise<z.infer<typeof Executions>> {
    return (await this.account(input)).executions(input);
  }
}
