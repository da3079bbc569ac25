import type { WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import type { Instrument, Quote } from './instrument';
import type { Market } from './market';
import { TickType, type OptionComputation } from './market-data-messages';
import { computeOption } from './option-computation';
import { unitHash } from './price-path';
import { easternDay, OPTION_CHAINS, type OptionChainSpec } from './universe';

// The option analytics of a market data stream: option computation ticks for bid, ask, last and the
// model, and the generic ticks 100, 101, 104 and 106.

/** What the option ticks are read from. */
export type OptionTickSource = Pick<Market, 'quote' | 'instrument' | 'instruments' | 'options'>;

/** The generic tick ids (reqMktData's genericTickList) answered here. */
export const GenericTick = {
  OPTION_VOLUME: 100,
  OPTION_OPEN_INTEREST: 101,
  HISTORICAL_VOLATILITY: 104,
  IMPLIED_VOLATILITY: 106,
} as const;

/** Tick ids the generic ticks answer with. */
export const OptionTickType = {
  OPTION_HISTORICAL_VOL: 23,
  OPTION_IMPLIED_VOL: 24,
  OPTION_CALL_OPEN_INTEREST: 27,
  OPTION_PUT_OPEN_INTEREST: 28,
  OPTION_CALL_VOLUME: 29,
  OPTION_PUT_VOLUME: 30,
} as const;

/** One option computation tick or one generic value of a stream. */
export type OptionTick =
  | { kind: 'option'; type: number; computation: OptionComputation }
  | { kind: 'size'; type: number; size: number }
  | { kind: 'generic'; type: number; value: number };

/**
 * The model's values for the option's bid, ask and last prices and for its mid (the model tick), with
 * the underlying at its mid: implied volatility from each price, greeks at that volatility.
 */
export function optionComputationTicks(
  instrument: Instrument,
  quote: Quote,
  spot: number,
  atMs: number,
  delayed: boolean,
): OptionTick[] {
  const ids = delayed
    ? [TickType.DELAYED_BID_OPTION, TickType.DELAYED_ASK_OPTION, TickType.DELAYED_LAST_OPTION]
    : [TickType.BID_OPTION, TickType.ASK_OPTION, TickType.LAST_OPTION];
  const model = delayed ? TickType.DELAYED_MODEL_OPTION : TickType.MODEL_OPTION;
  const mid = quote.bid > 0 && quote.ask > 0 ? (quote.bid + quote.ask) / 2 : quote.last;
  const ticks: OptionTick[] = [];
  for (const [type, price] of [
    [ids[0], quote.bid],
    [ids[1], quote.ask],
    [ids[2], quote.last],
    [model, mid],
  ] as const) {
    if (type === undefined) continue;
    const computation = computeOption(instrument, price, spot, atMs);
    if (computation) ticks.push({ kind: 'option', type, computation });
  }
  return ticks;
}

/**
 * IB's answers to the generic ticks asked for. For a stock with options (IB: "currently for stocks"):
 * call and put volume (29/30) and open interest (27/28) summed over its chain, its historical (23) and
 * implied (24) volatility. For an option: its own open interest and volume in the tick of its right
 * (27 or 28, 29 or 30), and the volatilities of its underlying.
 */
export function genericTicks(
  market: OptionTickSource,
  instrument: Instrument,
  requested: ReadonlySet<number>,
  atMs: number,
): OptionTick[] {
  if (requested.size === 0) return [];
  const option = instrument.secType === 'OPT';
  const underlyingConId = option ? instrument.underlyingConId : instrument.conId;
  const spec = OPTION_CHAINS.find((chain) => chain.underlyingConId === underlyingConId);
  if (!spec || underlyingConId === undefined || !market.instrument(underlyingConId)) return [];
  const ticks: OptionTick[] = [];
  const sides = option
    ? [{ right: instrument.right, members: [instrument] }]
    : (['C', 'P'] as const).map((right) => ({
        right,
        members: market
          .instruments()
          .filter((member) => member.underlyingConId === underlyingConId && member.right === right),
      }));
  // A chain's totals take a quote of every option: the underlying's are refreshed every 5 s (IB's are slow too).
  const totalAt = option ? atMs : Math.floor(atMs / CHAIN_TOTALS_MS) * CHAIN_TOTALS_MS;
  for (const { right, members } of sides) {
    const call = right === 'C';
    if (requested.has(GenericTick.OPTION_VOLUME)) {
      const volume = chainTotal(`v:${underlyingConId}:${right}:${totalAt}`, option, () =>
        members.reduce((sum, member) => sum + market.quote(member.conId, totalAt).volume, 0),
      );
      const type = call ? OptionTickType.OPTION_CALL_VOLUME : OptionTickType.OPTION_PUT_VOLUME;
      ticks.push({ kind: 'size', type, size: volume });
    }
    if (requested.has(GenericTick.OPTION_OPEN_INTEREST)) {
      const interest = chainTotal(`oi:${underlyingConId}:${right}:${easternDay(atMs)}`, option, () =>
        members.reduce((sum, member) => sum + openInterest(market, spec, member, atMs), 0),
      );
      const type = call ? OptionTickType.OPTION_CALL_OPEN_INTEREST : OptionTickType.OPTION_PUT_OPEN_INTEREST;
      ticks.push({ kind: 'size', type, size: interest });
    }
  }
  if (requested.has(GenericTick.HISTORICAL_VOLATILITY)) {
    ticks.push({
      kind: 'generic',
      type: OptionTickType.OPTION_HISTORICAL_VOL,
      value: historicalVolatility(market, spec, atMs),
    });
  }
  if (requested.has(GenericTick.IMPLIED_VOLATILITY)) {
    ticks.push({ kind: 'generic', type: OptionTickType.OPTION_IMPLIED_VOL, value: spec.impliedVol });
  }
  return ticks;
}

const CHAIN_TOTALS_MS = 5_000;
const chainTotals = new Map<string, number>();

/** A chain total, computed once per key (an option's own value is cheap: never cached). */
function chainTotal(key: string, single: boolean, compute: () => number): number {
  if (single) return compute();
  let total = chainTotals.get(key);
  if (total === undefined) {
    if (chainTotals.size > 200) chainTotals.clear();
    total = compute();
    chainTotals.set(key, total);
  }
  return total;
}

/**
 * An option's open interest: fixed for the day (OCC publishes it once, before the open), largest at the
 * money and for liquid chains, from the underlying's previous close.
 */
export function openInterest(
  market: OptionTickSource,
  spec: OptionChainSpec,
  option: Instrument,
  atMs: number,
): number {
  if (option.strike === undefined) return 0;
  const day = easternDay(atMs);
  const close = market.quote(spec.underlyingConId, atMs).close;
  const moneyness = close > 0 ? Math.abs(Math.log(option.strike / close)) : 1;
  const noise = 0.5 + unitHash(market.options.seed, option.conId, day / 86_400_000, 0x4f49);
  return Math.round(spec.dailyVolume * 0.8 * Math.exp(-10 * moneyness) * noise);
}

/** The underlying's 30-day historical volatility: near the chain's implied one, varying by day. */
function historicalVolatility(market: OptionTickSource, spec: OptionChainSpec, atMs: number): number {
  const day = easternDay(atMs) / 86_400_000;
  const factor = 0.8 + 0.3 * unitHash(market.options.seed, spec.underlyingConId, day, 0x4856);
  return Number((spec.impliedVol * factor).toFixed(6));
}

/** The generic tick ids of a reqMktData genericTickList ("100,101,106"); unknown ids are ignored. */
export function parseGenericTicks(list: string): Set<number> {
  return new Set(
    list
      .split(',')
      .map((item) => Number(item.trim()))
      .filter((id) => Number.isInteger(id) && id > 0),
  );
}

/** TICK_GENERIC v6: a number without a size (volatilities). */
export function tickGenericMessage(tickerId: number, tickType: number, value: number): WireValue[] {
  return [Reply.TICK_GENERIC, 6, tickerId, tickType, value];
}
