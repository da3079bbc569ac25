import type { ExecutionRecord, OrderStatus } from './order-messages';
import type { OrderTicket } from './order-ticket';

// The simulated broker's state as it is written to disk (SIM_STATE_FILE): plain JSON, instruments by conId
// (the market universe rebuilds them), so that a restarted simulator keeps what IB's servers would keep.

export const BROKER_STATE_VERSION = 1;

export interface OrderState {
  ticket: OrderTicket;
  conId: number;
  account: string;
  clientId: number;
  permId: number;
  status: OrderStatus;
  filled: number;
  filledValue: number;
  lastFillPrice: number;
  tradedValue: number;
  held: boolean;
  triggered: boolean;
  trailStop?: number;
  /** Epoch ms the order was filled or cancelled. */
  completedTime?: number;
}

export type ExecutionState = Omit<ExecutionRecord, 'instrument'> & { conId: number };

export interface OrderBookState {
  firstOrderId: number;
  /** The id NEXT_VALID_ID reports next: above every id REQ_IDS handed out. */
  nextOrderId: number;
  nextPermId: number;
  execCounter: number;
  orders: OrderState[];
  executions: ExecutionState[];
}

export interface PositionState {
  conId: number;
  quantity: number;
  averageCost: number;
  averagePrice: number;
  dailyBasis: number;
  realizedToday: number;
}

export interface AccountState {
  account: string;
  cash: Record<string, number>;
  positions: PositionState[];
  /** Eastern trading day the daily figures belong to. */
  day: number;
  previousDayEquityWithLoan: number;
}

export interface LedgerState {
  accounts: AccountState[];
}

export interface BrokerState {
  version: typeof BROKER_STATE_VERSION;
  book: OrderBookState;
  ledger: LedgerState;
}

const ORDER_STATUSES: readonly string[] = ['PreSubmitted', 'Submitted', 'Filled', 'Cancelled'];

/** Reads untrusted JSON field by field; the first mismatch names its path. */
class Shape {
  constructor(
    private readonly value: Record<string, unknown>,
    private readonly path: string,
  ) {}

