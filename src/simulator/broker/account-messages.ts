import type { WireValue } from '../protocol/framing';
import { Reply } from '../protocol/message-ids';
import { BASE_CURRENCY, type AccountValues, type Position, type PositionValue } from './account';
import { multiplierText, UNSET_DOUBLE, wireNumber, wireSize } from './order-messages';

export interface AccountRow {
  tag: string;
  value: string;
  currency: string;
}

const money = (amount: number): string => amount.toFixed(2);

/** The standard account summary tags (reqAccountSummary's list), in IB's order. */
const SUMMARY_TAGS: Record<string, (values: AccountValues) => [string, string]> = {
  AccountType: () => ['INDIVIDUAL', ''],
  NetLiquidation: (v) => [money(v.netLiquidation), BASE_CURRENCY],
  TotalCashValue: (v) => [money(v.totalCash), BASE_CURRENCY],
  SettledCash: (v) => [money(v.totalCash), BASE_CURRENCY],
  AccruedCash: () => [money(0), BASE_CURRENCY],
  BuyingPower: (v) => [money(v.buyingPower), BASE_CURRENCY],
  EquityWithLoanValue: (v) => [money(v.equityWithLoan), BASE_CURRENCY],
  PreviousDayEquityWithLoanValue: (v) => [money(v.previousDayEquityWithLoan), BASE_CURRENCY],
  GrossPositionValue: (v) => [money(v.grossPositionValue), BASE_CURRENCY],
  RegTEquity: (v) => [money(v.equityWithLoan), BASE_CURRENCY],
  RegTMargin: (v) => [money(v.regTMargin), BASE_CURRENCY],
  SMA: (v) => [money(v.sma), BASE_CURRENCY],
  InitMarginReq: (v) => [money(v.initMargin), BASE_CURRENCY],
  MaintMarginReq: (v) => [money(v.maintMargin), BASE_CURRENCY],
  AvailableFunds: (v) => [money(v.availableFunds), BASE_CURRENCY],
  ExcessLiquidity: (v) => [money(v.excessLiquidity), BASE_CURRENCY],
  Cushion: (v) => [v.cushion.toFixed(6), ''],
  FullInitMarginReq: (v) => [money(v.initMargin), BASE_CURRENCY],
  FullMaintMarginReq: (v) => [money(v.maintMargin), BASE_CURRENCY],
  FullAvailableFunds: (v) => [money(v.availableFunds), BASE_CURRENCY],
  FullExcessLiquidity: (v) => [money(v.excessLiquidity), BASE_CURRENCY],
  LookAheadNextChange: () => ['0', ''],
  LookAheadInitMarginReq: (v) => [money(v.initMargin), BASE_CURRENCY],
  LookAheadMaintMarginReq: (v) => [money(v.maintMargin), BASE_CURRENCY],
  LookAheadAvailableFunds: (v) => [money(v.availableFunds), BASE_CURRENCY],
  LookAheadExcessLiquidity: (v) => [money(v.excessLiquidity), BASE_CURRENCY],
  HighestSeverity: () => ['0', ''],
  // -1: unlimited, as for any account above $25,000.
  DayTradesRemaining: () => ['-1', ''],
  Leverage: (v) => [v.leverage.toFixed(2), ''],
};

export const STANDARD_SUMMARY_TAGS: readonly string[] = Object.keys(SUMMARY_TAGS);

/** Currencies the account holds cash or positions in, base first. */
function heldCurrencies(values: AccountValues): string[] {
  const currencies = new Set<string>([BASE_CURRENCY]);
  for (const currency of values.cash.keys()) currencies.add(currency);
  for (const value of values.positions) currencies.add(value.position.instrument.currency);
  return [...currencies];
}

/**
 * The cash-balance ("ledger") tags for one currency, or for "BASE" (everything converted to USD).
 * Position values count in their instrument's currency.
 */
