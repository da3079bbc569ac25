import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';
import { contractQueryShape, requireSymbolOrConId } from '../contracts/contracts.schemas';

/** IB's market data types (reqMarketDataType 1-4), by the names this API uses. */
export const MARKET_DATA_TYPES = ['real-time', 'frozen', 'delayed', 'delayed-frozen'] as const;
export const MarketDataTypeSchema = z.enum(MARKET_DATA_TYPES);
export type MarketDataTypeName = z.infer<typeof MarketDataTypeSchema>;

const requestedType = MarketDataTypeSchema.default('real-time').describe(
  'Market data type to ask IB for: real-time (default; needs a subscription), frozen (the last values ' +
    'once the market closed), delayed (real-time when subscribed, else 15-20 minutes late), ' +
    'delayed-frozen (delayed, frozen after the close)',
);

export const GetQuoteInput = z
  .strictObject({ ...contractQueryShape, marketDataType: requestedType, ...gatewayArgument })
  .superRefine(requireSymbolOrConId);
export type GetQuoteInput = z.infer<typeof GetQuoteInput>;

const price = (what: string) => z.number().nullable().describe(`${what}; null when IB sent none`);
const size = (what: string) => z.number().nullable().describe(`${what}; null when IB sent none`);

export const Quote = z.object({
  symbol: z.string().describe('Symbol of the qualified contract'),
  conId: z.number().int().describe("IB's contract id"),
  secType: z.string().describe('Security type'),
  exchange: z.string().describe('Exchange the quote comes from'),
  currency: z.string().describe('Currency of the prices'),
  dataType: MarketDataTypeSchema.describe(
    'How IB labelled this data (its MARKET_DATA_TYPE message): real-time, frozen (last values after ' +
      'the close), delayed (15-20 minutes late) or delayed-frozen',
  ),
  source: z
    .enum(['snapshot', 'stream'])
    .describe('snapshot: a one-time request to IB; stream: taken from a live subscription of this service'),
  bid: price('Best bid'),
  ask: price('Best ask'),
  last: price('Last trade price'),
  bidSize: size('Size at the bid'),
  askSize: size('Size at the ask'),
  lastSize: size('Size of the last trade'),
  volume: size("Today's volume"),
  open: price("Today's open"),
  high: price("Today's high"),
  low: price("Today's low"),
  close: price("Previous session's close"),
  lastTradeTime: z.string().nullable().describe('When the last trade happened (ISO 8601), if IB said'),
  timestamp: z.string().describe('When the service received the newest of these values (ISO 8601)'),
});
export type Quote = z.infer<typeof Quote>;

/** IB's bar sizes (BarSizeSetting). */
export const BAR_SIZES = [
  '1 secs',
  '5 secs',
  '10 secs',
  '15 secs',
  '30 secs',
  '1 min',
  '2 mins',
  '3 mins',
  '5 mins',
  '10 mins',
  '15 mins',
  '20 mins',
  '30 mins',
  '1 hour',
  '2 hours',
  '3 hours',
  '4 hours',
  '8 hours',
  '1 day',
  '1 week',
  '1 month',
] as const;

/** What the bars show; BID_ASK counts twice in IB's pacing. */
export const WHAT_TO_SHOW = [
  'TRADES',
  'MIDPOINT',
  'BID',
  'ASK',
  'BID_ASK',
  'ADJUSTED_LAST',
  'HISTORICAL_VOLATILITY',
  'OPTION_IMPLIED_VOLATILITY',
] as const;

export const GetHistoricalBarsInput = z
  .strictObject({
    ...contractQueryShape,
    duration: z
      .string()
      .trim()
      .regex(
        /^[1-9]\d{0,4} [SDWMY]$/,
        'must be "<count> <unit>" with unit S, D, W, M or Y, e.g. "1 D" or "2 W"',
      )
      .default('1 D')
      .describe('How far back from the end: "<count> <unit>", unit S, D, W, M or Y, e.g. "1 D", "2 W"'),
    barSize: z.enum(BAR_SIZES).default('1 hour').describe('Length of one bar'),
    whatToShow: z
      .enum(WHAT_TO_SHOW)
      .default('TRADES')
      .describe('What the bars show: trades, midpoint, bid, ask, ... (FX has no TRADES)'),
    regularHoursOnly: z
      .boolean()
      .default(true)
      .describe('Only bars within regular trading hours (true, default) or also outside them'),
    end: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('End of the window as an ISO 8601 date-time, e.g. 2026-11-18T21:00:00Z; default now'),
    ...gatewayArgument,
  })
  .superRefine(requireSymbolOrConId);
