import { OrderAction, OrderType, SecType, type Contract, type Order as IbOrder } from '@stoqey/ib';
import { Decoder } from '@stoqey/ib/dist/core/io/decoder';
import { Encoder } from '@stoqey/ib/dist/core/io/encoder';
import type { Instrument } from '../../../../src/simulator/market/instrument';
import { FieldReader, InvalidRequest } from '../../../../src/simulator/protocol/field-reader';
import { fieldsAt, formatField, type WireScalar } from '../../../../src/simulator/protocol/framing';
import { ServerVersion } from '../../../../src/simulator/protocol/versions';
import { completedOrderMessage } from '../../../../src/simulator/broker/completed-order-messages';
import {
  executionMessage,
  orderStatusMessage,
  wireSize,
} from '../../../../src/simulator/broker/order-messages';
import { parseCancelOrder, parseGlobalCancel } from '../../../../src/simulator/broker/cancel-parser';
import { parsePlaceOrder } from '../../../../src/simulator/broker/order-parser';

const VERSIONS = [ServerVersion.OLDEST, 157, 169, 178, 187, 189, 190, 192, ServerVersion.NEWEST];

/** What @stoqey/ib's Encoder writes at `serverVersion`, as fields (booleans 1/0, unset empty). */
function encode(serverVersion: number, write: (encoder: Encoder) => void): string[] {
  let tokens: unknown[] = [];
  const encoder = new Encoder({
    serverVersion,
    sendMsg: (...sent: unknown[]) => (tokens = sent),
    emitError: (message: string) => {
      throw new Error(message);
    },
  });
  write(encoder);
  return (tokens.flat(Infinity) as WireScalar[]).map((value) =>
    typeof value === 'boolean' ? (value ? '1' : '0') : formatField(value),
  );
}

function reader(fields: string[], serverVersion: number): FieldReader {
  const read = new FieldReader(fields, serverVersion);
  read.skip(1);
  return read;
}

/** Decodes one message with @stoqey/ib's Decoder at `serverVersion`; returns its events and errors. */
function decode(fields: string[], serverVersion: number): { events: unknown[][]; errors: string[] } {
  const events: unknown[][] = [];
  const errors: string[] = [];
  const decoder = new Decoder({
    serverVersion,
    emitEvent: (_name: string, ...args: unknown[]) => events.push(args),
    emitInfo: () => undefined,
    emitError: (message: string) => errors.push(message),
  });
  decoder.enqueueMessage(fields);
  decoder.process();
  return { events, errors };
}

const AAPL: Contract = {
  conId: 265598,
  symbol: 'AAPL',
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
};
const instrument = {
  conId: 265598,
  symbol: 'AAPL',
  secType: 'STK',
  exchange: 'SMART',
  primaryExchange: 'NASDAQ',
  currency: 'USD',
  localSymbol: 'AAPL',
  tradingClass: 'NMS',
  multiplier: 1,
} as Instrument;

function ticketAt(serverVersion: number, order: IbOrder) {
  const fields = encode(serverVersion, (encoder) => encoder.placeOrder(5, AAPL, order));
  return parsePlaceOrder(reader(fields, serverVersion));
}

describe.each(VERSIONS)('broker requests at server version %i', (version) => {
  it('reads CANCEL_ORDER (version field until v192, RFQ fields at v187..189) to its last field', () => {
    const fields = encode(version, (encoder) => encoder.cancelOrder(4321, {}));
    const read = reader(fields, version);
    expect(parseCancelOrder(read)).toMatchObject({ orderId: 4321, manualOrderIndicator: undefined });
    expect(read.remaining).toBe(0);
  });

  it('reads REQ_GLOBAL_CANCEL to its last field', () => {
    const fields = encode(version, (encoder) => encoder.reqGlobalCancel({}));
    const read = reader(fields, version);
    expect(parseGlobalCancel(read)).toEqual({ extOperator: '', manualOrderIndicator: undefined });
    expect(read.remaining).toBe(0);
  });
});

