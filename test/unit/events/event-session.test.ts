import { EventHub } from '../../../src/events/event-hub';
import {
  EventSession,
  LAGGING_BYTES,
  MAX_UNSENT_BYTES,
  parseEventRequest,
  type EventNotice,
  type EventSink,
} from '../../../src/events/event-subscriber';
import type { LiveEvent } from '../../../src/events/live-event';
import { FakeClock } from '../../support/fake-clock';

/** A connection whose backlog the test sets. */
class FakeSink implements EventSink {
  readonly transport = 'sse';
  unsent = 0;
  readonly sent: LiveEvent[] = [];
  readonly notices: EventNotice[] = [];
  dropped: string | undefined;
  unsentBytes = () => this.unsent;
  send = (event: LiveEvent) => void this.sent.push(event);
  notify = (notice: EventNotice) => void this.notices.push(notice);
  heartbeat = () => undefined;
  drop = (reason: string) => void (this.dropped = reason);
}

const news = { topic: 'news', type: 'bulletin', gateway: 'g1', data: {} } as const;

function session(hub: EventHub, sink: FakeSink, query: Record<string, unknown>, lastEventId?: string) {
  const ended: boolean[] = [];
  const request = parseEventRequest(query, 'full', lastEventId);
  const started = new EventSession(
    hub,
    { request, feed: undefined, quoteConIds: undefined },
    sink,
    (_s, dropped) => ended.push(dropped),
  );
  started.start();
  return { session: started, ended };
}

describe('EventSession: one client of /events', () => {
  let hub: EventHub;

  beforeEach(() => {
    hub = new EventHub(new FakeClock());
  });

  it('tells a client once that it lags, forgets it when it caught up, and drops it past the bound', () => {
    const sink = new FakeSink();
    const { ended } = session(hub, sink, { topics: 'news' });
    hub.publish(news);
    sink.unsent = LAGGING_BYTES + 1;
    hub.publish(news);
    hub.publish(news);
    expect(sink.notices).toEqual([
      expect.objectContaining({
        type: 'lagging',
        unsentBytes: LAGGING_BYTES + 1,
        limitBytes: MAX_UNSENT_BYTES,
      }),
    ]);
    sink.unsent = 0; // caught up
    hub.publish(news);
    sink.unsent = LAGGING_BYTES + 1;
    hub.publish(news);
    expect(sink.notices.map((notice) => notice.type)).toEqual(['lagging', 'lagging']);
    expect(sink.sent).toHaveLength(5);

    sink.unsent = MAX_UNSENT_BYTES + 1;
    hub.publish(news);
    expect(sink.dropped).toMatch(/read too slowly/);
    expect(sink.sent).toHaveLength(5);
    expect(ended).toEqual([true]);
    expect(hub.subscriberCount).toBe(0); // nothing more is delivered to it
  });

  it('sends the gap before the replay, and allows for a big replay until the client caught up', () => {
    const first = hub.publish(news);
    const missed = [hub.publish(news), hub.publish(news)];
    const sink = new FakeSink();
    sink.unsent = MAX_UNSENT_BYTES + 100; // what the replay left queued
    session(hub, sink, { topics: 'news' }, first.id);
    expect(sink.sent).toEqual(missed);
    const live = hub.publish(news);
    expect(sink.dropped).toBeUndefined();
    expect(sink.sent.at(-1)).toBe(live);

    const gapped = new FakeSink();
    session(hub, gapped, { topics: 'news,orders' }, 'another-run.4');
    expect(gapped.notices[0]).toEqual({
      type: 'gap',
      lastEventId: 'another-run.4',
      topics: ['news', 'orders'],
      reason: 'restarted',
    });
  });

  it('refuses bad queries and full-access topics for the read-only token, and picks the default topics', () => {
    expect(() => parseEventRequest({ topics: 'orders,fills' }, 'full', undefined)).toThrow(
      /unknown topic fills/,
    );
    expect(() => parseEventRequest({ topics: 'quotes' }, 'full', undefined)).toThrow(
      /needs symbols or conIds/,
    );
    expect(() => parseEventRequest({ surprise: '1' }, 'full', undefined)).toThrow(/surprise/);
    expect(() => parseEventRequest({ topics: 'approvals' }, 'read-only', undefined)).toThrow(
      /approvals topic needs the full API token/,
    );
    const readOnly = parseEventRequest({}, 'read-only', undefined);
    expect([...readOnly.filter.topics]).not.toContain('approvals');
    expect([...readOnly.filter.topics]).not.toContain('quotes');
    expect([...parseEventRequest({ symbols: 'AAPL' }, 'full', undefined).filter.topics]).toEqual(
      expect.arrayContaining(['quotes', 'approvals', 'orders']),
    );
    expect(parseEventRequest({ lastEventId: 'a.1' }, 'full', 'b.2').lastEventId).toBe('b.2');
  });
});
