import { connect, type Socket } from 'node:net';
import { EVENT_HUB, type EventHub } from '../../../src/events/event-hub';
import { EventStreams, MAX_UNSENT_BYTES } from '../../../src/events/event-subscriber';
import type { LiveEvent } from '../../../src/events/live-event';
import type { RunningService } from '../../../src/main';
import { startTestService } from '../service/service-harness';
import { idsOf, openSse, openWebsocket } from './events-client';

/** A client that sends its request and then never reads a byte. */
async function silentClient(service: RunningService, request: string): Promise<Socket> {
  const { port } = new URL(service.urls.base);
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause();
  socket.write(request);
  return socket;
}

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('/events slow consumers', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startTestService();
  });

  afterAll(async () => {
    await service.close();
  });

  it('drops clients that stop reading, while the others get every event and are not dropped', async () => {
    const hub = service.app.get<EventHub>(EVENT_HUB, { strict: false });
    const streams = service.app.get(EventStreams, { strict: false });
    const host = `127.0.0.1:${new URL(service.urls.base).port}`;
    const silentSse = await silentClient(
      service,
      `GET /events?topics=news HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    );
    const silentWebsocket = await silentClient(
      service,
      `GET /events?topics=news HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    const sse = await openSse(service, 'topics=news');
    const websocket = await openWebsocket(service, 'topics=news');
    const deadline = Date.now() + 10_000;
    while (streams.clientCount < 4 && Date.now() < deadline) await sleep(10);
    expect(streams.clientCount).toBe(4);

    // 10 KB bulletins, 15 per turn of the event loop (well under the lagging mark for a client that reads).
    const published: LiveEvent[] = [];
    const text = 'x'.repeat(10_000);
    while (streams.clientCount > 2 && published.length < 6_000) {
      for (let index = 0; index < 15; index++) {
        published.push(hub.publish({ topic: 'news', type: 'bulletin', gateway: 'test', data: { text } }));
      }
      await sleep(2);
    }
    expect(streams.clientCount).toBe(2); // both silent clients were dropped ...
    // ... after buffering at most the bound each (plus what the kernel's socket buffers hold).
    expect(published.length * 10_000).toBeGreaterThan(MAX_UNSENT_BYTES);
    const last = published.at(-1);
    for (const client of [sse, websocket]) {
      await client.waitFor((message) => message.id === last?.id, 'the last event', 20_000);
      expect(idsOf(client)).toEqual(published.map((event) => event.id));
      // On a busy machine a reader may fall behind this burst (~75 MB/s) for a moment and be told it lags:
      // it is never dropped and misses nothing, and it hears of no gap.
      expect(
        client.received.filter((message) => message.id === undefined && message.name !== 'lagging'),
      ).toEqual([]);
    }
    const metrics = await (await fetch(`${service.urls.base}/metrics`)).text();
    expect(metrics).toMatch(/ibgs_event_clients_dropped_total\{transport="sse"\} 1/);
    expect(metrics).toMatch(/ibgs_event_clients_dropped_total\{transport="websocket"\} 1/);
    expect(metrics).toMatch(/ibgs_event_clients\{transport="sse"\} 1/);

    await sse.close();
    await websocket.close();
    silentSse.destroy();
    silentWebsocket.destroy();
  });
});
