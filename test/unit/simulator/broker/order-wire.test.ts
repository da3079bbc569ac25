import {
  ConjunctionConnection,
  ExecutionCondition,
  OrderAction,
  OrderType,
  PriceCondition,
  SecType,
  TriggerMethod,
  VolumeCondition,
  type Contract,
  type Order as IbOrder,
} from '@stoqey/ib';
import { Decoder } from '@stoqey/ib/dist/core/io/decoder';
import { Encoder } from '@stoqey/ib/dist/core/io/encoder';
import type { Instrument } from '../../../../src/simulator/market/instrument';
import { FieldReader } from '../../../../src/simulator/protocol/field-reader';
import {
  fieldsAt,
  formatField,
  type WireScalar,
  type WireValue,
} from '../../../../src/simulator/protocol/framing';
import { ServerVersion } from '../../../../src/simulator/protocol/versions';
import { openOrderMessage, type WhatIfResult } from '../../../../src/simulator/broker/order-messages';
import { parsePlaceOrder } from '../../../../src/simulator/broker/order-parser';
import type { OrderTicket } from '../../../../src/simulator/broker/order-ticket';

/** What @stoqey/ib 1.6.10 puts on the wire for placeOrder, split into fields as the server reads them. */
function encodePlaceOrder(
  orderId: number,
  contract: Contract,
  order: IbOrder,
  serverVersion: number = ServerVersion.NEWEST,
): string[] {
  let tokens: unknown[] = [];
  const encoder = new Encoder({
    serverVersion,
    sendMsg: (sent: unknown[]) => (tokens = sent),
    emitError: (message: string) => {
      throw new Error(message);
    },
  });
  encoder.placeOrder(orderId, contract, order);
  // As the client's socket does: flatten, booleans as 1/0, join (undefined and null become empty,
  // numbers print as JavaScript prints them, Infinity included).
  return (tokens.flat(Infinity) as WireScalar[]).map((value) =>
    value === undefined || value === null
      ? ''
      : typeof value === 'boolean'
        ? value
          ? '1'
          : '0'
        : String(value),
  );
}

function parse(
  fields: string[],
  serverVersion: number = ServerVersion.NEWEST,
): { ticket: OrderTicket; left: number } {
  const reader = new FieldReader(fields, serverVersion);
  reader.skip(1);
  const ticket = parsePlaceOrder(reader);
  return { ticket, left: reader.remaining };
}

/** Decodes one server message with the client's Decoder; returns the events and any error. */
function decode(
  fields: WireValue[],
  serverVersion: number = ServerVersion.NEWEST,
): { events: { name: string; args: unknown[] }[]; errors: string[] } {
  const events: { name: string; args: unknown[] }[] = [];
  const errors: string[] = [];
  const decoder = new Decoder({
    serverVersion,
    emitEvent: (name: string, ...args: unknown[]) => events.push({ name, args }),
    emitInfo: () => undefined,
    emitError: (message: string) => errors.push(message),
  });
  decoder.enqueueMessage(fieldsAt(serverVersion, fields).map(formatField));
  decoder.process();
  return { events, errors };
}

const aapl: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};
const instrument: Instrument = {
  conId: 265598,
  symbol: 'AAPL',
  secType: 'STK',
  exchange: 'SMART',
  primaryExchange: 'NASDAQ',
  currency: 'USD',
  localSymbol: 'AAPL',
  tradingClass: 'NMS',
  multiplier: 1,
  minTick: 0.01,
  longName: 'APPLE INC',
  industry: 'Technology',
  category: 'Computers',
  timeZoneId: 'US/Eastern',
  entitlement: 'realtime',
  validExchanges: ['SMART'],
  orderTypes: ['LMT'],
};

