import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import {
  GetHeadTimestampInput,
  GetHistogramInput,
  GetHistoricalBarsInput,
  GetHistoricalTicksInput,
  GetQuoteInput,
  HeadTimestamp,
  Histogram,
  HistoricalBars,
  HistoricalTicks,
  MAX_HISTORICAL_TICKS,
  MAX_STREAM_SYMBOLS,
  Quote,
} from './market-data.schemas';
import { MarketDataService } from './market-data.service';

/** Reads IB's market data; nothing changes anywhere. */
const READ_ONLY = { readOnly: true, destructive: false, idempotent: true, openWorld: false } as const;

@ApiTags('market-data')
@McpController('market-data')
export class MarketDataController {
  constructor(private readonly router: GatewayRouter) {}

  /** Market data comes from the gateway for data unless one is named. */
  private marketData(input: GatewayChoice): MarketDataService {
    return this.router.forData(input).get(MarketDataService);
  }

  @Operation({
    name: 'get_quote',
    summary: 'Get a quote',
    description:
      'Bid, ask, last, their sizes, volume, open/high/low/close of a contract named by symbol or conId, ' +
      'with dataType saying how IB labelled the data (real-time, frozen, delayed, delayed-frozen). ' +
      'Answered from the live stream when the contract streams (GET /market-data/stream), else by a ' +
      'snapshot request to IB. No market data subscription: 403 saying so (and whether ' +
      'marketDataType=delayed would work). Unknown contract: 404 naming the symbol. ' +
      `Streaming quotes for up to ${MAX_STREAM_SYMBOLS} symbols: GET /market-data/stream (server-sent events, REST only).`,
    path: 'quote',
    input: GetQuoteInput,
    output: Quote,
    safety: READ_ONLY,
  })
  async getQuote(@Input(GetQuoteInput) input: GetQuoteInput): Promise<Quote> {
    return this.marketData(input).getQuote(input);
  }

  @Operation({
    name: 'get_historical_bars',
    summary: 'Get historical bars',
    description:
      'OHLC bars with volume, WAP and trade count for a contract named by symbol or conId: a duration ' +
      'back from the end (default now), a bar size, what the bars show, regular hours only or not. ' +
      "IB's historical pacing rules are kept for all callers together: an identical request within 15 s " +
      'gets the first answer again, a request that would break a rule waits up to 10 s for its turn, ' +
      'and beyond that is refused with 429 and retryAfterSeconds.',
    path: 'bars',
    input: GetHistoricalBarsInput,
    output: HistoricalBars,
    safety: READ_ONLY,
  })
  async getHistoricalBars(
    @Input(GetHistoricalBarsInput) input: GetHistoricalBarsInput,
  ): Promise<HistoricalBars> {
    return this.marketData(input).getHistoricalBars(input);
  }

  @Operation({
    name: 'get_head_timestamp',
    summary: 'Get the earliest data time',
    description:
      'The earliest time IB has historical data of a kind (trades, midpoint, bid, ask, bid/ask) for a ' +
      'contract named by symbol or conId, within regular hours or not (reqHeadTimestamp): where bars and ' +
      'ticks can start. Kept an hour; inside the same historical pacing as bars. No such data (e.g. TRADES ' +
      'for FX): 404; no subscription: 403; unknown contract: 404.',
    path: 'head-timestamp',
    input: GetHeadTimestampInput,
    output: HeadTimestamp,
    safety: READ_ONLY,
  })
  async getHeadTimestamp(@Input(GetHeadTimestampInput) input: GetHeadTimestampInput): Promise<HeadTimestamp> {
    return this.marketData(input).getHeadTimestamp(input);
  }

  @Operation({
    name: 'get_historical_ticks',
    summary: 'Get historical ticks (Time & Sales)',
    description:
      'Tick-by-tick history of a contract named by symbol or conId (reqHistoricalTicks): TRADES (each ' +
      'trade with price, size, exchange, conditions and attributes), BID_ASK (top-of-book quotes) or ' +
      `MIDPOINT; the first \`count\` (at most ${MAX_HISTORICAL_TICKS}) from \`start\`, or the last ones ` +
      'before `end` (default now); start and end together are refused with 400 before IB is asked. Like ' +
      'IB, never ticks of two sessions at once: page on with the last tick time. Inside the same ' +
      'historical pacing as bars.',
    path: 'ticks',
    input: GetHistoricalTicksInput,
    output: HistoricalTicks,
    safety: READ_ONLY,
  })
  async getHistoricalTicks(
    @Input(GetHistoricalTicksInput) input: GetHistoricalTicksInput,
  ): Promise<HistoricalTicks> {
    return this.marketData(input).getHistoricalTicks(input);
  }

  @Operation({
    name: 'get_histogram',
    summary: 'Get a price histogram',
    description:
      'How many trades printed at each price level of a contract named by symbol or conId over a period ' +
      'back from now, e.g. "3 days" (the last three sessions) or "1 week", within regular hours or not ' +
      '(reqHistogramData). Buckets lowest price first. Inside the same historical pacing as bars.',
    path: 'histogram',
    input: GetHistogramInput,
    output: Histogram,
    safety: READ_ONLY,
  })
  async getHistogram(@Input(GetHistogramInput) input: GetHistogramInput): Promise<Histogram> {
    return this.marketData(input).getHistogram(input);
  }
}