export type GetHistoricalBarsInput = z.infer<typeof GetHistoricalBarsInput>;

export const Bar = z.object({
  time: z
    .string()
    .describe(
      'Start of the bar: an ISO 8601 instant for intraday bars, the trading date YYYY-MM-DD for longer ones',
    ),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number().nullable().describe('Volume; null for data types without one (MIDPOINT, BID, ...)'),
  wap: z.number().nullable().describe('Volume-weighted average price; null when IB sent none'),
  count: z.number().int().nullable().describe('Number of trades; null when IB sent none'),
});

export const HistoricalBars = z.object({
  symbol: z.string().describe('Symbol of the qualified contract'),
  conId: z.number().int().describe("IB's contract id"),
  duration: z.string(),
  barSize: z.enum(BAR_SIZES),
  whatToShow: z.enum(WHAT_TO_SHOW),
  regularHoursOnly: z.boolean(),
  bars: z.array(Bar).describe('Bars, oldest first'),
});
export type HistoricalBars = z.infer<typeof HistoricalBars>;

/** Query of the server-sent quote stream (REST only). */
export const MAX_STREAM_SYMBOLS = 20;

export const StreamQuotesInput = z
  .strictObject({
    symbols: z
      .string()
      .trim()
      .regex(
        /^[A-Za-z0-9._ -]+(,[A-Za-z0-9._ -]+)*$/,
        'must be a comma-separated list of symbols, e.g. AAPL,MSFT',
      )
      .optional()
      .describe(
        `Comma-separated symbols, e.g. AAPL,MSFT,EUR.USD (at most ${MAX_STREAM_SYMBOLS} symbols and conIds)`,
      ),
    conIds: z
      .string()
      .trim()
      .regex(/^\d+(,\d+)*$/, 'must be a comma-separated list of contract ids')
      .optional()
      .describe('Comma-separated IB contract ids, in addition to the symbols'),
    marketDataType: requestedType,
    ...gatewayArgument,
  })
  .superRefine((value, context) => {
    const count = listOf(value.symbols).length + listOf(value.conIds).length;
    if (count === 0) {
      context.addIssue({ code: 'custom', path: ['symbols'], message: 'name at least one symbol or conId' });
    } else if (count > MAX_STREAM_SYMBOLS) {
      context.addIssue({
        code: 'custom',
        path: ['symbols'],
        message: `at most ${MAX_STREAM_SYMBOLS} symbols and conIds per stream`,
      });
    }
  });
export type StreamQuotesInput = z.infer<typeof StreamQuotesInput>;