export function ledgerRows(values: AccountValues, currency: string): AccountRow[] {
  const isBase = currency === 'BASE';
  const inCurrency = values.positions.filter(
    (value) => isBase || value.position.instrument.currency === currency,
  );
  const convert = (value: PositionValue, amount: number): number => (isBase ? amount * value.rate : amount);
  const sum = (pick: (value: PositionValue) => number): number =>
    inCurrency.reduce((total, value) => total + convert(value, pick(value)), 0);
  const valueOf = (secType: string): number =>
    sum((value) => (value.position.instrument.secType === secType ? value.marketValue : 0));
  const futuresPnl = sum((value) =>
    value.position.instrument.secType === 'FUT'
      ? value.position.quantity *
        (value.markPrice - value.position.averagePrice) *
        value.position.instrument.multiplier
      : 0,
  );
  const cash = isBase ? values.totalCash : (values.cash.get(currency) ?? 0);
  const securities = sum((value) => (value.position.instrument.secType === 'FUT' ? 0 : value.marketValue));
  const exchangeRate = isBase
    ? 1
    : (values.positions.find((v) => v.position.instrument.currency === currency)?.rate ?? 1);
  const rows: [string, number | string][] = [
    ['CashBalance', money(cash)],
    ['TotalCashBalance', money(cash)],
    ['AccruedCash', money(0)],
    ['StockMarketValue', money(valueOf('STK'))],
    ['OptionMarketValue', money(valueOf('OPT'))],
    ['FutureOptionValue', money(0)],
    ['FuturesPNL', money(futuresPnl)],
    ['NetLiquidationByCurrency', money(cash + securities + futuresPnl)],
    ['UnrealizedPnL', money(sum((value) => value.unrealizedPnl))],
    ['RealizedPnL', money(sum((value) => value.realizedPnl))],
    ['ExchangeRate', currency === BASE_CURRENCY || isBase ? '1.00' : exchangeRate.toFixed(6)],
    ['FundValue', money(0)],
    ['NetDividend', money(0)],
    ['MutualFundValue', money(0)],
    ['MoneyMarketFundValue', money(0)],
    ['CorporateBondValue', money(0)],
    ['TBondValue', money(0)],
    ['TBillValue', money(0)],
    ['WarrantValue', money(0)],
    ['FxCashBalance', money(0)],
    ['IssuerOptionValue', money(0)],
  ];
  return rows.map(([tag, value]) => ({ tag, value: String(value), currency }));
}

/**
 * The rows a reqAccountSummary tag list asks for: standard tags by name, and "$LEDGER" (base
 * currency), "$LEDGER:ALL" (base and every currency held) or "$LEDGER:<CCY>" for the cash balances.
 */
export function accountSummaryRows(values: AccountValues, tags: readonly string[]): AccountRow[] {
  const rows: AccountRow[] = [];
  for (const tag of tags) {
    const standard = SUMMARY_TAGS[tag];
    if (standard) {
      const [value, currency] = standard(values);
      rows.push({ tag, value, currency });
      continue;
    }
    const ledger = /^\$LEDGER(?::(.+))?$/i.exec(tag);
    if (!ledger) continue;
    const which = ledger[1]?.toUpperCase();
    if (which === undefined) rows.push(...ledgerRows(values, 'BASE'));
    else if (which === 'ALL') {
      rows.push(...ledgerRows(values, 'BASE'));
      for (const currency of heldCurrencies(values)) rows.push(...ledgerRows(values, currency));
    } else rows.push(...ledgerRows(values, which));
  }
  return rows;
}

/** What reqAccountUpdates' ACCT_VALUE rows carry: the summary, the ledgers and a few identity keys. */
export function accountUpdateRows(values: AccountValues): AccountRow[] {
  const rows: AccountRow[] = [
    { tag: 'AccountCode', value: values.account, currency: '' },
    { tag: 'AccountReady', value: 'true', currency: '' },
    { tag: 'Currency', value: BASE_CURRENCY, currency: BASE_CURRENCY },
    { tag: 'RealCurrency', value: BASE_CURRENCY, currency: BASE_CURRENCY },
  ];
  for (const row of accountSummaryRows(values, STANDARD_SUMMARY_TAGS)) {
    // Account updates name segment values with a suffix (-S: securities).
    rows.push(row.tag === 'Leverage' ? { ...row, tag: 'Leverage-S' } : row);
  }
  rows.push(...ledgerRows(values, 'BASE'));
  for (const currency of heldCurrencies(values)) rows.push(...ledgerRows(values, currency));
  return rows;
}

