import type { Instrument, Quote } from '../market/instrument';
import type { WireContract } from '../protocol/field-reader';
import type { MarketView } from './market-view';
import type { ComboLeg } from './order-ticket';

/** IB's contract id of a combo is 0 on the way in; the simulator gives each set of legs its own, above these. */
const BAG_CON_ID_BASE = 900_000_000;

/** The legs a combo is made of, resolved to the market's instruments. */
export interface ResolvedLeg {
  leg: ComboLeg;
  instrument: Instrument;
  /** +1 for a leg bought when the combo is bought, -1 for one sold. */
  sign: 1 | -1;
}

/** A stable id for one set of legs, so that a saved combo order finds its instrument again after a restart. */
export function bagConId(legs: readonly Pick<ComboLeg, 'conId' | 'ratio' | 'action'>[]): number {
  const text = legs.map((leg) => `${leg.conId}:${leg.ratio}:${leg.action}`).join('|');
  let hash = 2166136261;
  for (const char of text) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return BAG_CON_ID_BASE + (hash % 99_000_000);
}

/**
 * A combo's net quote from its legs' quotes: buying the combo buys the BUY legs at their ask and sells the
 * SELL legs at their bid (net ask), selling it the other way (net bid); the last is the net of the legs' mid
 * prices. Ratios count shares for stock legs and contracts for option legs, as IB's combo legs do. Sizes are
 * how many combo units the legs' touches hold. A leg without a two-sided book leaves the combo unpriced (NaN).
 */
export function netQuote(legs: readonly ResolvedLeg[], quoteOf: (conId: number) => Quote): Quote {
  let bid = 0;
  let ask = 0;
  let mid = 0;
  let bidSize = Infinity;
  let askSize = Infinity;
  let marketOpen = true;
  let time = 0;
  for (const { leg, instrument, sign } of legs) {
    const quote = quoteOf(instrument.conId);
    const twoSided = quote.bid > 0 && quote.ask > 0;
    const ratio = leg.ratio;
    bid += twoSided ? sign * ratio * (sign > 0 ? quote.bid : quote.ask) : NaN;
    ask += twoSided ? sign * ratio * (sign > 0 ? quote.ask : quote.bid) : NaN;
    mid += twoSided ? (sign * ratio * (quote.bid + quote.ask)) / 2 : NaN;
    bidSize = Math.min(bidSize, Math.floor((sign > 0 ? quote.bidSize : quote.askSize) / ratio));
    askSize = Math.min(askSize, Math.floor((sign > 0 ? quote.askSize : quote.bidSize) / ratio));
    marketOpen &&= quote.marketOpen;
    time = Math.max(time, quote.time);
  }
  const round = (value: number) => Number(value.toFixed(6));
  const last = round(mid);
  return {
    bid: round(bid),
    ask: round(ask),
    last,
    bidSize: Number.isFinite(bidSize) ? bidSize : 0,
    askSize: Number.isFinite(askSize) ? askSize : 0,
    lastSize: 0,
    volume: 0,
    open: last,
    high: last,
    low: last,
    close: last,
    time,
    marketOpen,
    lastTime: time,
  };
}

/**
 * The market as the broker sees it once combos exist: the real market, plus one BAG instrument per set of
 * legs an order was placed with. A BAG's quote is its legs' net (netQuote), it trades while all its legs
 * trade, and is in regular hours while all its legs are.
 */
export class ComboMarket implements MarketView {
  private readonly bags = new Map<number, ResolvedLeg[]>();
  private readonly bagInstruments = new Map<number, Instrument>();

  constructor(private readonly market: MarketView) {}

  /** The legs of a BAG contract, each to its instrument; the index of the first unknown leg otherwise. */
  resolveLegs(legs: readonly ComboLeg[]): ResolvedLeg[] | { unknownLeg: number } {
    const resolved: ResolvedLeg[] = [];
    for (const [index, leg] of legs.entries()) {
      const instrument = leg.conId > 0 ? this.market.instrument(leg.conId) : undefined;
      if (!instrument || instrument.secType === 'IND' || instrument.secType === 'BAG') {
        return { unknownLeg: index };
      }
      resolved.push({ leg, instrument, sign: leg.action === 'SELL' ? -1 : 1 });
    }
    return resolved;
  }

  /** The BAG instrument of resolved legs (registered for quotes and hours from now on). */
  bagOf(contract: Pick<WireContract, 'symbol' | 'currency'>, legs: ResolvedLeg[]): Instrument {
    const conId = bagConId(legs.map(({ leg }) => leg));
    const known = this.bagInstruments.get(conId);
    if (known) return known;
    const [first] = legs;
    const underlying = first?.instrument.underlyingSymbol ?? first?.instrument.symbol ?? '';
    const symbol = contract.symbol !== '' ? contract.symbol : underlying;
    const instrument: Instrument = {
      conId,
      symbol,
      secType: 'BAG',
      exchange: 'SMART',
      primaryExchange: '',
      currency: contract.currency !== '' ? contract.currency : (first?.instrument.currency ?? 'USD'),
      localSymbol: '',
      tradingClass: '',
      multiplier: 1,
      minTick: Math.min(...legs.map(({ instrument: leg }) => leg.minTick)),
      longName: `${symbol} combo`,
      industry: '',
      category: '',
      timeZoneId: first?.instrument.timeZoneId ?? 'US/Eastern',
      entitlement: 'realtime',
      validExchanges: ['SMART'],
      orderTypes: ['MKT', 'LMT'],
    };
    this.bags.set(conId, legs);
    this.bagInstruments.set(conId, instrument);
    return instrument;
  }

  /** Makes the BAG instrument of a saved combo order's contract again (same legs, same conId). */
  restoreBag(
    contract: Pick<WireContract, 'symbol' | 'currency' | 'secType'> & { comboLegs: ComboLeg[] },
  ): void {
    if (contract.secType.toUpperCase() !== 'BAG') return;
    const legs = this.resolveLegs(contract.comboLegs);
    if (!('unknownLeg' in legs)) this.bagOf(contract, legs);
  }

  /** The legs of a BAG instrument the broker made (undefined for any other instrument). */
  legsOf(conId: number): ResolvedLeg[] | undefined {
    return this.bags.get(conId);
  }

  instrument(conId: number): Instrument | undefined {
    return this.bagInstruments.get(conId) ?? this.market.instrument(conId);
  }

  instruments(): readonly Instrument[] {
    return this.market.instruments();
  }

  resolve(contract: WireContract): Instrument[] {
    return this.market.resolve(contract);
  }

  quote(conId: number, atMs?: number): Quote {
    const legs = this.bags.get(conId);
    if (!legs) return this.market.quote(conId, atMs);
    return netQuote(legs, (legConId) => this.market.quote(legConId, atMs));
  }

  isTrading(conId: number, atMs?: number): boolean {
    const legs = this.bags.get(conId);
    if (!legs) return this.market.isTrading(conId, atMs);
    return legs.every(({ instrument }) => this.market.isTrading(instrument.conId, atMs));
  }

  isRegularHours(conId: number, atMs?: number): boolean {
    const legs = this.bags.get(conId);
    if (!legs) return this.market.isRegularHours(conId, atMs);
    return legs.every(({ instrument }) => this.market.isRegularHours(instrument.conId, atMs));
  }
}
