import { z } from 'zod';
import { gatewayArgument } from '../common/gateway-argument';
import { contractQueryShape } from '../contracts/contracts.schemas';
import { MarketDataTypeSchema } from './market-data.schemas';

/** Most option contracts one get_option_chain_quotes call quotes. */
export const MAX_CHAIN_QUOTES = 60;
/** Most expiries one chain call spans. */
export const MAX_CHAIN_EXPIRIES = 6;

const requestedType = MarketDataTypeSchema.default('real-time').describe(
  'Market data type to ask IB for: real-time (default; needs a subscription), frozen, delayed or delayed-frozen',
);

/** An option named by conId, or by underlying symbol + expiry + strike + right. */
const optionShape = {
  symbol: contractQueryShape.symbol.describe(
    'Symbol of the underlying, e.g. "AAPL" (with expiry, strike, right)',
  ),
  conId: contractQueryShape.conId.describe("IB's contract id of the option; identifies it on its own"),
  expiry: z
    .string()
    .regex(/^\d{8}$/, 'must be YYYYMMDD')
    .optional()
    .describe('Expiration YYYYMMDD (see get_option_expirations_strikes)'),
  strike: contractQueryShape.strike,
  right: contractQueryShape.right,
  exchange: contractQueryShape.exchange.describe('Exchange of the option; default SMART'),
  currency: contractQueryShape.currency,
};

function requireOption(
  value: { conId?: number; symbol?: string; expiry?: string; strike?: number; right?: string },
  context: z.RefinementCtx,
): void {
  if (value.conId !== undefined) return;
  for (const field of ['symbol', 'expiry', 'strike', 'right'] as const) {
    if (value[field] === undefined) {
      context.addIssue({
        code: 'custom',
        path: [field],
        message: 'name the option by conId, or by symbol, expiry, strike and right',
      });
    }
  }
}

export const GetOptionQuoteInput = z
  .strictObject({ ...optionShape, marketDataType: requestedType, ...gatewayArgument })
  .superRefine(requireOption);
export type GetOptionQuoteInput = z.infer<typeof GetOptionQuoteInput>;

const nullableNumber = (what: string) =>
  z.number().nullable().describe(`${what}; null when IB sent none (or its "not computed" marker)`);

export const OptionComputationSchema = z.object({
  impliedVolatility: nullableNumber('Implied volatility (0.25 = 25 %)'),
  delta: nullableNumber('Delta'),
  gamma: nullableNumber('Gamma'),
  vega: nullableNumber('Vega: price change per volatility point'),
  theta: nullableNumber('Theta: price change per calendar day'),
  optionPrice: nullableNumber('The option price the values are for'),
  underlyingPrice: nullableNumber('The underlying price the values are for'),
});
export type OptionComputationValues = z.infer<typeof OptionComputationSchema>;

export const OPTION_SOURCES = ['bid', 'ask', 'last', 'model'] as const;

export const OptionQuote = z.object({
  symbol: z.string().describe('Symbol of the underlying'),
  conId: z.number().int().describe("IB's contract id of the option"),
  localSymbol: z.string().describe("The option's OCC symbol"),
  expiry: z.string().describe('Expiration YYYYMMDD'),
  strike: z.number(),
  right: z.enum(['C', 'P']),
  multiplier: z.number().nullable().describe('Contract multiplier (100 for equity options)'),
  exchange: z.string(),
  currency: z.string(),
  dataType: MarketDataTypeSchema.describe(
    'How IB labelled this data: real-time, frozen, delayed (15-20 minutes late) or delayed-frozen',
  ),
  source: z
    .enum(['stream', 'short-lived stream'])
    .describe(
      'stream: taken from a live subscription of this service; short-lived stream: subscribed for this answer ' +
        '(IB sends greeks, open interest and option volume on streams only)',
    ),
  bid: nullableNumber('Best bid'),
  ask: nullableNumber('Best ask'),
  last: nullableNumber('Last trade price'),
  model: nullableNumber("IB's model price"),
  bidSize: nullableNumber('Size at the bid'),
  askSize: nullableNumber('Size at the ask'),
  underlyingPrice: nullableNumber('Underlying price IB computed with'),
  computations: z
    .object({
      bid: OptionComputationSchema.nullable(),
      ask: OptionComputationSchema.nullable(),
      last: OptionComputationSchema.nullable(),
      model: OptionComputationSchema.nullable(),
    })
    .describe(
      "IB's option computations per source (its ticks 10/11/12/13, delayed 80-83): implied volatility and " +
        'greeks from the bid, ask, last and model price; null for a source IB sent none for',
    ),
  optionVolume: nullableNumber("Today's volume of the option"),
  openInterest: nullableNumber('Open interest of the option (generic tick 101)'),
  timestamp: z.string().describe('When the service received the newest of these values (ISO 8601)'),
});
export type OptionQuote = z.infer<typeof OptionQuote>;

