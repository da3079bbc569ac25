import type { FieldReader } from '../protocol/field-reader';
import type { ExecutionRecord } from './order-messages';

/** REQ_EXECUTIONS' filter; an empty (or 0) field matches everything. */
export interface ExecutionFilter {
  clientId: number;
  account: string;
  /** Epoch ms: only executions at or after it. */
  since: number | undefined;
  symbol: string;
  secType: string;
  exchange: string;
  side: string;
  matches: (execution: ExecutionRecord) => boolean;
}

const SIDES: Record<string, string> = { BUY: 'BOT', BOT: 'BOT', SELL: 'SLD', SLD: 'SLD', SSHORT: 'SLD' };

/** "yyyymmdd-hh:mm:ss" (the API's documented form) or "yyyymmdd hh:mm:ss", read as UTC. */
export function parseFilterTime(text: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})[- ]+(\d{2}):(\d{2})(?::(\d{2}))?/.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second || 0);
}

/** Reads the filter part of REQ_EXECUTIONS: clientId, account, time, symbol, secType, exchange, side. */
export function parseExecutionFilter(reader: FieldReader): ExecutionFilter {
  const clientId = reader.int();
  const account = reader.string();
  const since = parseFilterTime(reader.string());
  const symbol = reader.string().toUpperCase();
  const secType = reader.string().toUpperCase();
  const exchange = reader.string().toUpperCase();
  const side = SIDES[reader.string().toUpperCase()] ?? '';
  return {
    clientId,
    account,
    since,
    symbol,
    secType,
    exchange,
    side,
    matches: (execution) =>
      (clientId === 0 || execution.clientId === clientId) &&
      (account === '' || execution.account === account) &&
      (since === undefined || execution.time >= since) &&
      (symbol === '' || execution.instrument.symbol.toUpperCase() === symbol) &&
      (secType === '' || execution.instrument.secType === secType) &&
      (exchange === '' || execution.exchange.toUpperCase() === exchange) &&
      (side === '' || execution.side === side),
  };
}