const richOrders: [string, Contract, IbOrder][] = [
  [
    'a plain limit order',
    aapl,
    {
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      totalQuantity: 100,
      lmtPrice: 150.25,
      transmit: true,
    },
  ],
  [
    'a combo (BAG) order with legs, leg prices and routing params',
    {
      symbol: 'SPY',
      secType: SecType.BAG,
      exchange: 'SMART',
      currency: 'USD',
      comboLegs: [
        { conId: 1, ratio: 1, action: OrderAction.BUY, exchange: 'SMART' },
        { conId: 2, ratio: 2, action: OrderAction.SELL, exchange: 'SMART' },
      ],
    },
    {
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      totalQuantity: 1,
      orderComboLegs: [{ price: 1.5 }, { price: 2.5 }],
      smartComboRoutingParams: [{ tag: 'NonGuaranteed', value: '1' }],
    },
  ],
  [
    'delta-neutral, scale, hedge, algo and conditions',
    { ...aapl, deltaNeutralContract: { conId: 9, delta: 0.5, price: 10 } },
    {
      action: OrderAction.SELL,
      orderType: OrderType.VOL,
      totalQuantity: 3,
      volatility: 0.3,
      volatilityType: 2,
      deltaNeutralOrderType: 'MKT',
      deltaNeutralConId: 7,
      scaleInitLevelSize: 1,
      scaleSubsLevelSize: 1,
      scalePriceIncrement: 0.05,
      scaleAutoReset: true,
      hedgeType: 'D',
      hedgeParam: '0.5',
      algoStrategy: 'Adaptive',
      algoParams: [{ tag: 'adaptivePriority', value: 'Normal' }],
      conditions: [
        new PriceCondition(151, TriggerMethod.Default, 265598, 'SMART', true, ConjunctionConnection.AND),
        new ExecutionCondition('SMART', SecType.STK, 'MSFT', ConjunctionConnection.OR),
        new VolumeCondition(1000, 265598, 'SMART', false, ConjunctionConnection.AND),
      ],
      conditionsIgnoreRth: true,
      conditionsCancelOrder: false,
    },
  ],
  [
    'a PEG BENCH order',
    aapl,
    {
      action: OrderAction.BUY,
      orderType: OrderType.PEG_BENCH,
      totalQuantity: 10,
      referenceContractId: 756733,
      isPeggedChangeAmountDecrease: false,
      peggedChangeAmount: 0.1,
      referenceChangeAmount: 0.2,
      referenceExchangeId: 'ARCA',
    },
  ],
  [
    'a PEG BEST order competing up to mid, routed to IBKRATS',
    { ...aapl, exchange: 'IBKRATS' },
    {
      action: OrderAction.BUY,
      orderType: OrderType.PEG_BEST,
      totalQuantity: 10,
      minTradeQty: 5,
      minCompeteSize: 100,
      competeAgainstBestOffset: Infinity,
      midOffsetAtWhole: 0.01,
      midOffsetAtHalf: 0.005,
    },
  ],
  [
    'a PEG MID order',
    aapl,
    {
      action: OrderAction.SELL,
      orderType: OrderType.PEG_MID,
      totalQuantity: 10,
      midOffsetAtWhole: 0.02,
      midOffsetAtHalf: 0.01,
    },
  ],
];

