import { Subject } from 'rxjs';
import { DomainError } from '../../../src/common/domain-error';
import { IB_REQUEST_TIMEOUT_MS } from '../../../src/connection/ib-session.repository';
import {
  CANCEL_ALL_SETTLE_MS,
  OrderLink,
  REJECTION_GRACE_MS,
  type OrderWire,
} from '../../../src/orders/order-link';
import type {
  BrokerEvent,
  OrderContractRef,
  OrderFields,
  OrderReport,
} from '../../../src/orders/order-model';
import { FakeClock } from '../../support/fake-clock';

const AAPL: OrderContractRef = { conId: 265598, symbol: 'AAPL', exchange: 'SMART', currency: 'USD' };
const BUY_LMT: OrderFields = { side: 'BUY', quantity: 1, orderType: 'LMT', limitPrice: 100 };
/** IB's "unset" double. */
const UNSET = 1.7976931348623157e308;

function report(orderId: number, status: string): BrokerEvent {
  const body: OrderReport = { orderId, contract: {}, orderType: 'LMT', outsideRth: false, status };
  return { kind: 'report', event: 'orderStatus', report: body, fresh: true };
}

function error(orderId: number, code: number, message = `IB says ${code}`): BrokerEvent {
  return { kind: 'error', orderId, code, message };
}

/** An order link on a fake wire: what it sent, and broker events the test emits (also from inside a send). */
function linkOnFakeWire() {
  const clock = new FakeClock();
  const events = new Subject<BrokerEvent>();
  const sent: string[] = [];
  let onSend: (message: string) => void = () => undefined;
  const record = (message: string): void => {
    sent.push(message);
    onSend(message);
  };
  const wire: OrderWire = {
    placeOrder: (orderId, _contract, _fields, whatIf) => record(`${whatIf ? 'whatIf' : 'place'} ${orderId}`),
    modifyOrder: (orderId) => record(`modify ${orderId}`),
    cancelOrder: (orderId) => record(`cancel ${orderId}`),
    cancelAllOrders: () => record('cancelAll'),
  };
  return {
    link: new OrderLink(wire, events, clock),
    clock,
    events,
    sent,
    /** Answers each message from inside the send, as a broker answering at once would. */
    answerWith: (answer: (message: string) => BrokerEvent[]) => {
      onSend = (message) => answer(message).forEach((event) => events.next(event));
    },
  };
}

/** The promise's outcome once it settled, or 'pending'. */
function outcomeOf<T>(promise: Promise<T>): { current: { value: T } | { error: unknown } | 'pending' } {
  const box: { current: { value: T } | { error: unknown } | 'pending' } = { current: 'pending' };
  promise.then(
    (value) => (box.current = { value }),
    (thrown: unknown) => (box.current = { error: thrown }),
  );
  return box;
}

const legs = [101, 102, 103].map((orderId) => ({ orderId, fields: BUY_LMT }));

