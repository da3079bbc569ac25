import type { Instrument } from '../market/instrument';
import type { Ledger } from './account';
import { orderCommission } from './commission';
import type { MarketView } from './market-view';
import type { WhatIfResult } from './order-messages';
import type { OrderTicket } from './order-ticket';

/**
 * The margin and commission an order would cause, as a what-if OPEN_ORDER reports them. It prices the
 * order at its limit (or stop), else at the touch it would take, else at the last trade; nothing is booked.
 */
export function evaluateWhatIf(
  ticket: OrderTicket,
  instrument: Instrument,
  account: string,
  market: Pick<MarketView, 'quote'>,
  ledger: Pick<Ledger, 'value' | 'marginAfter' | 'usdRate'>,
): WhatIfResult {
  const quote = market.quote(instrument.conId);
  const isBuy = ticket.action === 'BUY';
  const touch = isBuy ? quote.ask : quote.bid;
  const price = ticket.lmtPrice ?? ticket.auxPrice ?? (touch > 0 ? touch : quote.last);
  const quantity = ticket.totalQuantity ?? 0;
  const before = ledger.value(account);
  const after = ledger.marginAfter(account, instrument, isBuy ? quantity : -quantity, price);
  const commission = orderCommission(instrument, {
    quantity,
    value: quantity * price * instrument.multiplier,
  });
  const rate = ledger.usdRate(instrument.currency);
  return {
    initMarginBefore: before.initMargin,
    maintMarginBefore: before.maintMargin,
    equityWithLoanBefore: before.equityWithLoan,
    initMarginChange: after.initMargin - before.initMargin,
    maintMarginChange: after.maintMargin - before.maintMargin,
    equityWithLoanChange: -commission * rate,
    initMarginAfter: after.initMargin,
    maintMarginAfter: after.maintMargin,
    equityWithLoanAfter: before.equityWithLoan - commission * rate,
    commission,
    minCommission: commission,
    maxCommission: commission,
    commissionCurrency: instrument.currency,
  };
}