describe('PLACE_ORDER parsing against @stoqey/ib 1.6.10 Encoder output', () => {
  it('reads a plain order in exactly 118 fields', () => {
    const fields = encodePlaceOrder(1000, aapl, {
      action: OrderAction.BUY,
      orderType: OrderType.LMT,
      totalQuantity: 100,
      lmtPrice: 150.25,
      tif: 'DAY',
      account: 'DU1234567',
      orderRef: 'ref-1',
      transmit: true,
      parentId: 0,
    });
    expect(fields).toHaveLength(118);
    const { ticket, left } = parse(fields);
    expect(left).toBe(0);
    expect(ticket).toMatchObject({
      orderId: 1000,
      action: 'BUY',
      totalQuantity: 100,
      orderType: 'LMT',
      lmtPrice: 150.25,
      auxPrice: undefined,
      tif: 'DAY',
      account: 'DU1234567',
      orderRef: 'ref-1',
      transmit: true,
      parentId: 0,
      whatIf: false,
    });
    expect(ticket.contract).toMatchObject({
      conId: 265598,
      symbol: 'AAPL',
      secType: 'STK',
      exchange: 'SMART',
    });
  });

  it('treats an unset transmit (empty field) as true and an explicit false as held', () => {
    const unset = parse(
      encodePlaceOrder(1, aapl, { action: OrderAction.BUY, orderType: OrderType.MKT, totalQuantity: 1 }),
    );
    const held = parse(
      encodePlaceOrder(1, aapl, {
        action: OrderAction.BUY,
        orderType: OrderType.MKT,
        totalQuantity: 1,
        transmit: false,
      }),
    );
    expect(unset.ticket.transmit).toBe(true);
    expect(held.ticket.transmit).toBe(false);
    expect(held.ticket.transmitExplicitlyFalse).toBe(true);
  });

  it('reads trailing, what-if and bracket fields', () => {
    const { ticket, left } = parse(
      encodePlaceOrder(7, aapl, {
        action: OrderAction.SELL,
        orderType: OrderType.TRAIL,
        totalQuantity: 5,
        trailingPercent: 1.5,
        trailStopPrice: 140,
        parentId: 6,
        ocaGroup: 'g1',
        whatIf: true,
      }),
    );
    expect(left).toBe(0);
    expect(ticket).toMatchObject({
      orderType: 'TRAIL',
      trailingPercent: 1.5,
      trailStopPrice: 140,
      parentId: 6,
      ocaGroup: 'g1',
      whatIf: true,
    });
  });

  it.each(richOrders)('consumes every optional block of %s', (_name, contract, order) => {
    const { ticket, left } = parse(encodePlaceOrder(42, contract, order));
    expect(left).toBe(0);
    expect(ticket.orderId).toBe(42);
    expect(ticket.totalQuantity).toBe(order.totalQuantity);
  });

  it('keeps the optional blocks it read', () => {
    const [, bagContract, bagOrder] = richOrders[1] ?? [];
    const bag = parse(encodePlaceOrder(1, bagContract as Contract, bagOrder as IbOrder)).ticket;
    expect(bag.contract.comboLegs.map((leg) => [leg.conId, leg.ratio, leg.action])).toEqual([
      [1, 1, 'BUY'],
      [2, 2, 'SELL'],
    ]);
    expect(bag.orderComboLegPrices).toEqual([1.5, 2.5]);
    const [, richContract, richOrder] = richOrders[2] ?? [];
    const rich = parse(encodePlaceOrder(1, richContract as Contract, richOrder as IbOrder)).ticket;
    expect(rich.deltaNeutral?.conId).toBe(7);
    expect(rich.scaleAdjustments?.autoReset).toBe(true);
    expect(rich.hedgeParam).toBe('0.5');
    expect(rich.algoParams).toEqual([{ tag: 'adaptivePriority', value: 'Normal' }]);
    expect(rich.conditions.map((condition) => condition.type)).toEqual([1, 5, 6]);
    expect(rich.deltaNeutralContract).toEqual({ conId: 9, delta: 0.5, price: 10 });
    const [, bestContract, bestOrder] = richOrders[4] ?? [];
    const best = parse(encodePlaceOrder(1, bestContract as Contract, bestOrder as IbOrder)).ticket;
    expect(best).toMatchObject({
      minTradeQty: 5,
      minCompeteSize: 100,
      competeUpToMid: true,
      midOffsetAtHalf: 0.005,
    });
  });
});