export const GetOptionChainQuotesInput = z
  .strictObject({
    symbol: contractQueryShape.symbol.describe('Symbol of the underlying, e.g. "AAPL"'),
    conId: contractQueryShape.conId.describe('conId of the underlying'),
    expiry: z
      .string()
      .regex(/^\d{8}$/, 'must be YYYYMMDD')
      .optional()
      .describe('One expiration YYYYMMDD; default the nearest `expiries`'),
    expiries: z
      .number()
      .int()
      .min(1)
      .max(MAX_CHAIN_EXPIRIES)
      .default(1)
      .describe(`Without expiry: how many of the nearest expirations (max ${MAX_CHAIN_EXPIRIES})`),
    strikeMin: z.number().positive().optional().describe('Lowest strike (with strikeMax: a strike range)'),
    strikeMax: z.number().positive().optional().describe('Highest strike'),
    strikes: z
      .number()
      .int()
      .min(1)
      .max(MAX_CHAIN_QUOTES)
      .optional()
      .describe('Without a range: this many strikes nearest the underlying price (default 5)'),
    right: z.enum(['C', 'P', 'both']).default('both').describe('Calls (C), puts (P) or both (default)'),
    marketDataType: requestedType,
    ...gatewayArgument,
  })
  .superRefine((value, context) => {
    if (value.symbol === undefined && value.conId === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['symbol'],
        message: 'name the underlying by symbol or conId',
      });
    }
    const range = value.strikeMin !== undefined || value.strikeMax !== undefined;
    if (range && value.strikes !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['strikes'],
        message: 'give either a strike range (strikeMin/strikeMax) or a strike count, not both',
      });
    }
    if (value.strikeMin !== undefined && value.strikeMax !== undefined && value.strikeMin > value.strikeMax) {
      context.addIssue({ code: 'custom', path: ['strikeMin'], message: 'must not exceed strikeMax' });
    }
  });
export type GetOptionChainQuotesInput = z.infer<typeof GetOptionChainQuotesInput>;

export const OptionChainQuotes = z.object({
  symbol: z.string().describe('Symbol of the underlying'),
  underlyingConId: z.number().int(),
  underlyingPrice: z.number().nullable().describe('Underlying price the strikes were centred on'),
  expirations: z.array(z.string()).describe('Expirations quoted, YYYYMMDD'),
  quotes: z.array(OptionQuote).describe('One quote per option, by expiry, strike, right'),
});
export type OptionChainQuotes = z.infer<typeof OptionChainQuotes>;

export const CalculateOptionPriceInput = z
  .strictObject({
    ...optionShape,
    volatility: z.number().positive().max(10).describe('Volatility to price with (0.25 = 25 %)'),
    underlyingPrice: z.number().positive().describe('Underlying price to price with'),
    ...gatewayArgument,
  })
  .superRefine(requireOption);
export type CalculateOptionPriceInput = z.infer<typeof CalculateOptionPriceInput>;

export const CalculateImpliedVolatilityInput = z
  .strictObject({
    ...optionShape,
    optionPrice: z.number().positive().describe('Option price to find the volatility of'),
    underlyingPrice: z.number().positive().describe('Underlying price to compute with'),
    ...gatewayArgument,
  })
  .superRefine(requireOption);
export type CalculateImpliedVolatilityInput = z.infer<typeof CalculateImpliedVolatilityInput>;

export const OptionCalculation = z.object({
  symbol: z.string().describe('Symbol of the underlying'),
  conId: z.number().int().describe("IB's contract id of the option"),
  localSymbol: z.string(),
  ...OptionComputationSchema.shape,
});
export type OptionCalculation = z.infer<typeof OptionCalculation>;