  static of(value: unknown, path: string): Shape {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${path} is not an object`);
    }
    return new Shape(value as Record<string, unknown>, path);
  }

  number(key: string): number {
    const value = this.value[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.mismatch(key, 'a number');
    return value;
  }

  optionalNumber(key: string): number | undefined {
    return this.value[key] === undefined || this.value[key] === null ? undefined : this.number(key);
  }

  string(key: string): string {
    const value = this.value[key];
    if (typeof value !== 'string') throw this.mismatch(key, 'a string');
    return value;
  }

  boolean(key: string): boolean {
    const value = this.value[key];
    if (typeof value !== 'boolean') throw this.mismatch(key, 'a boolean');
    return value;
  }

  object(key: string): Shape {
    return Shape.of(this.value[key], `${this.path}.${key}`);
  }

  array<T>(key: string, item: (value: unknown, path: string) => T): T[] {
    const value = this.value[key];
    if (!Array.isArray(value)) throw this.mismatch(key, 'an array');
    return value.map((entry, index) => item(entry, `${this.path}.${key}[${index}]`));
  }

  numberRecord(key: string): Record<string, number> {
    const record = this.object(key);
    return Object.fromEntries(Object.keys(record.value).map((name) => [name, record.number(name)]));
  }

  /** The raw object, once its checked fields were read. */
  get raw(): Record<string, unknown> {
    return this.value;
  }

  private mismatch(key: string, expected: string): Error {
    return new Error(`${this.path}.${key} is not ${expected}`);
  }
}

/**
 * A ticket is what PLACE_ORDER carried (some 130 fields); the fields the broker computes with and the
 * lists OPEN_ORDER walks are checked, the rest is taken as written (the simulator wrote it).
 */
function ticketState(value: unknown, path: string): OrderTicket {
  const ticket = Shape.of(value, path);
  ticket.number('orderId');
  ticket.string('action');
  ticket.string('orderType');
  ticket.optionalNumber('totalQuantity');
  ticket.optionalNumber('lmtPrice');
  ticket.optionalNumber('auxPrice');
  ticket.number('parentId');
  ticket.boolean('transmit');
  ticket.string('orderRef');
  ticket.string('ocaGroup');
  ticket.object('contract').array('comboLegs', (leg, legPath) => Shape.of(leg, legPath));
  for (const list of ['smartComboRoutingParams', 'algoParams', 'conditions']) {
    ticket.array(list, (entry, entryPath) => Shape.of(entry, entryPath));
  }
  // JSON writes an unset leg price (undefined) as null.
  const legPrices = ticket.array('orderComboLegPrices', (price) =>
    typeof price === 'number' ? price : undefined,
  );
  return { ...ticket.raw, orderComboLegPrices: legPrices } as unknown as OrderTicket;
}

function orderState(value: unknown, path: string): OrderState {
  const order = Shape.of(value, path);
  const status = order.string('status');
  if (!ORDER_STATUSES.includes(status)) throw new Error(`${path}.status "${status}" is not an order status`);
  return {
    ticket: ticketState(order.raw.ticket, `${path}.ticket`),
    conId: order.number('conId'),
    account: order.string('account'),
    clientId: order.number('clientId'),
    permId: order.number('permId'),
    status: status as OrderStatus,
    filled: order.number('filled'),
    filledValue: order.number('filledValue'),
    lastFillPrice: order.number('lastFillPrice'),
    tradedValue: order.number('tradedValue'),
    held: order.boolean('held'),
    triggered: order.boolean('triggered'),
    trailStop: order.optionalNumber('trailStop'),
    completedTime: order.optionalNumber('completedTime'),
  };
}

function executionState(value: unknown, path: string): ExecutionState {
  const execution = Shape.of(value, path);
  const side = execution.string('side');
  if (side !== 'BOT' && side !== 'SLD') throw new Error(`${path}.side is not BOT or SLD`);
  return {
    execId: execution.string('execId'),
    orderId: execution.number('orderId'),
    clientId: execution.number('clientId'),
    permId: execution.number('permId'),
    conId: execution.number('conId'),
    exchange: execution.string('exchange'),
    account: execution.string('account'),
    side,
    shares: execution.number('shares'),
    price: execution.number('price'),
    time: execution.number('time'),
    timeText: execution.string('timeText'),
    cumQty: execution.number('cumQty'),
    avgPrice: execution.number('avgPrice'),
    orderRef: execution.string('orderRef'),
    commission: execution.number('commission'),
    commissionCurrency: execution.string('commissionCurrency'),
    realizedPnl: execution.optionalNumber('realizedPnl'),
  };
}

function accountState(value: unknown, path: string): AccountState {
  const account = Shape.of(value, path);
  return {
    account: account.string('account'),
    cash: account.numberRecord('cash'),
    positions: account.array('positions', (entry, entryPath) => {
      const position = Shape.of(entry, entryPath);
      return {
        conId: position.number('conId'),
        quantity: position.number('quantity'),
        averageCost: position.number('averageCost'),
        averagePrice: position.number('averagePrice'),
        dailyBasis: position.number('dailyBasis'),
        realizedToday: position.number('realizedToday'),
      };
    }),
    day: account.number('day'),
    previousDayEquityWithLoan: account.number('previousDayEquityWithLoan'),
  };
}

/** Checks a parsed state file; throws, naming the first field that is wrong, when it is not one. */
export function parseBrokerState(value: unknown): BrokerState {
  const state = Shape.of(value, 'state');
  const version = state.number('version');
  if (version !== BROKER_STATE_VERSION) throw new Error(`state.version ${version} is not supported`);
  const book = state.object('book');
  return {
    version: BROKER_STATE_VERSION,
    book: {
      firstOrderId: book.number('firstOrderId'),
      nextOrderId: book.number('nextOrderId'),
      nextPermId: book.number('nextPermId'),
      execCounter: book.number('execCounter'),
      orders: book.array('orders', orderState),
      executions: book.array('executions', executionState),
    },
    ledger: { accounts: state.object('ledger').array('accounts', accountState) },
  };
}
