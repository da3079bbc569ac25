// STUB: replaced by the market implementation.
import type { SimulatorContext } from '../simulator-context';
import type { Market } from './market';

export interface MarketHandlers {
  activeSubscriptions(): number;
  pacingViolations(): number;
  dispose(): void;
}

export function registerMarketHandlers(_context: SimulatorContext, _market: Market): MarketHandlers {
  return { activeSubscriptions: () => 0, pacingViolations: () => 0, dispose: () => undefined };
}