describe('OrderLink: sending and waiting for the broker through awaitReply', () => {
  describe('acknowledgements (place, modify)', () => {
    it('answers as soon as every leg is acknowledged, with nothing left listening or pending', async () => {
      const { link, clock, events, sent } = linkOnFakeWire();
      const answers = outcomeOf(link.place(AAPL, legs));
      expect(sent).toEqual(['place 101', 'place 102', 'place 103']);
      events.next(report(101, 'PreSubmitted'));
      events.next(report(102, 'Submitted'));
      await clock.advance(0);
      expect(answers.current).toBe('pending');
      events.next(report(103, 'Submitted'));
      await clock.advance(0);
      expect(answers.current).toEqual({
        value: new Map([
          [101, { accepted: true }],
          [102, { accepted: true }],
          [103, { accepted: true }],
        ]),
      });
      expect(events.observed).toBe(false);
      expect(clock.pendingTimers).toBe(0);
    });

    it('hears an answer that arrives while the orders are being sent', async () => {
      const { link, answerWith } = linkOnFakeWire();
      answerWith((message) => [report(Number(message.split(' ')[1]), 'Submitted')]);
      const answers = await link.place(AAPL, legs);
      expect([...answers.keys()]).toEqual([101, 102, 103]);
    });

    it('takes neither information codes nor a cancel confirmation for a verdict', async () => {
      const { link, clock, events } = linkOnFakeWire();
      const answers = outcomeOf(link.modify(101, AAPL, BUY_LMT));
      events.next(error(101, 2104, 'Market data farm connection is OK'));
      events.next(error(101, 399, 'Order message: warning'));
      events.next(error(101, 10167, 'Displaying delayed market data'));
      events.next(error(101, 202, 'Order Canceled'));
      events.next(report(999, 'Submitted'));
      await clock.advance(IB_REQUEST_TIMEOUT_MS - 1);
      expect(answers.current).toBe('pending');
      events.next(error(101, 201, 'Order rejected - reason: no'));
      await clock.advance(0);
      expect(answers.current).toEqual({
        value: new Map([[101, { accepted: false, code: 201, message: 'Order rejected - reason: no' }]]),
      });
    });

    it('after one leg is rejected, waits for the others only the grace period', async () => {
      const { link, clock, events } = linkOnFakeWire();
      const answers = outcomeOf(link.place(AAPL, legs));
      events.next(report(101, 'PreSubmitted'));
      events.next(error(102, 201, 'Order rejected - reason: margin'));
      await clock.advance(REJECTION_GRACE_MS - 1);
      expect(answers.current).toBe('pending');
      await clock.advance(1);
      expect(answers.current).toEqual({
        value: new Map([
          [101, { accepted: true }],
          [102, { accepted: false, code: 201, message: 'Order rejected - reason: margin' }],
        ]),
      });
      expect(clock.pendingTimers).toBe(0);
      expect(events.observed).toBe(false);
    });

    it('answers at once when the last leg answers within the grace period', async () => {
      const { link, clock, events } = linkOnFakeWire();
      const answers = outcomeOf(link.place(AAPL, legs.slice(0, 2)));
      events.next(error(101, 201, 'rejected'));
      await clock.advance(50);
      events.next(report(102, 'PreSubmitted'));
      await clock.advance(0);
      expect(answers.current).not.toBe('pending');
      expect(clock.pendingTimers).toBe(0);
    });

    it('answers what it heard once IB_REQUEST_TIMEOUT_MS passed: the silent legs are missing', async () => {
      const { link, clock, events } = linkOnFakeWire();
      const answers = outcomeOf(link.place(AAPL, legs));
      events.next(report(103, 'Submitted'));
      await clock.advance(IB_REQUEST_TIMEOUT_MS - 1);
      expect(answers.current).toBe('pending');
      await clock.advance(1);
      expect(answers.current).toEqual({ value: new Map([[103, { accepted: true }]]) });
      expect(events.observed).toBe(false);
    });
  });

  describe('cancel', () => {
    it('resolves on the Cancelled status, not on PendingCancel', async () => {
      const { link, clock, events, sent } = linkOnFakeWire();
      const cancelled = outcomeOf(link.cancel(101));
      expect(sent).toEqual(['cancel 101']);
      events.next(report(101, 'PendingCancel'));
      events.next(report(102, 'Cancelled'));
      await clock.advance(0);
      expect(cancelled.current).toBe('pending');
      events.next(report(101, 'ApiCancelled'));
      await clock.advance(0);
      expect(cancelled.current).toEqual({ value: undefined });
    });

    it("resolves on IB's 202 confirmation", async () => {
      const { link, answerWith } = linkOnFakeWire();
      answerWith(() => [error(101, 2104), error(101, 202, 'Order Canceled - reason:')]);
      await expect(link.cancel(101)).resolves.toBeUndefined();
    });

    it.each([
      [10147, 'NOT_FOUND', 404],
      [135, 'NOT_FOUND', 404],
      [10148, 'CONFLICT', 409],
      [9999, 'IB_ERROR', 502],
    ])('throws IB code %i as %s (%i) with the IB code and the order id', async (code, domain, status) => {
      const { link, answerWith } = linkOnFakeWire();
      answerWith(() => [error(424242, code, 'no')]);
      const failure = await link.cancel(424242).catch((thrown: unknown) => thrown);
      expect(failure).toBeInstanceOf(DomainError);
      expect(failure).toMatchObject({ code: domain, details: { ibCode: code, orderId: 424242 } });
      expect((failure as DomainError).httpStatus).toBe(status);
      expect((failure as DomainError).message).toContain('424242');
    });

    it('throws IB_TIMEOUT when IB confirms nothing within IB_REQUEST_TIMEOUT_MS', async () => {
      const { link, clock, events } = linkOnFakeWire();
      const cancelled = outcomeOf(link.cancel(101));
      await clock.advance(IB_REQUEST_TIMEOUT_MS);
      expect(cancelled.current).toMatchObject({ error: { code: 'IB_TIMEOUT' } });
      expect(events.observed).toBe(false);
    });
  });

  describe('cancelAll', () => {
    it('sends the global cancel and resolves at once when no order of the service works', async () => {
      const { link, sent, clock } = linkOnFakeWire();
      await link.cancelAll([]);
      expect(sent).toEqual(['cancelAll']);
      expect(clock.pendingTimers).toBe(0);
    });

    it('resolves once every named order stopped working (filled or cancelled)', async () => {
      const { link, clock, events } = linkOnFakeWire();
      const settled = outcomeOf(link.cancelAll([101, 102]));
      events.next(report(101, 'Cancelled'));
      events.next(report(102, 'PendingCancel'));
      events.next(error(102, 202));
      await clock.advance(0);
      expect(settled.current).toBe('pending');
      events.next(report(102, 'Filled'));
      await clock.advance(0);
      expect(settled.current).toEqual({ value: undefined });
    });

    it('reports after CANCEL_ALL_SETTLE_MS even if some order still works', async () => {
      const { link, clock } = linkOnFakeWire();
      const settled = outcomeOf(link.cancelAll([101]));
      await clock.advance(CANCEL_ALL_SETTLE_MS - 1);
      expect(settled.current).toBe('pending');
      await clock.advance(1);
      expect(settled.current).toEqual({ value: undefined });
    });
  });

  describe('whatIf', () => {
    it("answers IB's figures for the order, leaving out IB's unset doubles", async () => {
      const { link, answerWith, sent } = linkOnFakeWire();
      answerWith(() => [
        {
          kind: 'whatIf',
          orderId: 7,
          permId: 70,
          state: { status: 'PreSubmitted', initMarginBefore: 900, initMarginChange: 120 },
        },
        {
          kind: 'whatIf',
          orderId: 8,
          permId: 80,
          state: {
            status: 'PreSubmitted',
            initMarginBefore: 1000,
            initMarginChange: 150.5,
            initMarginAfter: UNSET,
            commission: 1,
            maxCommission: UNSET,
            commissionCurrency: 'USD',
            warningText: 'Large order',
          },
        },
      ]);
      const figures = await link.whatIf(8, AAPL, BUY_LMT);
      expect(sent).toEqual(['whatIf 8']);
      expect(figures.margin).toMatchObject({ initMarginBefore: 1000, initMarginChange: 150.5 });
      expect(figures.margin.initMarginAfter).toBeUndefined();
      expect(figures.commission).toEqual({
        commission: 1,
        minCommission: undefined,
        maxCommission: undefined,
        currency: 'USD',
      });
      expect(figures.warningText).toBe('Large order');
    });

    it.each([
      [201, 'INVALID_INPUT'],
      [200, 'NOT_FOUND'],
      [321, 'INVALID_INPUT'],
      [4711, 'IB_ERROR'],
    ])("throws IB's error %i for the order as %s", async (code, domain) => {
      const { link, answerWith } = linkOnFakeWire();
      answerWith(() => [
        error(8, 2104),
        error(9, 201),
        error(8, code, 'Order rejected - reason: no what-if'),
      ]);
      await expect(link.whatIf(8, AAPL, BUY_LMT)).rejects.toMatchObject({
        code: domain,
        details: { ibCode: code, orderId: 8 },
      });
    });

    it('throws IB_TIMEOUT when IB does not answer in time', async () => {
      const { link, clock, events } = linkOnFakeWire();
      const answer = outcomeOf(link.whatIf(8, AAPL, BUY_LMT));
      await clock.advance(IB_REQUEST_TIMEOUT_MS - 1);
      expect(answer.current).toBe('pending');
      await clock.advance(1);
      expect(answer.current).toMatchObject({ error: { code: 'IB_TIMEOUT' } });
      expect(events.observed).toBe(false);
    });
  });
});
