import { Logger } from '@nestjs/common';
import { EventHub, RESUME_WINDOW } from '../../../src/events/event-hub';
import type { EventFilter, EventTopic, LiveEvent, LiveEventInput } from '../../../src/events/live-event';
import { FakeClock } from '../../support/fake-clock';

const filterOf = (topics: EventTopic[], narrow: Omit<EventFilter, 'topics'> = {}): EventFilter => ({
  topics: new Set(topics),
  ...narrow,
});
const news = (text: string): LiveEventInput => ({
  topic: 'news',
  type: 'bulletin',
  gateway: 'g1',
  data: { text },
});
const order = (symbol: string, account = 'DU1', gateway = 'g1'): LiveEventInput => ({
  topic: 'orders',
  type: 'order',
  gateway,
  symbol,
  account,
  data: { symbol },
});
const idsOf = (events: LiveEvent[]) => events.map((event) => event.id);

describe('EventHub', () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2026, 0, 5, 12, 0, 0));
  });

  it('stamps increasing ids of its run and the time, and delivers in publishing order', async () => {
    const hub = new EventHub(clock);
    const received: LiveEvent[] = [];
    hub.subscribe(filterOf(['news', 'orders']), (event) => received.push(event));
    expect(hub.lastEventId).toBe('');
    const first = hub.publish(news('a'));
    await clock.advance(1500);
    const second = hub.publish(order('AAPL'));
    expect(first.id).toBe(`${hub.run}.1`);
    expect(second.id).toBe(`${hub.run}.2`);
    expect(second.at).toBe('2026-01-05T12:00:01.500Z');
    expect(idsOf(received)).toEqual([first.id, second.id]);
    expect(hub.lastEventId).toBe(second.id);
  });

  it('filters by topic, symbol, account and gateway; events naming no symbol or account pass those filters', () => {
    const hub = new EventHub(clock);
    const received: LiveEvent[] = [];
    hub.subscribe(
      filterOf(['orders', 'news'], {
        symbols: new Set(['AAPL']),
        accounts: new Set(['DU1']),
        gateways: new Set(['g1']),
      }),
      (event) => received.push(event),
    );
    const wanted = [hub.publish(order('AAPL')), hub.publish(news('no symbol, no account'))];
    hub.publish(order('MSFT'));
    hub.publish(order('AAPL', 'DU2'));
    hub.publish(order('AAPL', 'DU1', 'g2'));
    hub.publish({ topic: 'quotes', type: 'quote', gateway: 'g1', symbol: 'AAPL', data: {} });
    expect(idsOf(received)).toEqual(idsOf(wanted));
  });

  it('replays exactly the kept events after a resume id, across topics in order, with no gap', () => {
    const hub = new EventHub(clock);
    const before = hub.publish(news('seen'));
    const missed = [hub.publish(order('AAPL')), hub.publish(news('b')), hub.publish(order('MSFT'))];
    hub.publish({ topic: 'health', type: 'transition', gateway: 'g1', data: {} }); // not asked for
    const received: LiveEvent[] = [];
    const subscription = hub.subscribe(filterOf(['news', 'orders']), (event) => received.push(event), {
      after: before.id,
    });
    expect(subscription.gap).toBeUndefined();
    expect(subscription.replayed).toBe(3);
    const live = hub.publish(news('live'));
    expect(idsOf(received)).toEqual([...idsOf(missed), live.id]);
  });

  it('reports a window gap for the topics that let go of events after the resume id, and only those', () => {
    const hub = new EventHub(clock, { ...RESUME_WINDOW, news: 3 });
    const published = [1, 2, 3, 4, 5].map((index) => hub.publish(news(String(index))));
    const kept = hub.publish(order('AAPL'));
    expect(hub.windowSizes().news).toBe(3);

    const received: LiveEvent[] = [];
    const late = hub.subscribe(filterOf(['news', 'orders']), (event) => received.push(event), {
      after: published[0]?.id,
    });
    expect(late.gap).toEqual({ lastEventId: published[0]?.id, topics: ['news'], reason: 'window' });
    expect(idsOf(received)).toEqual([...idsOf(published.slice(2)), kept.id]);

    // The newest evicted event is the resume id itself: nothing after it was let go.
    const justInTime = hub.subscribe(filterOf(['news']), () => undefined, { after: published[1]?.id });
    expect(justInTime.gap).toBeUndefined();
    expect(justInTime.replayed).toBe(3);
  });

  it('keeps each window bounded however many events pass', () => {
    const hub = new EventHub(clock, { ...RESUME_WINDOW, news: 10 });
    for (let index = 0; index < 1000; index++) hub.publish(news(String(index)));
    expect(hub.windowSizes().news).toBe(10);
    const received: LiveEvent[] = [];
    hub.subscribe(filterOf(['news']), (event) => received.push(event), { after: `${hub.run}.990` });
    expect(idsOf(received)).toEqual(
      [991, 992, 993, 994, 995, 996, 997, 998, 999, 1000].map((n) => `${hub.run}.${n}`),
    );
  });

  it('says "restarted" for an id of another run (replaying what this run kept) and "unknown-id" for others', async () => {
    const earlier = new EventHub(clock);
    const oldId = earlier.publish(news('old')).id;
    await clock.advance(60_000);
    const hub = new EventHub(clock);
    expect(hub.run).not.toBe(earlier.run);
    const kept = hub.publish(news('new'));
    const received: LiveEvent[] = [];
    const resumed = hub.subscribe(filterOf(['news', 'orders']), (event) => received.push(event), {
      after: oldId,
    });
    expect(resumed.gap).toEqual({ lastEventId: oldId, topics: ['news', 'orders'], reason: 'restarted' });
    expect(idsOf(received)).toEqual([kept.id]);

    for (const id of [`${hub.run}.99`, `${hub.run}.x`, `${hub.run}.-1`]) {
      const refused = hub.subscribe(filterOf(['news']), () => undefined, { after: id });
      expect(refused.gap).toEqual({ lastEventId: id, topics: ['news'], reason: 'unknown-id' });
      expect(refused.replayed).toBe(0);
    }
  });

  it('stops delivering after unsubscribe, and detaches a failing subscriber without harming the others', () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const hub = new EventHub(clock);
    const received: LiveEvent[] = [];
    const leaving = hub.subscribe(filterOf(['news']), () => undefined);
    hub.subscribe(filterOf(['news']), () => {
      throw new Error('a broken subscriber');
    });
    hub.subscribe(filterOf(['news']), (event) => received.push(event));
    expect(hub.subscriberCount).toBe(3);
    leaving.unsubscribe();
    const first = hub.publish(news('a'));
    const second = hub.publish(news('b'));
    expect(idsOf(received)).toEqual([first.id, second.id]);
    expect(hub.subscriberCount).toBe(1);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toMatch(
      /failed on event .* and was detached: a broken subscriber/,
    );
    logged.mockRestore();
  });

  it('encodes each event once for every subscriber', () => {
    const hub = new EventHub(clock);
    const event = hub.publish(order('AAPL'));
    const text = hub.json(event);
    expect(JSON.parse(text)).toEqual(event);
    expect(hub.json(event)).toBe(text);
  });
});