describe('version-gated values', () => {
  it('reads the CME tagging fields of CANCEL_ORDER and REQ_GLOBAL_CANCEL from v192', () => {
    const cancel = encode(192, (encoder) =>
      encoder.cancelOrder(9, { extOperator: 'op', manualOrderIndicator: 1 }),
    );
    expect(parseCancelOrder(reader(cancel, 192))).toMatchObject({
      orderId: 9,
      extOperator: 'op',
      manualOrderIndicator: 1,
    });
    const global = encode(192, (encoder) =>
      encoder.reqGlobalCancel({ extOperator: 'op', manualOrderIndicator: 0 }),
    );
    expect(parseGlobalCancel(reader(global, 192))).toEqual({ extOperator: 'op', manualOrderIndicator: 0 });
  });

  it('refuses a fractional size below v163 (321 with the order id) and takes it from v163', () => {
    const order: IbOrder = { action: OrderAction.BUY, orderType: OrderType.MKT, totalQuantity: 1.5 };
    expect(() => ticketAt(157, order)).toThrow(InvalidRequest);
    expect(ticketAt(163, order).totalQuantity).toBe(1.5);
  });

  it('writes sizes as integers below v163 and as decimals from it', () => {
    expect(fieldsAt(157, [wireSize(2.5), wireSize(7)])).toEqual(['3', '7']);
    expect(fieldsAt(163, [wireSize(2.5), wireSize(7)])).toEqual(['2.5', '7']);
    const ticket = ticketAt(ServerVersion.NEWEST, {
      action: OrderAction.BUY,
      orderType: OrderType.MKT,
      totalQuantity: 10,
    });
    const status = orderStatusMessage({ ticket, permId: 1, clientId: 2 }, 'Submitted', 2.5, 100, 100);
    expect(fieldsAt(157, status).slice(3, 5)).toEqual(['3', '8']);
    expect(fieldsAt(ServerVersion.NEWEST, status).slice(3, 5)).toEqual(['2.5', '7.5']);
  });

  it('writes EXECUTION_DATA with pendingPriceRevision from v178 only', () => {
    const execution = executionMessage(1, {
      execId: 'e1',
      orderId: 5,
      clientId: 2,
      permId: 3,
      instrument,
      exchange: 'ISLAND',
      account: 'DU1',
      side: 'BOT',
      shares: 10,
      price: 100,
      time: 0,
      timeText: '20250611 15:00:00',
      cumQty: 10,
      avgPrice: 100,
      orderRef: '',
      commission: 1,
      commissionCurrency: 'USD',
      realizedPnl: undefined,
    });
    for (const version of [151, 177, 178, 193]) {
      const fields = fieldsAt(version, execution).map(formatField);
      expect(fields).toHaveLength(version >= 178 ? 32 : 31);
      expect(decode(fields, version).errors).toEqual([]);
    }
  });
});

describe('COMPLETED_ORDER below and from v177', () => {
  const ticket = ticketAt(ServerVersion.NEWEST, {
    action: OrderAction.BUY,
    orderType: OrderType.LMT,
    lmtPrice: 100,
    totalQuantity: 10,
    account: 'DU1',
  });
  const completed = completedOrderMessage(
    {
      ticket,
      instrument,
      account: 'DU1',
      clientId: 2,
      permId: 77,
      status: 'Filled',
      filled: 10,
      completedTime: 0,
    },
    undefined,
  );

  it.each([177, 178, 185, 193])('decodes with @stoqey/ib at v%i', (version) => {
    const { events, errors } = decode(fieldsAt(version, completed).map(formatField), version);
    expect(errors).toEqual([]);
    expect(events[0]?.[1]).toMatchObject({ permId: 77, totalQuantity: 10, filledQuantity: 10 });
  });

  it.each([151, 157, 170, 176])('carries IB decoders’ faProfile after faPercentage at v%i', (version) => {
    const fields = fieldsAt(version, completed).map(formatField);
    // @stoqey/ib reads no faProfile in COMPLETED_ORDER (unlike ibapi and ib-tws-api): without it, it decodes.
    const faProfileAt = 1 + 11 + 16 + 3; // message id, contract, action..goodAfterTime, the FA params
    expect(fields[faProfileAt]).toBe('');
    const withoutFaProfile = [...fields.slice(0, faProfileAt), ...fields.slice(faProfileAt + 1)];
    const { events, errors } = decode(withoutFaProfile, version);
    expect(errors).toEqual([]);
    expect(events[0]?.[1]).toMatchObject({ permId: 77, totalQuantity: 10, account: 'DU1' });
  });
});
