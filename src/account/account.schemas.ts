import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';
import {
  ContractSchema,
  contractQueryShape,
  requireSymbolOrConId,
  SecTypeSchema,
} from '../contracts/contracts.schemas';

const accountField = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .regex(/^[A-Za-z0-9]+$/, 'must be an IB account id such as DU1234567');

export const AccountInput = z.strictObject({
  account: accountField
    .optional()
    .describe('IB account id (see get_managed_accounts); default: every managed account'),
  ...gatewayArgument,
});

/** A money amount IB did not report (or reported as "unset") is null rather than a made-up 0. */
const amount = (description: string) => z.number().nullable().describe(description);

/** How fresh an account answer is: from a subscription the service holds, or asked of IB for this answer. */
export const Freshness = z
  .object({
    source: z
      .enum(['live', 'request'])
      .describe(
        "live: answered from IB's streaming subscription that the service holds (no message to IB); request: IB was asked for this answer",
      ),
    asOf: z
      .string()
      .nullable()
      .describe(
        "live: when IB last pushed a change to the data used, or its first full picture on this session (ISO 8601; the oldest part when several); the data is current as of IB's latest push while the subscription holds. request: when IB was asked. Null when unknown",
      ),
    note: z.string().optional().describe('What the data came from and how often IB refreshes it'),
  })
  .describe(
    'How fresh the answer is. IB pushes account values and the account summary only every few minutes (about 3 minutes for reqAccountUpdates), positions and PnL as they change: a live answer is current as of its last push, which may be minutes old for account values',
  );

const freshness = { freshness: Freshness.optional() };

export const ManagedAccounts = z.object({
  accounts: z
    .array(
      z.object({
        account: z.string().describe('IB account id'),
        paper: z.boolean().describe('True for a paper-trading account (IB ids starting with DU)'),
      }),
    )
    .describe('Accounts the logged-in user manages'),
});

export const AccountSummaryEntry = z.object({
  account: z.string(),
  currency: z.string().describe('Currency of the amounts: the base currency of the account'),
  netLiquidation: amount('Net liquidation value'),
  totalCash: amount('Total cash value'),
  settledCash: amount('Settled cash'),
  buyingPower: amount('Buying power'),
  equityWithLoan: amount('Equity with loan value'),
  grossPositionValue: amount('Gross position value'),
  initMargin: amount('Initial margin requirement'),
  maintMargin: amount('Maintenance margin requirement'),
  availableFunds: amount('Available funds'),
  excessLiquidity: amount('Excess liquidity'),
  cushion: z.number().nullable().describe('Excess liquidity as a fraction of net liquidation'),
  leverage: z.number().nullable().describe('Gross position value / net liquidation'),
});

export const AccountSummary = z.object({ accounts: z.array(AccountSummaryEntry), ...freshness });

export const PositionEntry = ContractSchema.extend({
  account: z.string(),
  position: z.number().describe('Quantity held; negative for a short'),
  averageCost: z.number().describe("IB's average cost per unit (multiplier and commissions included)"),
  marketPrice: amount('Mark price per unit'),
  marketValue: amount('Market value of the position'),
  unrealizedPnl: amount('Unrealized PnL'),
  realizedPnl: amount('Realized PnL of the position'),
});

export const Positions = z.object({ positions: z.array(PositionEntry), ...freshness });

export const AccountPnlEntry = z.object({
  account: z.string(),
  dailyPnl: amount('PnL since the start of the trading day'),
  unrealizedPnl: amount('Unrealized PnL of all positions'),
  realizedPnl: amount('PnL realized today'),
});

export const AccountPnl = z.object({ accounts: z.array(AccountPnlEntry), ...freshness });

export const PositionPnlInput = z
  .strictObject({
    account: accountField
      .optional()
      .describe('IB account id; default: every managed account (one entry each)'),
    ...contractQueryShape,
    ...gatewayArgument,
  })
  .superRefine(requireSymbolOrConId);

