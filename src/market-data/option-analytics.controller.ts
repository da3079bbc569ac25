import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import { OptionAnalyticsService } from './option-analytics.service';
import {
  CalculateImpliedVolatilityInput,
  CalculateOptionPriceInput,
  GetOptionChainQuotesInput,
  GetOptionQuoteInput,
  MAX_CHAIN_QUOTES,
  OptionCalculation,
  OptionChainQuotes,
  OptionQuote,
} from './option-quotes.schemas';

/** Reads IB's option data and model; nothing changes anywhere. */
const READ_ONLY = { readOnly: true, destructive: false, idempotent: true, openWorld: false } as const;

const NAMING =
  'The option is named by conId, or by underlying symbol, expiry (YYYYMMDD), strike and right. Unknown ' +
  'option: 404; expired option: 404 saying it expired; not an option: 400.';

@ApiTags('market-data')
@McpController('market-data')
export class OptionAnalyticsController {
  constructor(private readonly router: GatewayRouter) {}

  /** Option data comes from the gateway for data unless one is named. */
  private marketData(input: GatewayChoice): OptionAnalyticsService {
    return this.router.forData(input).get(OptionAnalyticsService);
  }

  @Operation({
    name: 'get_option_quote',
    summary: 'Get an option quote with greeks',
    description:
      "An option's bid, ask, last and IB's model price, and per source (bid, ask, last, model) IB's implied " +
      'volatility, delta, gamma, vega, theta, option and underlying price; its volume and open interest; ' +
      'dataType says how IB labelled the data. From the live stream when the option streams, else from a ' +
      `short-lived stream (IB sends greeks and open interest on streams only). ${NAMING}`,
    path: 'options/quote',
    input: GetOptionQuoteInput,
    output: OptionQuote,
    safety: READ_ONLY,
  })
  async getOptionQuote(@Input(GetOptionQuoteInput) input: GetOptionQuoteInput): Promise<OptionQuote> {
    return this.marketData(input).getOptionQuote(input);
  }

  @Operation({
    name: 'get_option_chain_quotes',
    summary: 'Get option quotes of a filtered chain',
    description:
      'Option quotes (as get_option_quote) for an underlying: one expiry or the nearest N, strikes by range ' +
      '(strikeMin/strikeMax) or by count around the underlying price (default 5), calls, puts or both. At most ' +
      `${MAX_CHAIN_QUOTES} options per call (more: 400 saying how many were named). Requests are paced within ` +
      "IB's message rate and market data lines, and live streams of this service are reused.",
    path: 'options/chain-quotes',
    input: GetOptionChainQuotesInput,
    output: OptionChainQuotes,
    safety: READ_ONLY,
  })
  async getOptionChainQuotes(
    @Input(GetOptionChainQuotesInput) input: GetOptionChainQuotesInput,
  ): Promise<OptionChainQuotes> {
    return this.marketData(input).getOptionChainQuotes(input);
  }

  @Operation({
    name: 'calculate_option_price',
    summary: "Calculate an option's price",
    description:
      "IB's model price and greeks of an option for a volatility and underlying price you give " +
      `(IB's calculateOptionPrice). ${NAMING}`,
    path: 'options/calculate-price',
    input: CalculateOptionPriceInput,
    output: OptionCalculation,
    safety: READ_ONLY,
  })
  async calculateOptionPrice(
    @Input(CalculateOptionPriceInput) input: CalculateOptionPriceInput,
  ): Promise<OptionCalculation> {
    return this.marketData(input).calculateOptionPrice(input);
  }

  @Operation({
    name: 'calculate_implied_volatility',
    summary: "Calculate an option's implied volatility",
    description:
      "IB's implied volatility and greeks of an option for an option price and underlying price you give " +
      `(IB's calculateImpliedVolatility). ${NAMING}`,
    path: 'options/calculate-implied-volatility',
    input: CalculateImpliedVolatilityInput,
    output: OptionCalculation,
    safety: READ_ONLY,
  })
  async calculateImpliedVolatility(
    @Input(CalculateImpliedVolatilityInput) input: CalculateImpliedVolatilityInput,
  ): Promise<OptionCalculation> {
    return this.marketData(input).calculateImpliedVolatility(input);
  }
}
