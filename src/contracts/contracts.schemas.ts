import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';

/** IB security types a caller may name; ETF is accepted as the STK it is at IB. */
export const SEC_TYPES = [
  'STK',
  'OPT',
  'FUT',
  'FOP',
  'CASH',
  'IND',
  'CFD',
  'BOND',
  'CMDTY',
  'FUND',
  'WAR',
  'CRYPTO',
  'ETF',
] as const;
export const SecTypeSchema = z.enum(SEC_TYPES).transform((secType) => (secType === 'ETF' ? 'STK' : secType));

/**
 * How a caller names a contract. Spread it into an operation's input (`...contractQueryShape`); the
 * "symbol or conId" rule is checked by `requireSymbolOrConId` (as a refinement) and again by
 * ContractsService.resolveContract, so an input without the refinement still gets the same 400.
 */
export const contractQueryShape = {
  symbol: z
    .string()
    .trim()
    .min(1)
    .max(32)
    .optional()
    .describe('Ticker symbol, e.g. "AAPL"; a currency pair as "EUR.USD". Either symbol or conId is required'),
  conId: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("IB's contract id; identifies the contract on its own (symbol and the rest are then ignored)"),
  secType: SecTypeSchema.optional().describe(
    'Security type; default STK (ETF means STK, as at IB), or CASH when the symbol looks like a currency pair (EUR.USD)',
  ),
  exchange: z
    .string()
    .trim()
    .min(1)
    .max(20)
    .regex(/^[A-Za-z0-9._-]+$/, 'must be an exchange code such as SMART, NASDAQ or CME')
    .optional()
    .describe(
      'Exchange; default SMART for stocks and options, IDEALPRO for CASH, any exchange for the other types',
    ),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be a 3-letter currency code')
    .optional()
    .describe("Currency; default USD (for a currency pair, the pair's second currency)"),
  expiry: z
    .string()
    .regex(/^\d{6}(\d{2})?$/, 'must be YYYYMMDD (or the contract month YYYYMM)')
    .optional()
    .describe('Expiry of an option or future as YYYYMMDD, or its contract month as YYYYMM'),
  strike: z.number().positive().optional().describe('Strike price of an option'),
  right: z.enum(['C', 'P']).optional().describe('Option right: C (call) or P (put)'),
};

export type ContractQuery = z.infer<z.ZodObject<typeof contractQueryShape>>;

/** The message both the refinement and the service give when a query names no contract. */
export const SYMBOL_OR_CONID_REQUIRED = 'either symbol or conId is required';

/** Refinement for inputs that spread contractQueryShape: reports the missing symbol on the symbol field. */
export function requireSymbolOrConId(
  value: { symbol?: string | undefined; conId?: number | undefined },
  context: z.RefinementCtx,
): void {
  if (value.symbol === undefined && value.conId === undefined) {
    context.addIssue({ code: 'custom', path: ['symbol'], message: SYMBOL_OR_CONID_REQUIRED });
  }
}

export const ContractQueryInput = z
  .strictObject({ ...contractQueryShape, ...gatewayArgument })
  .superRefine(requireSymbolOrConId);
/** The same schema under the name other modules use for "how a caller names a contract". */
export const ContractQuery = ContractQueryInput;

// ---- Outputs ----

export const ContractSchema = z.object({
  conId: z.number().int().describe("IB's contract id"),
  symbol: z.string().describe('Symbol (for a currency pair, its first currency)'),
  secType: z.string().describe('Security type'),
  exchange: z.string().describe('Exchange the contract was qualified on'),
  primaryExchange: z.string().optional().describe('Listing exchange of a stock'),
  currency: z.string().describe('Currency'),
  localSymbol: z.string().optional().describe("The exchange's symbol, e.g. the OCC symbol of an option"),
  tradingClass: z.string().optional().describe('Trading class'),
  expiry: z.string().optional().describe('Last trading day (YYYYMMDD) of an option or future'),
  strike: z.number().optional().describe('Strike of an option'),
  right: z.enum(['C', 'P']).optional().describe('Right of an option: C or P'),
  multiplier: z.number().optional().describe('Contract multiplier (100 for equity options)'),
});

export const ContractDetailsSchema = ContractSchema.extend({
  longName: z.string().optional().describe('Descriptive name'),
  minTick: z.number().optional().describe('Minimum price increment'),
  validExchanges: z.array(z.string()).describe('Exchanges the contract can be routed to'),
  orderTypes: z.array(z.string()).describe('Order types IB accepts for the contract'),
  timeZoneId: z.string().optional().describe('Time zone of the trading hours'),
  tradingHours: z.string().optional().describe("IB's trading hours string (next days)"),
  liquidHours: z.string().optional().describe("IB's regular (liquid) hours string (next days)"),
  industry: z.string().optional(),
  category: z.string().optional(),
  subcategory: z.string().optional(),
  stockType: z.string().optional().describe('COMMON, ETF, ... for stocks'),
  contractMonth: z.string().optional().describe('YYYYMM contract month of a derivative'),
  underlyingConId: z.number().int().optional().describe('conId of the underlying of a derivative'),
  underlyingSymbol: z.string().optional().describe('Symbol of the underlying of a derivative'),
});

