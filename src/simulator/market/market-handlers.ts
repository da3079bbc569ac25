import type { SimulatorContext } from '../simulator-context';
import { registerContractHandlers } from './contract-handlers';
import { HistoricalDataService, type HistoricalDataOptions } from './historical-data';
import { HistoricalQueries } from './historical-queries';
import type { Market } from './market';
import { MarketDataFeed, type MarketDataFeedOptions } from './market-data-feed';
import { registerMarketRuleHandler } from './market-rules';
import { registerOptionCalculations } from './option-calculations';
import { registerScannerHandlers } from './scanner';

export interface MarketHandlers {
  /** Live market data streams over all clients. */
  activeSubscriptions(): number;
  /** Historical data requests refused for pacing (162). */
  pacingViolations(): number;
  dispose(): void;
}

export type MarketHandlerOptions = MarketDataFeedOptions & HistoricalDataOptions;

/** Everything the simulator answers about instruments: contracts, scanner, quotes and bars. */
export function registerMarketHandlers(
  context: SimulatorContext,
  market: Market,
  options: MarketHandlerOptions = {},
): MarketHandlers {
  registerContractHandlers(context, market);
  registerOptionCalculations(context, market);
  registerMarketRuleHandler(context);
  const scanner = registerScannerHandlers(context, market);
  const feed = new MarketDataFeed(context, market, options);
  feed.register();
  const historical = new HistoricalDataService(context, market, options);
  historical.register();
  const queries = new HistoricalQueries(context, market);
  queries.register();
  return {
    activeSubscriptions: () => feed.activeSubscriptions(),
    pacingViolations: () => historical.pacingViolations() + queries.pacingViolations(),
    dispose: () => {
      scanner.dispose();
      feed.dispose();
      historical.dispose();
    },
  };
}