export const PositionPnlEntry = z.object({
  account: z.string(),
  conId: z.number().int(),
  symbol: z.string(),
  position: z.number().describe('Quantity held; 0 when the account does not hold it'),
  dailyPnl: amount("Today's PnL of the position (null when never held)"),
  unrealizedPnl: amount('Unrealized PnL (null when never held)'),
  realizedPnl: amount('PnL realized today (null when never held)'),
  marketValue: amount('Market value of the position'),
});

export const PositionPnl = z.object({ positions: z.array(PositionPnlEntry) });

export const AccountValuesInput = z.strictObject({
  account: accountField
    .optional()
    .describe('IB account id (see get_managed_accounts); default: every managed account'),
  tags: z
    .string()
    .trim()
    .regex(
      /^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$/,
      'must be tag names separated by commas, e.g. CashBalance,NetLiquidation',
    )
    .optional()
    .describe(
      'Only these tags, comma-separated (e.g. CashBalance,NetLiquidation,BuyingPower); default: every tag',
    ),
  currency: z
    .string()
    .trim()
    .regex(/^([A-Z]{3}|BASE)$/, 'must be a currency code such as USD, or BASE')
    .optional()
    .describe('Only values in this currency (BASE: the account total in its base currency)'),
  ...gatewayArgument,
});

export const AccountValues = z.object({
  accounts: z.array(
    z.object({
      account: z.string(),
      updatedAt: z
        .string()
        .nullable()
        .describe(
          "IB's time of its last account update (HH:mm, the gateway's time zone); IB refreshes these values every few minutes",
        ),
      values: z
        .array(
          z.object({
            tag: z
              .string()
              .describe("IB's tag, e.g. NetLiquidation, CashBalance, BuyingPower, UnrealizedPnL"),
            currency: z
              .string()
              .describe(
                'The currency of the value; BASE for the total in the base currency; empty for values without one',
              ),
            value: z.string().describe('The value as IB wrote it'),
            number: z.number().nullable().describe('The value as a number, when it is one'),
          }),
        )
        .describe('Every value IB keeps for the account (reqAccountUpdates), sorted by tag and currency'),
      ...freshness,
    }),
  ),
  ...freshness,
});

export const ExecutionsInput = z.strictObject({
  account: accountField.optional().describe('Only executions of this account'),
  symbol: z.string().trim().min(1).max(32).optional().describe('Only executions of this symbol'),
  secType: SecTypeSchema.optional().describe('Only executions of this security type'),
  side: z.enum(['BUY', 'SELL']).optional().describe('Only buys or only sells'),
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Only executions at or after this time (ISO 8601, e.g. 2026-01-02T14:30:00Z)'),
  until: z.iso.datetime({ offset: true }).optional().describe('Only executions before this time (ISO 8601)'),
  ...gatewayArgument,
});

export const ExecutionEntry = z.object({
  execId: z.string(),
  orderId: z.number().int(),
  permId: z.number().int(),
  clientId: z.number().int().describe('API client that placed the order'),
  account: z.string(),
  time: z.string().describe('Execution time, ISO 8601 UTC'),
  side: z.enum(['BUY', 'SELL']),
  shares: z.number(),
  price: z.number(),
  cumulativeQuantity: z.number().describe("The order's filled quantity after this execution"),
  averagePrice: z.number().describe("The order's average fill price after this execution"),
  exchange: z.string(),
  orderRef: z
    .string()
    .optional()
    .describe("The order's reference (the idempotency key of orders placed here)"),
  conId: z.number().int(),
  symbol: z.string(),
  secType: z.string(),
  currency: z.string(),
  localSymbol: z.string().optional(),
  commission: amount('Commission of this execution'),
  commissionCurrency: z.string().nullable(),
  realizedPnl: amount('PnL realized by this execution (null for an opening one)'),
});

export const Executions = z.object({
  executions: z
    .array(ExecutionEntry)
    .describe("Today's executions (IB keeps them for the day), oldest first"),
});