describe('OPEN_ORDER against @stoqey/ib 1.6.10 Decoder', () => {
  const identity = (ticket: OrderTicket) => ({
    ticket,
    instrument,
    account: 'DU1234567',
    clientId: 3,
    permId: 1_000_000_123,
  });

  it('is 133 fields for a plain order and decodes to what was placed', () => {
    const { ticket } = parse(
      encodePlaceOrder(1000, aapl, {
        action: OrderAction.BUY,
        orderType: OrderType.LMT,
        totalQuantity: 100,
        lmtPrice: 150.25,
        transmit: true,
      }),
    );
    const message = openOrderMessage(identity(ticket), 'Submitted');
    expect(fieldsAt(ServerVersion.NEWEST, message)).toHaveLength(133);
    const { events, errors } = decode(message);
    expect(errors).toEqual([]);
    const [orderId, contract, order, state] = events[0]?.args as [
      number,
      Contract,
      IbOrder,
      { status: string },
    ];
    expect(orderId).toBe(1000);
    expect(contract).toMatchObject({ conId: 265598, symbol: 'AAPL', exchange: 'SMART', tradingClass: 'NMS' });
    expect(order).toMatchObject({
      action: 'BUY',
      totalQuantity: 100,
      lmtPrice: 150.25,
      permId: 1_000_000_123,
      clientId: 3,
    });
    expect(state.status).toBe('Submitted');
  });

  it.each(richOrders)('decodes without error for %s', (_name, contract, order) => {
    const { ticket } = parse(encodePlaceOrder(42, contract, order));
    const { events, errors } = decode(openOrderMessage(identity(ticket), 'PreSubmitted'));
    expect(errors).toEqual([]);
    expect(events[0]?.name).toBe('openOrder');
  });

  it('carries the what-if margin and commission', () => {
    const { ticket } = parse(
      encodePlaceOrder(5, aapl, {
        action: OrderAction.BUY,
        orderType: OrderType.MKT,
        totalQuantity: 10,
        whatIf: true,
      }),
    );
    const whatIf: WhatIfResult = {
      initMarginBefore: 0,
      maintMarginBefore: 0,
      equityWithLoanBefore: 1_000_000,
      initMarginChange: 1150,
      maintMarginChange: 575,
      equityWithLoanChange: -1,
      initMarginAfter: 1150,
      maintMarginAfter: 575,
      equityWithLoanAfter: 999_999,
      commission: 1,
      minCommission: 1,
      maxCommission: 1,
      commissionCurrency: 'USD',
    };
    const { events, errors } = decode(openOrderMessage(identity(ticket), 'PreSubmitted', whatIf));
    expect(errors).toEqual([]);
    const [, , order, state] = events[0]?.args as [number, Contract, IbOrder, Record<string, unknown>];
    expect(order.whatIf).toBe(true);
    expect(state).toMatchObject({
      status: 'PreSubmitted',
      initMarginChange: 1150,
      commission: 1,
      commissionCurrency: 'USD',
    });
  });
});

/** The ends of the range the simulator speaks, and the Python client's (157..178). */
const VERSIONS = [ServerVersion.OLDEST, 157, ServerVersion.PENDING_PRICE_REVISION, 193];

describe.each(VERSIONS)('PLACE_ORDER and OPEN_ORDER at server version %i', (version) => {
  // @stoqey/ib refuses the PEG BEST/MID fields below v170 itself, as IB's clients do.
  const orders = richOrders.filter(([, , order]) => version >= 170 || order.midOffsetAtWhole === undefined);
  const identity = (ticket: OrderTicket) => ({ ticket, instrument, account: 'DU1', clientId: 3, permId: 77 });

  it.each(orders)('parses %s with no field left over, and OPEN_ORDER decodes', (_name, contract, order) => {
    const { ticket, left } = parse(encodePlaceOrder(42, contract, order, version), version);
    expect(left).toBe(0);
    expect(ticket).toMatchObject({ orderId: 42, totalQuantity: order.totalQuantity });
    const { events, errors } = decode(openOrderMessage(identity(ticket), 'Submitted'), version);
    expect(errors).toEqual([]);
    const [orderId, , decoded] = events[0]?.args as [number, Contract, IbOrder];
    expect([orderId, decoded.totalQuantity, decoded.permId]).toEqual([42, order.totalQuantity, 77]);
  });

  it('reads the fields of its version and nothing after them', () => {
    const order = { action: OrderAction.BUY, orderType: OrderType.LMT, totalQuantity: 3, lmtPrice: 9.5 };
    const fields = encodePlaceOrder(8, aapl, { ...order, account: 'DU1', transmit: true }, version);
    const { ticket, left } = parse(fields, version);
    expect(left).toBe(0);
    expect(ticket).toMatchObject({ account: 'DU1', lmtPrice: 9.5, transmit: true, tif: '' });
    // A field more is left over (never read as the next field); a field fewer is unreadable.
    expect(parse([...fields, ''], version).left).toBe(1);
    expect(() => parse(fields.slice(0, -1), version)).toThrow(/ended after/);
  });
});
