import { IBApiTickType, type Contract, type MarketDataTicks } from '@stoqey/ib';
import type { MarketDataTypeName, Quote } from './market-data.schemas';

/** Which tick carries each quote field, for real-time (and frozen) and for delayed data. */
const FIELDS = {
  bid: [IBApiTickType.BID, IBApiTickType.DELAYED_BID],
  ask: [IBApiTickType.ASK, IBApiTickType.DELAYED_ASK],
  last: [IBApiTickType.LAST, IBApiTickType.DELAYED_LAST],
  bidSize: [IBApiTickType.BID_SIZE, IBApiTickType.DELAYED_BID_SIZE],
  askSize: [IBApiTickType.ASK_SIZE, IBApiTickType.DELAYED_ASK_SIZE],
  lastSize: [IBApiTickType.LAST_SIZE, IBApiTickType.DELAYED_LAST_SIZE],
  volume: [IBApiTickType.VOLUME, IBApiTickType.DELAYED_VOLUME],
  open: [IBApiTickType.OPEN, IBApiTickType.DELAYED_OPEN],
  high: [IBApiTickType.HIGH, IBApiTickType.DELAYED_HIGH],
  low: [IBApiTickType.LOW, IBApiTickType.DELAYED_LOW],
  close: [IBApiTickType.CLOSE, IBApiTickType.DELAYED_CLOSE],
} as const;

const LAST_TIMESTAMP = [IBApiTickType.LAST_TIMESTAMP, IBApiTickType.DELAYED_LAST_TIMESTAMP] as const;
const DELAYED_TICKS = new Set<number>(
  [...Object.values(FIELDS).map(([, delayed]) => delayed), LAST_TIMESTAMP[1]].map(Number),
);

type QuoteValues = Pick<Quote, keyof typeof FIELDS>;

/**
 * A quote from the ticks IB sent for one request. `reportedType` is IB's own label for the data; when it
 * is missing, delayed tick types still tell delayed data from real-time data.
 */
export function quoteFromTicks(
  ticks: MarketDataTicks,
  reportedType: MarketDataTypeName | undefined,
  contract: Contract,
  source: Quote['source'],
): Quote {
  const delayed = [...ticks.keys()].some((tickType) => DELAYED_TICKS.has(Number(tickType)));
  const column = delayed ? 1 : 0;
  const valueOf = (tickTypes: readonly number[]): number | null => {
    const tickType = tickTypes[column];
    const value = tickType === undefined ? undefined : ticks.get(tickType)?.value;
    return value === undefined || !Number.isFinite(value) ? null : value;
  };
  const values = Object.fromEntries(
    Object.entries(FIELDS).map(([field, tickTypes]) => [field, valueOf(tickTypes)]),
  ) as QuoteValues;
  const lastTradeSeconds = valueOf(LAST_TIMESTAMP);
  const newest = Math.max(0, ...[...ticks.values()].map((tick) => tick.ingressTm));
  return {
    symbol: contract.symbol ?? '',
    conId: contract.conId ?? 0,
    secType: String(contract.secType ?? ''),
    exchange: contract.exchange ?? '',
    currency: contract.currency ?? '',
    dataType: reportedType ?? (delayed ? 'delayed' : 'real-time'),
    source,
    ...values,
    lastTradeTime: lastTradeSeconds === null ? null : new Date(lastTradeSeconds * 1000).toISOString(),
    timestamp: new Date(newest > 0 ? newest : Date.now()).toISOString(),
  };
}

/** True when the ticks hold at least one quote field: an answer worth giving. */
export function hasQuoteValues(ticks: MarketDataTicks): boolean {
  return Object.values(FIELDS).some(([realTime, delayed]) => ticks.has(realTime) || ticks.has(delayed));
}
