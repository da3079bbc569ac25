import type { Instrument, SecType } from '../market/instrument';
import { easternDay } from '../market/universe';
import type { LedgerState } from './broker-state';
import type { InstrumentLookup, MarketView } from './market-view';

/** Every managed account starts with this much cash and nothing else. */
export const STARTING_CASH = 1_000_000;
export const BASE_CURRENCY = 'USD';

/** Currencies without a USD pair in the universe are valued at a fixed rate (USD per unit). */
const FIXED_USD_RATES: Record<string, number> = { MXN: 0.055 };

/** Reg T-like margin rates as fractions of the position's market value (futures: of the notional). */
const MARGIN_RATES: Record<SecType, { long: [number, number]; short: [number, number] }> = {
  STK: { long: [0.5, 0.25], short: [0.5, 0.3] },
  OPT: { long: [0, 0], short: [1, 1] },
  FUT: { long: [0.06, 0.05], short: [0.06, 0.05] },
  CASH: { long: [0.03, 0.025], short: [0.03, 0.025] },
  IND: { long: [1, 1], short: [1, 1] },
  // Crypto at PAXOS is fully paid: no margin lending.
  CRYPTO: { long: [1, 1], short: [1, 1] },
  BOND: { long: [0.1, 0.1], short: [0.1, 0.1] },
  // A combo is never held as such: its fills move the legs' positions.
  BAG: { long: [0, 0], short: [0, 0] },
};

export interface Position {
  account: string;
  instrument: Instrument;
  /** Signed: negative for a short. */
  quantity: number;
  /** IB's avgCost: per unit, multiplier and commissions included (for a short, proceeds net of commission). */
  averageCost: number;
  /** Average fill price per unit (no multiplier, no commission); futures settle against it. */
  averagePrice: number;
  /** Price the daily PnL is measured from: the previous close for what was held overnight, fill prices since. */
  dailyBasis: number;
  /** Realized PnL of the current day, in the instrument's currency. */
  realizedToday: number;
}

export interface PositionValue {
  position: Position;
  markPrice: number;
  /** In the instrument's currency, like the next three. */
  marketValue: number;
  unrealizedPnl: number;
  dailyPnl: number;
  realizedPnl: number;
  /** USD per unit of the instrument's currency. */
  rate: number;
  initMargin: number;
  maintMargin: number;
}

/** An account's state in its base currency (USD), mutually consistent at one instant. */
export interface AccountValues {
  account: string;
  /** Cash by currency. */
  cash: Map<string, number>;
  totalCash: number;
  /** Σ market value of stocks, options and FX (futures carry no value, only their PnL). */
  securitiesValue: number;
  stockMarketValue: number;
  optionMarketValue: number;
  futuresPnl: number;
  grossPositionValue: number;
  netLiquidation: number;
  equityWithLoan: number;
  previousDayEquityWithLoan: number;
  initMargin: number;
  maintMargin: number;
  regTMargin: number;
  availableFunds: number;
  excessLiquidity: number;
  cushion: number;
  buyingPower: number;
  sma: number;
  leverage: number;
  unrealizedPnl: number;
  realizedPnl: number;
  dailyPnl: number;
  positions: PositionValue[];
}

export interface FillOutcome {
  position: Position;
  /** PnL realized by the closing part of the fill (commission included); undefined for an opening fill. */
  realizedPnl: number | undefined;
}

interface AccountBook {
  name: string;
  cash: Map<string, number>;
  positions: Map<number, Position>;
  /** Eastern trading day the daily figures belong to. */
  day: number;
  previousDayEquityWithLoan: number;
}

/** Cash, positions and PnL of every managed account, valued against the market. */
export class Ledger {
  private readonly books = new Map<string, AccountBook>();

  constructor(
    accounts: readonly string[],
    private readonly market: MarketView,
    private readonly now: () => number,
  ) {
    const day = easternDay(now());
    for (const name of accounts) {
      this.books.set(name, {
        name,
        cash: new Map([[BASE_CURRENCY, STARTING_CASH]]),
        positions: new Map(),
        day,
        previousDayEquityWithLoan: STARTING_CASH,
      });
    }
  }

  get accounts(): string[] {
    return [...this.books.keys()];
  }

  has(account: string): boolean {
    return this.books.has(account);
  }

  /** Open positions (non-zero), of one account or of all. */
  positions(account?: string): Position[] {
    const books = account === undefined ? [...this.books.values()] : [this.book(account)];
    return books.flatMap((book) =>
      [...book.positions.values()].filter((position) => position.quantity !== 0),
    );
  }

  /** The position in a contract, also when it was closed today (quantity 0). */
  position(account: string, conId: number): Position | undefined {
    const book = this.book(account);
    this.rollDay(book);
    return book.positions.get(conId);
  }

