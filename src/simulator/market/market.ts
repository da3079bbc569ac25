// STUB: replaced by the market implementation.
import type { SimulatorClock } from '../control/simulator-clock';
import type { WireContract } from '../protocol/field-reader';
import type { Instrument, PriceBar, Quote } from './instrument';

export class Market {
  constructor(readonly options: { seed: number; clock: SimulatorClock }) {}
  instruments(): readonly Instrument[] {
    return [];
  }
  instrument(_conId: number): Instrument | undefined {
    return undefined;
  }
  resolve(_contract: WireContract): Instrument[] {
    return [];
  }
  quote(_conId: number, _atMs?: number): Quote {
    throw new Error('not implemented');
  }
  isTrading(_conId: number, _atMs?: number): boolean {
    return false;
  }
  bars(_conId: number, _startMs: number, _endMs: number, _barMs: number): PriceBar[] {
    return [];
  }
}
