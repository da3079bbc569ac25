import type { Instrument } from '../market/instrument';
import type { ResolvedLeg } from './combo-market';
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

/**
 * A combo's what-if: each leg's margin and commission as if it were traded alone (quantity × ratio on the
 * leg's side, at the leg's touch), summed. No offset between legs is credited: a simple, conservative model.
 */
export function evaluateComboWhatIf(
  ticket: OrderTicket,
  legs: readonly ResolvedLeg[],
  account: string,
  market: Pick<MarketView, 'quote'>,
  ledger: Pick<Ledger, 'value' | 'marginAfter' | 'usdRate'>,
): WhatIfResult {
  const isBuy = ticket.action === 'BUY';
  const quantity = ticket.totalQuantity ?? 0;
  const before = ledger.value(account);
  let initChange = 0;
  let maintChange = 0;
  let commissionUsd = 0;
  let commission = 0;
  for (const { leg, instrument, sign } of legs) {
    const quote = market.quote(instrument.conId);
    const buysLeg = sign > 0 === isBuy;
    const touch = buysLeg ? quote.ask : quote.bid;
    const price = touch > 0 ? touch : quote.last;
    const legQuantity = quantity * leg.ratio;
    const after = ledger.marginAfter(account, instrument, buysLeg ? legQuantity : -legQuantity, price);
    initChange += after.initMargin - before.initMargin;
    maintChange += after.maintMargin - before.maintMargin;
    const legCommission = orderCommission(instrument, {
      quantity: legQuantity,
      value: legQuantity * price * instrument.multiplier,
    });
    commission += legCommission;
    commissionUsd += legCommission * ledger.usdRate(instrument.currency);
  }
  const currency = legs[0]?.instrument.currency ?? 'USD';
  return {
    initMarginBefore: before.initMargin,
    maintMarginBefore: before.maintMargin,
    equityWithLoanBefore: before.equityWithLoan,
    initMarginChange: initChange,
    maintMarginChange: maintChange,
    equityWithLoanChange: -commissionUsd,
    initMarginAfter: before.initMargin + initChange,
    maintMarginAfter: before.maintMargin + maintChange,
    equityWithLoanAfter: before.equityWithLoan - commissionUsd,
    commission: Math.round(commission * 100) / 100,
    minCommission: Math.round(commission * 100) / 100,
    maxCommission: Math.round(commission * 100) / 100,
    commissionCurrency: currency,
  };
}
