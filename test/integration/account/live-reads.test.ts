import { OrderAction, OrderType, SecType } from '@stoqey/ib';
import { EVENT_HUB, type EventHub } from '../../../src/events/event-hub';
import type { LiveEvent } from '../../../src/events/live-event';
import type { RunningService } from '../../../src/main';
import { Request } from '../../../src/simulator/protocol/message-ids';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { eventually, MARKET_OPEN } from '../orders/orders-harness';
import { startTestService, testConfig } from '../service/service-harness';

/**
 * Account reads answered from the subscriptions the service holds (issue 17, part 2): no message to IB per
 * read, changes at the broker reflected and pushed, freshness told truthfully, requests where nothing is
 * held (the second account's values, a dropped session), and the subscriptions held again after a drop.
 */

const HELD = 'DU1111111';
const OTHER = 'DU2222222';
/** The API client that trades at the "broker" beside the service. */
const TRADER_CLIENT_ID = 77;

interface Freshness {
  source: 'live' | 'request';
  asOf: string | null;
  note?: string;
}
interface Answer {
  freshness?: Freshness;
  [field: string]: unknown;
}
interface PositionsAnswer extends Answer {
  positions: Array<{ account: string; symbol: string; position: number; marketValue: number | null }>;
}
interface ValuesAnswer extends Answer {
  accounts: Array<{ account: string; values: Array<{ tag: string }>; freshness?: Freshness }>;
}