export function listOf(commaSeparated: string | undefined): string[] {
  return (commaSeparated ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

// ---- Head timestamp, historical ticks (Time & Sales), histograms ----

const regularHoursOnly = z
  .boolean()
  .default(true)
  .describe('Only data from regular trading hours (true, default) or also from outside them');

/** The data types a head timestamp can be asked for. */
export const HEAD_TIMESTAMP_DATA = ['TRADES', 'MIDPOINT', 'BID', 'ASK', 'BID_ASK'] as const;

export const GetHeadTimestampInput = z
  .strictObject({
    ...contractQueryShape,
    whatToShow: z
      .enum(HEAD_TIMESTAMP_DATA)
      .default('TRADES')
      .describe('Which data: trades (default), midpoint, bid, ask or bid/ask (FX has no TRADES)'),
    regularHoursOnly,
    ...gatewayArgument,
  })
  .superRefine(requireSymbolOrConId);
export type GetHeadTimestampInput = z.infer<typeof GetHeadTimestampInput>;

export const HeadTimestamp = z.object({
  symbol: z.string().describe('Symbol of the qualified contract'),
  conId: z.number().int().describe("IB's contract id"),
  whatToShow: z.enum(HEAD_TIMESTAMP_DATA),
  regularHoursOnly: z.boolean(),
  headTimestamp: z.string().describe('The earliest time IB has this data for (ISO 8601, UTC)'),
});
export type HeadTimestamp = z.infer<typeof HeadTimestamp>;

/** IB's Time & Sales kinds; BID_ASK counts twice in IB's pacing. */
export const TICK_TYPES = ['TRADES', 'BID_ASK', 'MIDPOINT'] as const;
/** IB's limit per reqHistoricalTicks request. */
export const MAX_HISTORICAL_TICKS = 1000;

export const GetHistoricalTicksInput = z
  .strictObject({
    ...contractQueryShape,
    type: z
      .enum(TICK_TYPES)
      .default('TRADES')
      .describe(
        'TRADES (each trade: price, size, exchange), BID_ASK (top of book) or MIDPOINT (FX has no TRADES)',
      ),
    start: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('The first ticks at or after this time (ISO 8601); give start or end, not both'),
    end: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('The last ticks before this time (ISO 8601); default now when no start is given'),
    count: z
      .number()
      .int()
      .min(1)
      .max(MAX_HISTORICAL_TICKS)
      .default(100)
      .describe(
        `How many ticks, at most ${MAX_HISTORICAL_TICKS}; IB never returns ticks of two sessions at once`,
      ),
    regularHoursOnly,
    ...gatewayArgument,
  })
  .superRefine((value, context) => {
    requireSymbolOrConId(value, context);
    if (value.start !== undefined && value.end !== undefined) {
      context.addIssue({ code: 'custom', path: ['end'], message: 'give start or end, not both' });
    }
  });
export type GetHistoricalTicksInput = z.infer<typeof GetHistoricalTicksInput>;

const tickTime = z.string().describe('When (ISO 8601; IB gives whole seconds)');

export const TradeTick = z.object({
  time: tickTime,
  price: z.number().describe('Trade price'),
  size: z.number().nullable().describe('Trade size; null when IB sent none'),
  exchange: z.string().describe('Where the trade printed'),
  specialConditions: z.string().describe("IB's trade condition codes; empty for a regular trade"),
  pastLimit: z.boolean().describe('Tick attribute: the trade was outside the limit-up/limit-down band'),
  unreported: z.boolean().describe('Tick attribute: an unreported trade'),
});
export const BidAskTick = z.object({
  time: tickTime,
  bid: z.number(),
  ask: z.number(),
  bidSize: z.number().nullable(),
  askSize: z.number().nullable(),
  bidPastLow: z.boolean().describe("Tick attribute: the bid is below the day's low"),
  askPastHigh: z.boolean().describe("Tick attribute: the ask is above the day's high"),
});
export const MidpointTick = z.object({
  time: tickTime,
  price: z.number().describe('Midpoint of bid and ask'),
});

export const HistoricalTicks = z.object({
  symbol: z.string().describe('Symbol of the qualified contract'),
  conId: z.number().int().describe("IB's contract id"),
  type: z.enum(TICK_TYPES),
  regularHoursOnly: z.boolean(),
  ticks: z
    .array(z.union([TradeTick, BidAskTick, MidpointTick]))
    .describe('Oldest first; trades for TRADES, bid/ask quotes for BID_ASK, midpoints for MIDPOINT'),
});
export type HistoricalTicks = z.infer<typeof HistoricalTicks>;
export type HistoricalTick = HistoricalTicks['ticks'][number];

export const GetHistogramInput = z
  .strictObject({
    ...contractQueryShape,
    period: z
      .string()
      .trim()
      .regex(
        /^[1-9]\d{0,3} (second|day|week|month|year)s?$/,
        'must be "<count> <unit>" with unit seconds, days, weeks, months or years, e.g. "3 days" or "1 week"',
      )
      .default('1 week')
      .describe('How far back from now, e.g. "3 days" (the last three sessions), "1 week", "1 month"'),
    regularHoursOnly,
    ...gatewayArgument,
  })
  .superRefine(requireSymbolOrConId);
export type GetHistogramInput = z.infer<typeof GetHistogramInput>;

export const Histogram = z.object({
  symbol: z.string().describe('Symbol of the qualified contract'),
  conId: z.number().int().describe("IB's contract id"),
  period: z.string(),
  regularHoursOnly: z.boolean(),
  buckets: z
    .array(
      z.object({
        price: z.number().describe('Price level: the lowest price of the bucket'),
        count: z.number().describe('Trades at this price level in the period'),
      }),
    )
    .describe('Price levels, lowest first'),
});
export type Histogram = z.infer<typeof Histogram>;