  /**
   * Books a fill: cash moves by the trade value (not for futures, which settle their PnL) and the
   * commission; the position's average cost follows IB (commission included); reducing realizes PnL.
   * A fill through zero closes the position and opens the other side with the rest.
   */
  applyFill(
    account: string,
    instrument: Instrument,
    isBuy: boolean,
    quantity: number,
    price: number,
    commission: number,
  ): FillOutcome {
    const book = this.book(account);
    this.rollDay(book);
    const multiplier = instrument.multiplier;
    const currency = instrument.currency;
    const settlesValue = instrument.secType !== 'FUT';
    const direction = isBuy ? 1 : -1;
    let position = book.positions.get(instrument.conId);
    if (!position) {
      position = {
        account,
        instrument,
        quantity: 0,
        averageCost: 0,
        averagePrice: 0,
        dailyBasis: 0,
        realizedToday: 0,
      };
      book.positions.set(instrument.conId, position);
    }
    let cashChange = -commission;
    if (settlesValue) cashChange -= direction * quantity * price * multiplier;

    let realizedPnl: number | undefined;
    let openingQuantity = quantity;
    let openingCommission = commission;
    const held = position.quantity;
    if (held !== 0 && Math.sign(held) !== direction) {
      const closing = Math.min(quantity, Math.abs(held));
      const closingCommission = (commission * closing) / quantity;
      const side = Math.sign(held);
      realizedPnl = side * (price * multiplier - position.averageCost) * closing - closingCommission;
      if (!settlesValue) cashChange += side * (price - position.averagePrice) * multiplier * closing;
      position.realizedToday += realizedPnl;
      position.quantity -= side * closing;
      openingQuantity = quantity - closing;
      openingCommission = commission - closingCommission;
      if (position.quantity === 0) {
        position.averageCost = 0;
        position.averagePrice = 0;
        position.dailyBasis = 0;
      }
    }
    if (openingQuantity > 0) {
      const before = Math.abs(position.quantity);
      const after = before + openingQuantity;
      // A long's cost includes the commission; a short's "cost" is its proceeds net of commission.
      const openingCost = openingQuantity * price * multiplier + direction * openingCommission;
      position.averageCost = (position.averageCost * before + openingCost) / after;
      position.averagePrice = (position.averagePrice * before + openingQuantity * price) / after;
      position.dailyBasis = (position.dailyBasis * before + openingQuantity * price) / after;
      position.quantity += direction * openingQuantity;
    }
    book.cash.set(currency, (book.cash.get(currency) ?? 0) + cashChange);
    return { position, realizedPnl };
  }

  valuePosition(position: Position): PositionValue {
    const instrument = position.instrument;
    const quote = this.market.quote(instrument.conId);
    const mid = quote.bid > 0 && quote.ask > 0 ? (quote.bid + quote.ask) / 2 : quote.last;
    const markPrice = quote.last > 0 ? quote.last : mid;
    const multiplier = instrument.multiplier;
    const quantity = position.quantity;
    const marketValue = quantity * markPrice * multiplier;
    const rate = this.usdRate(instrument.currency);
    const rates = MARGIN_RATES[instrument.secType][quantity >= 0 ? 'long' : 'short'];
    const exposure = Math.abs(marketValue) * rate;
    return {
      position,
      markPrice,
      marketValue,
      unrealizedPnl: marketValue - quantity * position.averageCost,
      dailyPnl: quantity * (markPrice - position.dailyBasis) * multiplier + position.realizedToday,
      realizedPnl: position.realizedToday,
      rate,
      initMargin: exposure * rates[0],
      maintMargin: exposure * rates[1],
    };
  }

  value(account: string): AccountValues {
    const book = this.book(account);
    this.rollDay(book);
    const positions = [...book.positions.values()]
      .filter((position) => position.quantity !== 0 || position.realizedToday !== 0)
      .map((position) => this.valuePosition(position));
    let totalCash = 0;
    for (const [currency, amount] of book.cash) totalCash += amount * this.usdRate(currency);
    let securitiesValue = 0;
    let stockMarketValue = 0;
    let optionMarketValue = 0;
    let futuresPnl = 0;
    let grossPositionValue = 0;
    let initMargin = 0;
    let maintMargin = 0;
    let regTMargin = 0;
    let unrealizedPnl = 0;
    let realizedPnl = 0;
    let dailyPnl = 0;
    for (const value of positions) {
      const { position, rate } = value;
      const secType = position.instrument.secType;
      if (secType === 'FUT') {
        futuresPnl +=
          position.quantity *
          (value.markPrice - position.averagePrice) *
          position.instrument.multiplier *
          rate;
      } else {
        securitiesValue += value.marketValue * rate;
        grossPositionValue += Math.abs(value.marketValue) * rate;
        if (secType === 'STK') stockMarketValue += value.marketValue * rate;
        if (secType === 'OPT') optionMarketValue += value.marketValue * rate;
      }
      initMargin += value.initMargin;
      maintMargin += value.maintMargin;
      if (secType === 'STK') regTMargin += value.initMargin;
      unrealizedPnl += value.unrealizedPnl * rate;
      realizedPnl += value.realizedPnl * rate;
      dailyPnl += value.dailyPnl * rate;
    }
    const netLiquidation = totalCash + securitiesValue + futuresPnl;
    const equityWithLoan = netLiquidation;
    const availableFunds = equityWithLoan - initMargin;
    const excessLiquidity = equityWithLoan - maintMargin;
    return {
      account,
      cash: new Map(book.cash),
      totalCash,
      securitiesValue,
      stockMarketValue,
      optionMarketValue,
      futuresPnl,
      grossPositionValue,
      netLiquidation,
      equityWithLoan,
      previousDayEquityWithLoan: book.previousDayEquityWithLoan,
      initMargin,
      maintMargin,
      regTMargin,
      availableFunds,
      excessLiquidity,
      cushion: netLiquidation !== 0 ? excessLiquidity / netLiquidation : 0,
      // A margin account's day-trading buying power: four times the funds available.
      buyingPower: Math.max(0, availableFunds * 4),
      sma: Math.max(0, equityWithLoan - regTMargin),
      leverage: netLiquidation !== 0 ? grossPositionValue / netLiquidation : 0,
      unrealizedPnl,
      realizedPnl,
      dailyPnl,
      positions,
    };
  }

