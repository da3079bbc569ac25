import type { Instrument } from '../market/instrument';
import type { Ledger } from './account';
import { BrokerCode, BrokerMessage } from './broker-codes';
import type { MarketView } from './market-view';
import { SUPPORTED_ORDER_TYPES } from './order';
import type { OrderBook } from './order-book';
import type { OrderTicket } from './order-ticket';
import { offTick, timingRefusal, TOUCH_TYPES } from './order-types';

const ACTIONS: readonly string[] = ['BUY', 'SELL', 'SSHORT'];
const LIMIT_TYPES: readonly string[] = ['LMT', 'STP LMT', 'LOC', 'LIT'];
const STOP_TYPES: readonly string[] = ['STP', 'STP LMT', ...TOUCH_TYPES];
const TRAILING_TYPES: readonly string[] = ['TRAIL', 'TRAIL LIMIT'];

/** An order IB would take, with the contract and account it resolved to, or the error IB answers. */
export type OrderVerdict =
  | { accepted: true; instrument: Instrument; account: string }
  | { accepted: false; code: number; text: string };

/** What the checks read; they change nothing, so a new order and a modification go through the same. */
export interface ValidationContext {
  market: Pick<MarketView, 'resolve' | 'isRegularHours'>;
  ledger: Pick<Ledger, 'accounts' | 'has'>;
  book: Pick<OrderBook, 'get'>;
  /** The simulator's clock, for GTD dates and on-close cutoffs. */
  nowMs: number;
}

/**
 * The checks IB makes before accepting an order, in IB's order: the first failure is the one reported.
 * An empty account means the first (usually only) account of the login.
 */
export function validateOrder(
  ticket: OrderTicket,
  { market, ledger, book, nowMs }: ValidationContext,
): OrderVerdict {
  const reject = (code: number, text: string): OrderVerdict => ({ accepted: false, code, text });
  const matches = market.resolve(ticket.contract);
  const instrument = matches[0];
  if (!instrument) return reject(BrokerCode.NO_SECURITY_DEFINITION, BrokerMessage.noSecurityDefinition);
  if (matches.length > 1) {
    return reject(BrokerCode.NO_SECURITY_DEFINITION, BrokerMessage.ambiguousContract(ticket.contract.symbol));
  }
  if (instrument.secType === 'IND') {
    return reject(BrokerCode.ORDER_REJECTED, BrokerMessage.notTradable(instrument.secType));
  }
  const account = ticket.account !== '' ? ticket.account : (ledger.accounts[0] ?? '');
  if (!ledger.has(account))
    return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.invalidAccount(account));
  if (!ACTIONS.includes(ticket.action)) {
    return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.invalidAction(ticket.action));
  }
  const quantity = ticket.totalQuantity ?? 0;
  if (quantity === 0) return reject(BrokerCode.ORDER_SIZE_ZERO, BrokerMessage.orderSizeZero);
  if (quantity < 0) return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.negativeQuantity);
  const type = ticket.orderType;
  if (!SUPPORTED_ORDER_TYPES.includes(type)) {
    return reject(BrokerCode.UNSUPPORTED_ORDER_TYPE, BrokerMessage.unsupportedOrderType);
  }
  if (LIMIT_TYPES.includes(type) && ticket.lmtPrice === undefined) {
    return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.missingLimitPrice);
  }
  if (type === 'TRAIL LIMIT' && ticket.lmtPrice === undefined && ticket.lmtPriceOffset === undefined) {
    return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.missingLimitPrice);
  }
  if (STOP_TYPES.includes(type) && !(ticket.auxPrice !== undefined && ticket.auxPrice > 0)) {
    return reject(BrokerCode.INVALID_STOP_PRICE, BrokerMessage.invalidStopPrice);
  }
  if (
    TRAILING_TYPES.includes(type) &&
    ticket.auxPrice === undefined &&
    ticket.trailingPercent === undefined
  ) {
    return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.missingTrailingAmount);
  }
  if (type === 'REL' && ticket.auxPrice === undefined && ticket.percentOffset === undefined) {
    return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.missingOffset);
  }
  if (offTick(ticket, instrument)) {
    return reject(BrokerCode.INVALID_PRICE_VARIATION, BrokerMessage.priceVariation);
  }
  const timing = timingRefusal(ticket, instrument.conId, market, nowMs);
  if (timing === 'gtdMissing') return reject(BrokerCode.VALIDATION_FAILED, BrokerMessage.missingGoodTillDate);
  if (timing === 'gtdPast') return reject(BrokerCode.ORDER_REJECTED, BrokerMessage.goodTillDatePast);
  if (timing === 'onCloseCutoff') return reject(BrokerCode.ORDER_REJECTED, BrokerMessage.onCloseCutoff);
  if (ticket.parentId > 0) {
    const parent = book.get(ticket.parentId);
    if (!parent || parent.status === 'Cancelled') {
      return reject(BrokerCode.ORDER_NOT_FOUND, BrokerMessage.parentNotFound(ticket.parentId));
    }
  }
  if (ticket.whatIf && ticket.transmitExplicitlyFalse) {
    return reject(BrokerCode.WHAT_IF_NEEDS_TRANSMIT, BrokerMessage.whatIfNeedsTransmit);
  }
  return { accepted: true, instrument, account };
}