describe('account reads from live state', () => {
  let simulator: IbGatewaySimulator;
  let service: RunningService;
  let trader: TestClient;
  /** Message ids the service's API client sent the simulator, in order. */
  const sent: number[] = [];

  const get = async <T extends Answer = Answer>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${service.urls.base}${path}`);
    return { status: response.status, body: (await response.json()) as T };
  };
  const holdRequests = () =>
    sent.filter((id) =>
      [
        Request.REQ_ACCOUNT_SUMMARY,
        Request.REQ_POSITIONS,
        Request.REQ_PNL,
        Request.REQ_ACCOUNT_DATA,
      ].includes(id as never),
    ).length;
  const live = async (path: string) =>
    eventually(async () => {
      const answer = await get(path);
      return answer.body.freshness?.source === 'live' ? answer.body : undefined;
    });
  /** Waits until the service's other start-up requests (health probe, order reconciliation) are done. */
  const quiet = async () => {
    for (let last = -1; last !== sent.length;) {
      last = sent.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  const fill = async (account: string, symbol: string, quantity: number) =>
    trader.ib.placeNewOrder(
      { symbol, secType: SecType.STK, exchange: 'SMART', currency: 'USD' },
      { action: OrderAction.BUY, orderType: OrderType.MKT, totalQuantity: quantity, account, transmit: true },
    );

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: [HELD, OTHER] });
    await simulator.start();
    simulator.setClock(MARKET_OPEN);
    simulator.tap((direction, session, fields) => {
      if (direction === 'in' && session.clientId !== TRADER_CLIENT_ID) sent.push(Number(fields[0]));
    });
    service = await startTestService(testConfig(), { simulator });
    trader = await connectClient(simulator.port, { clientId: TRADER_CLIENT_ID });
  });

  afterAll(async () => {
    disconnectAllClients();
    await service.close();
    await simulator.stop();
  });

  it('answers summary, positions, PnL and the held account values with no message to IB, marked live', async () => {
    for (const path of [
      '/account/summary',
      '/account/positions',
      '/account/pnl',
      `/account/values?account=${HELD}`,
    ]) {
      await live(path);
    }
    await quiet();
    const before = sent.length;
    const started = Date.now();
    const answers = [];
    for (let round = 0; round < 10; round++) {
      answers.push(
        ...(await Promise.all([
          get('/account/summary'),
          get('/account/positions'),
          get('/account/pnl'),
          get(`/account/values?account=${HELD}`),
        ])),
      );
    }
    const after = sent.slice(before);
    expect(after.filter((id) => id !== Request.REQ_CURRENT_TIME)).toEqual([]);
    for (const { status, body } of answers) {
      expect(status).toBe(200);
      expect(body.freshness?.source).toBe('live');
      const asOf = Date.parse(body.freshness?.asOf ?? '');
      // The last push from IB: before the read, and from this session (the service started moments ago).
      expect(asOf).toBeLessThanOrEqual(Date.now());
      expect(asOf).toBeGreaterThan(started - 60_000);
      expect(body.freshness?.note).toMatch(/held open/);
    }
    const summary = answers[0]?.body as { accounts: Array<{ account: string; netLiquidation: number }> };
    expect(summary.accounts.map((entry) => entry.account)).toEqual([HELD, OTHER]);
    const truth = simulator.broker.snapshot().accounts.find((entry) => entry.account === HELD);
    expect(summary.accounts[0]?.netLiquidation).toBeCloseTo(truth?.netLiquidation ?? NaN, 0);
  });

  it('reflects a fill in get_positions and pushes it as a positions event', async () => {
    const hub = service.app.get<EventHub>(EVENT_HUB);
    const events: LiveEvent[] = [];
    const subscription = hub.subscribe({ topics: new Set(['positions', 'pnl', 'account']) }, (event) =>
      events.push(event),
    );
    try {
      const placedAt = Date.now();
      await fill(HELD, 'MSFT', 7);
      const pushed = await eventually(() =>
        events.find((event) => event.topic === 'positions' && event.symbol === 'MSFT'),
      );
      expect(Date.now() - placedAt).toBeLessThan(2000);
      expect(pushed).toMatchObject({ account: HELD, type: 'position', data: { account: HELD, position: 7 } });
      const before = sent.length;
      const { body } = await get<PositionsAnswer>('/account/positions');
      expect(body.positions.find((entry) => entry.symbol === 'MSFT')).toMatchObject({
        account: HELD,
        position: 7,
      });
      expect(body.freshness?.source).toBe('live');
      expect(Date.parse(body.freshness?.asOf ?? '')).toBeGreaterThanOrEqual(placedAt - 5);
      expect(sent.slice(before).filter((id) => id !== Request.REQ_CURRENT_TIME)).toEqual([]);
      // The same fill moves the account's PnL and values: pushed too.
      await eventually(() => events.find((event) => event.topic === 'pnl' && event.account === HELD));
      await eventually(() => events.find((event) => event.topic === 'account' && event.account === HELD));
    } finally {
      subscription.unsubscribe();
    }
  });

  it("answers the second account's values by a request, and keeps holding the first account's", async () => {
    const requestsBefore = sent.filter((id) => id === Request.REQ_ACCOUNT_DATA).length;
    const { body } = await get<ValuesAnswer>(`/account/values?account=${OTHER}`);
    expect(body.freshness?.source).toBe('request');
    expect(body.freshness?.note).toContain(`held for ${HELD}`);
    expect(body.accounts[0]?.freshness?.source).toBe('request');
    expect(body.accounts[0]?.values.length).toBeGreaterThan(0);
    // Both accounts: one entry live, one requested, and the whole answer says request.
    const both = await get<ValuesAnswer>('/account/values?tags=NetLiquidation');
    expect(both.body.freshness?.source).toBe('request');
    // IB keeps one account-updates subscription per client: the held one was asked for again afterwards.
    expect(
      sent.filter((id) => id === Request.REQ_ACCOUNT_DATA).length - requestsBefore,
    ).toBeGreaterThanOrEqual(4);
    const values = (await live(`/account/values?account=${HELD}`)) as ValuesAnswer;
    expect(values.accounts[0]?.freshness?.source).toBe('live');
    // ...and IB really sends the held account's updates again: a fill there moves its valuations.
    await fill(HELD, 'AAPL', 3);
    const valued = await eventually(async () => {
      const { body: positions } = await get<PositionsAnswer>('/account/positions');
      const aapl = positions.positions.find((entry) => entry.account === HELD && entry.symbol === 'AAPL');
      return positions.freshness?.source === 'live' && aapl?.marketValue ? aapl : undefined;
    });
    expect(valued.position).toBe(3);
  });

  it('asks IB while it has lost its servers, and holds the subscriptions again once they are back', async () => {
    await live('/account/summary');
    simulator.connectivityLost();
    // Nothing is pushed while IB is cut off from its servers: never answered as live meanwhile (once the
    // service has read IB's 1100, which travels on another socket than the read).
    await eventually(async () => {
      const { body } = await get('/account/summary');
      return body.freshness?.source === 'live' ? undefined : true;
    });
    for (let sample = 0; sample < 10; sample++) {
      const { status, body } = await get('/account/summary');
      if (status === 200) expect(body.freshness?.source).toBe('request');
      else expect(status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const holdsBefore = holdRequests();
    const restoredAt = Date.now();
    simulator.connectivityRestored(false);
    const back = await eventually(async () => {
      const answer = await live('/account/pnl');
      return Date.parse(answer.freshness?.asOf ?? '') >= restoredAt ? answer : undefined;
    });
    expect(back.freshness?.source).toBe('live');
    expect(holdRequests() - holdsBefore).toBeGreaterThanOrEqual(5);
  });

  it('never serves a dropped session as live, and holds the subscriptions again on the next one', async () => {
    await live('/account/positions');
    const holdsBefore = holdRequests();
    simulator.dropConnections();
    const during = await get('/account/positions');
    // Nothing held any more: a request, which fails while there is no session, or succeeds after it is back.
    if (during.status === 200) expect(during.body.freshness?.source).toBe('request');
    else expect(during.status).toBe(503);
    const droppedAt = Date.now();
    const back = await eventually(async () => {
      const answer = await live('/account/positions');
      return Date.parse(answer.freshness?.asOf ?? '') >= droppedAt ? answer : undefined;
    }, 10_000);
    expect(back.freshness?.source).toBe('live');
    // Summary, positions, PnL of both accounts and one account's updates, requested on the new session.
    expect(holdRequests() - holdsBefore).toBeGreaterThanOrEqual(5);
    for (const path of ['/account/summary', '/account/pnl', `/account/values?account=${HELD}`]) {
      const answer = await live(path);
      expect(Date.parse(answer.freshness?.asOf ?? '')).toBeGreaterThanOrEqual(droppedAt);
    }
    const before = sent.length;
    await get('/account/summary');
    await get('/account/pnl');
    expect(sent.slice(before).filter((id) => id !== Request.REQ_CURRENT_TIME)).toEqual([]);
  });
});