export function accountSummaryMessage(reqId: number, account: string, row: AccountRow): WireValue[] {
  return [Reply.ACCOUNT_SUMMARY, 1, reqId, account, row.tag, row.value, row.currency];
}

export function accountSummaryEndMessage(reqId: number): WireValue[] {
  return [Reply.ACCOUNT_SUMMARY_END, 1, reqId];
}

/**
 * POSITION version 3; IB names the position's exchange by the primary listing. The account messages have
 * the same layout at every version the simulator speaks (151..193); only their sizes are integers below v163.
 */
export function positionMessage(position: Position): WireValue[] {
  return [Reply.POSITION, 3, ...positionFields(position)];
}

/** A position as POSITION and POSITION_MULTI carry it: account, contract, quantity, average cost. */
export function positionFields(position: Position): WireValue[] {
  const instrument = position.instrument;
  return [
    position.account,
    instrument.conId,
    instrument.symbol,
    instrument.secType,
    instrument.lastTradeDate ?? '',
    instrument.strike ?? 0,
    instrument.right ?? '',
    multiplierText(instrument),
    instrument.primaryExchange !== '' ? instrument.primaryExchange : instrument.exchange,
    instrument.currency,
    instrument.localSymbol,
    instrument.tradingClass,
    wireSize(position.quantity),
    wireNumber(position.averageCost),
  ];
}

export function positionEndMessage(): WireValue[] {
  return [Reply.POSITION_END, 1];
}

/** PNL (no version): daily, unrealized and realized PnL of an account in its base currency. */
export function pnlMessage(reqId: number, values: AccountValues): WireValue[] {
  return [
    Reply.PNL,
    reqId,
    wireNumber(values.dailyPnl),
    wireNumber(values.unrealizedPnl),
    wireNumber(values.realizedPnl),
  ];
}

/**
 * PNL_SINGLE (no version): position, daily, unrealized and realized PnL and market value, in the base
 * currency. For a contract never held IB leaves the PnL fields at Double.MAX (undefined for the client).
 */
export function pnlSingleMessage(reqId: number, value: PositionValue | undefined): WireValue[] {
  if (!value) return [Reply.PNL_SINGLE, reqId, 0, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE, 0];
  const rate = value.rate;
  return [
    Reply.PNL_SINGLE,
    reqId,
    wireSize(value.position.quantity),
    wireNumber(value.dailyPnl * rate),
    wireNumber(value.unrealizedPnl * rate),
    wireNumber(value.realizedPnl * rate),
    wireNumber(value.marketValue * rate),
  ];
}

export function accountValueMessage(account: string, row: AccountRow): WireValue[] {
  return [Reply.ACCT_VALUE, 2, row.tag, row.value, row.currency, account];
}

/** PORTFOLIO_VALUE version 8: one position with its market price and value, cost and PnL. */
export function portfolioValueMessage(value: PositionValue): WireValue[] {
  const { position } = value;
  const instrument = position.instrument;
  return [
    Reply.PORTFOLIO_VALUE,
    8,
    instrument.conId,
    instrument.symbol,
    instrument.secType,
    instrument.lastTradeDate ?? '',
    instrument.strike ?? 0,
    instrument.right ?? '',
    multiplierText(instrument),
    instrument.primaryExchange,
    instrument.currency,
    instrument.localSymbol,
    instrument.tradingClass,
    wireSize(position.quantity),
    wireNumber(value.markPrice),
    wireNumber(value.marketValue),
    wireNumber(position.averageCost),
    wireNumber(value.unrealizedPnl),
    wireNumber(value.realizedPnl),
    position.account,
  ];
}

/** ACCT_UPDATE_TIME: "HH:mm" of the last update. */
export function accountUpdateTimeMessage(epochMs: number): WireValue[] {
  return [Reply.ACCT_UPDATE_TIME, 1, new Date(epochMs).toISOString().slice(11, 16)];
}

export function accountDownloadEndMessage(account: string): WireValue[] {
  return [Reply.ACCT_DOWNLOAD_END, 1, account];
}