  /**
   * Initial and maintenance margin an account would need after trading `signedQuantity` more of an
   * instrument at `price` (what-if orders).
   */
  marginAfter(
    account: string,
    instrument: Instrument,
    signedQuantity: number,
    price: number,
  ): { initMargin: number; maintMargin: number } {
    const values = this.value(account);
    const current = values.positions.find((value) => value.position.instrument.conId === instrument.conId);
    const quantityAfter = (current?.position.quantity ?? 0) + signedQuantity;
    const exposureAfter =
      Math.abs(quantityAfter * price * instrument.multiplier) * this.usdRate(instrument.currency);
    const rates = MARGIN_RATES[instrument.secType][quantityAfter >= 0 ? 'long' : 'short'];
    return {
      initMargin: values.initMargin - (current?.initMargin ?? 0) + exposureAfter * rates[0],
      maintMargin: values.maintMargin - (current?.maintMargin ?? 0) + exposureAfter * rates[1],
    };
  }

  toState(): LedgerState {
    return {
      accounts: [...this.books.values()].map((book) => ({
        account: book.name,
        cash: Object.fromEntries(book.cash),
        // Positions closed today stay: their realized PnL is part of the day's figures.
        positions: [...book.positions.values()].map(({ instrument, account: _account, ...position }) => ({
          conId: instrument.conId,
          ...position,
        })),
        day: book.day,
        previousDayEquityWithLoan: book.previousDayEquityWithLoan,
      })),
    };
  }

  /**
   * Takes over saved accounts: only those still managed, positions only in instruments the market still
   * lists. Nothing changes unless the whole state could be read.
   */
  restore(state: LedgerState, instrumentOf: InstrumentLookup): void {
    const restored: AccountBook[] = [];
    for (const saved of state.accounts) {
      if (!this.books.has(saved.account)) continue;
      const positions = new Map<number, Position>();
      for (const { conId, ...figures } of saved.positions) {
        const instrument = instrumentOf(conId);
        if (instrument) positions.set(conId, { account: saved.account, instrument, ...figures });
      }
      restored.push({
        name: saved.account,
        cash: new Map(Object.entries(saved.cash)),
        positions,
        day: saved.day,
        previousDayEquityWithLoan: saved.previousDayEquityWithLoan,
      });
    }
    for (const book of restored) this.books.set(book.name, book);
  }

  /** USD per unit of `currency`, from the universe's FX pairs. */
  usdRate(currency: string): number {
    if (currency === BASE_CURRENCY || currency === '') return 1;
    for (const instrument of this.market.instruments()) {
      if (instrument.secType !== 'CASH') continue;
      const direct = instrument.symbol === currency && instrument.currency === BASE_CURRENCY;
      const inverse = instrument.symbol === BASE_CURRENCY && instrument.currency === currency;
      if (!direct && !inverse) continue;
      const quote = this.market.quote(instrument.conId);
      const mid = quote.bid > 0 && quote.ask > 0 ? (quote.bid + quote.ask) / 2 : quote.last;
      if (!(mid > 0)) break;
      return direct ? mid : 1 / mid;
    }
    return FIXED_USD_RATES[currency] ?? 1;
  }

  private book(account: string): AccountBook {
    const book = this.books.get(account);
    if (!book) throw new Error(`Unknown account ${account}`);
    return book;
  }

  /** A new trading day: yesterday's close becomes the daily basis and today's realized PnL starts at 0. */
  private rollDay(book: AccountBook): void {
    const day = easternDay(this.now());
    if (book.day === day) return;
    book.day = day;
    for (const [conId, position] of book.positions) {
      if (position.quantity === 0) {
        book.positions.delete(conId);
        continue;
      }
      position.realizedToday = 0;
      position.dailyBasis = this.market.quote(conId).close;
    }
    book.previousDayEquityWithLoan = this.value(book.name).equityWithLoan;
  }
}
