// STUB: replaced by the broker implementation.
import type { Market } from '../market/market';
import type { SimulatorContext } from '../simulator-context';

export class Broker {
  constructor(
    readonly context: SimulatorContext,
    readonly market: Market,
    private readonly options: { nextOrderId: number },
  ) {}
  get nextValidOrderId(): number {
    return this.options.nextOrderId;
  }
  register(): void {}
  dispose(): void {}
}
