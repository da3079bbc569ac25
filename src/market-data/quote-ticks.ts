import type { Clock } from '../common/clock';
import type { IbContract } from '../contracts/contracts.service';
import type { TickUpdate } from './market-data.repository';
import type { Quote } from './market-data.schemas';

/**
 * A quote from the market data IB sent for one request. IB's own label for the data (`reportedType`) wins;
 * when it is missing, delayed ticks still tell delayed data from real-time data.
 */
export function quoteFromTicks(
  update: TickUpdate,
  contract: IbContract,
  source: Quote['source'],
  clock: Clock,
): Quote {
  const { values, lastTradeSeconds, receivedAt } = update;
  return {
    symbol: contract.symbol ?? '',
    conId: contract.conId,
    secType: String(contract.secType ?? ''),
    exchange: contract.exchange ?? '',
    currency: contract.currency ?? '',
    dataType: update.reportedType ?? (update.delayed ? 'delayed' : 'real-time'),
    source,
    bid: values.bid,
    ask: values.ask,
    last: values.last,
    bidSize: values.bidSize,
    askSize: values.askSize,
    lastSize: values.lastSize,
    volume: values.volume,
    open: values.open,
    high: values.high,
    low: values.low,
    close: values.close,
    lastTradeTime: lastTradeSeconds === null ? null : new Date(lastTradeSeconds * 1000).toISOString(),
    timestamp: new Date(receivedAt > 0 ? receivedAt : clock.now()).toISOString(),
  };
}
