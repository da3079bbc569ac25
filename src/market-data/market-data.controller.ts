import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import {
  GetHistoricalBarsInput,
  GetQuoteInput,
  HistoricalBars,
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
}