export const ContractCandidateSchema = z.object({
  conId: z.number().int().describe('Pass this conId to name the contract exactly'),
  secType: z.string(),
  symbol: z.string(),
  exchange: z.string(),
  primaryExchange: z.string().optional(),
  currency: z.string(),
  description: z.string().describe('What the contract is: name, expiry, strike, right'),
});

export const ContractDetailsResult = z.object({
  match: z
    .enum(['unique', 'ambiguous'])
    .describe('unique: one contract matched (contract is set); ambiguous: several did (candidates)'),
  query: z.string().describe('The query as understood, e.g. "AAPL (STK on SMART in USD)"'),
  contract: ContractDetailsSchema.optional().describe('The qualified contract, when unique'),
  candidates: z
    .array(ContractCandidateSchema)
    .optional()
    .describe('The matching contracts, when ambiguous: call again with one conId'),
  totalCandidates: z.number().int().optional().describe('How many contracts matched, when ambiguous'),
});

export const SearchContractsInput = z.strictObject({
  pattern: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .describe('Start of a symbol or of a word of the company name, e.g. "AAP" or "apple"'),
  secType: SecTypeSchema.optional().describe('Only matches of this security type'),
  ...gatewayArgument,
});

export const SearchContractsResult = z.object({
  matches: z.array(
    ContractCandidateSchema.omit({ description: true }).extend({
      description: z.string().describe('Name of the instrument'),
      derivativeSecTypes: z.array(z.string()).describe('Kinds of derivatives listed on it (OPT, FUT, ...)'),
    }),
  ),
});

export const OptionChainInput = z
  .strictObject({
    ...contractQueryShape,
    exchange: contractQueryShape.exchange.describe(
      'Exchange of the underlying; default SMART for stocks, any for indexes and futures',
    ),
    ...gatewayArgument,
  })
  .superRefine(requireSymbolOrConId);

export const OptionChainResult = z.object({
  underlying: ContractSchema.describe('The qualified underlying'),
  chains: z
    .array(
      z.object({
        exchange: z.string().describe('Exchange the options trade on'),
        tradingClass: z.string(),
        multiplier: z.number(),
        expirations: z.array(z.string()).describe('Expirations, YYYYMMDD, ascending'),
        strikes: z.array(z.number()).describe('Strikes, ascending'),
      }),
    )
    .describe('One entry per exchange and trading class; empty when the underlying has no options'),
});

export const MAX_OPTION_CONTRACTS = 200;

export const OptionContractsInput = z
  .strictObject({
    symbol: contractQueryShape.symbol.describe('Symbol of the underlying, e.g. "AAPL"'),
    conId: contractQueryShape.conId.describe('conId of the underlying'),
    secType: SecTypeSchema.optional().describe('Security type of the underlying; default STK'),
    currency: contractQueryShape.currency,
    exchange: contractQueryShape.exchange.describe('Exchange of the options; default SMART'),
    expiry: z
      .string()
      .regex(/^\d{6}(\d{2})?$/, 'must be YYYYMMDD (or a month YYYYMM)')
      .describe(
        'Expiration YYYYMMDD, or a month YYYYMM for all expirations in it (see get_option_expirations_strikes)',
      ),
    right: z.enum(['C', 'P']).optional().describe('Only calls (C) or puts (P); default both'),
    strikeMin: z.number().positive().optional().describe('Lowest strike to include'),
    strikeMax: z.number().positive().optional().describe('Highest strike to include'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_OPTION_CONTRACTS)
      .default(50)
      .describe(`Most contracts to return (max ${MAX_OPTION_CONTRACTS}), nearest to the middle strike first`),
    ...gatewayArgument,
  })
  .superRefine(requireSymbolOrConId)
  .superRefine((value, context) => {
    if (value.strikeMin !== undefined && value.strikeMax !== undefined && value.strikeMin > value.strikeMax) {
      context.addIssue({ code: 'custom', path: ['strikeMin'], message: 'must not exceed strikeMax' });
    }
  });

export const OptionContractsResult = z.object({
  underlying: ContractSchema,
  contracts: z.array(ContractDetailsSchema).describe('Matching option contracts, by expiry, strike, right'),
  total: z.number().int().describe('How many contracts matched before the limit'),
  truncated: z.boolean().describe('True when more contracts matched than were returned'),
});
