import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import { EVENT_HUB, type EventHub } from '../../../src/events/event-hub';
import type { RunningService } from '../../../src/main';
import { startTestService, testConfig } from '../service/service-harness';
import {
  eventsWebsocketUrl,
  openSse,
  openWebsocket,
  upgradeStatus,
  type EventsClient,
  type Received,
} from './events-client';

const FULL_TOKEN = 'events-full-token-0123456789';
const READ_ONLY_TOKEN = 'events-read-only-token-0123456789';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('/events access: tokens, topics and the Origin/Host checks of the upgrade', () => {
  let service: RunningService;
  let hub: EventHub;
  const clients: EventsClient[] = [];

  beforeAll(async () => {
    service = await startTestService(
      testConfig({
        security: { ...CONFIG_DEFAULTS.security, apiToken: FULL_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
      }),
    );
    hub = service.app.get<EventHub>(EVENT_HUB, { strict: false });
  });

  afterAll(async () => {
    for (const client of clients) await client.close();
    await service.close();
  });

  it('refuses the approvals topic to the read-only token (403, over both transports) and serves it the rest', async () => {
    const refused = await fetch(`${service.urls.base}/events?topics=orders,approvals`, {
      headers: bearer(READ_ONLY_TOKEN),
    });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { code: string; message: string };
    expect(body.code).toBe('FORBIDDEN');
    expect(body.message).toMatch(/approvals topic needs the full API token/);
    expect(body.message).not.toContain(READ_ONLY_TOKEN);
    expect(
      await upgradeStatus(eventsWebsocketUrl(service, 'topics=approvals'), bearer(READ_ONLY_TOKEN)),
    ).toBe(403);

    // Without topics, each token gets what it may see: the read-only one everything but approvals.
    const readOnly = await openSse(service, '', bearer(READ_ONLY_TOKEN));
    const readOnlyWebsocket = await openWebsocket(service, 'topics=news', bearer(READ_ONLY_TOKEN));
    const full = await openSse(service, '', bearer(FULL_TOKEN));
    clients.push(readOnly, readOnlyWebsocket, full);
    const approval = hub.publish({ topic: 'approvals', type: 'ticket', gateway: 'test', data: { id: 'a1' } });
    const news = hub.publish({
      topic: 'news',
      type: 'bulletin',
      gateway: 'test',
      data: { message: 'hello' },
    });
    await full.waitFor((message) => message.id === news.id, 'the news event (full token)');
    await readOnly.waitFor((message) => message.id === news.id, 'the news event (read-only token)');
    await readOnlyWebsocket.waitFor((message) => message.id === news.id, 'the news event (read-only, ws)');
    // The default topics include the account's, which the live account state may push meanwhile.
    const ofTheseTopics = (message: Received) => message.name === 'approvals' || message.name === 'news';
    expect(full.received.filter(ofTheseTopics).map((message) => message.id)).toEqual([approval.id, news.id]);
    expect(readOnly.received.filter(ofTheseTopics).map((message) => message.id)).toEqual([news.id]);
  });

  it('checks the token, the Origin and the Host of the WebSocket upgrade like every route', async () => {
    const url = eventsWebsocketUrl(service, 'topics=news');
    expect(await upgradeStatus(url, {})).toBe(401);
    expect(await upgradeStatus(url, bearer('not-a-token'))).toBe(401);
    expect(await upgradeStatus(url, { ...bearer(FULL_TOKEN), origin: 'http://evil.example' })).toBe(403);
    const port = new URL(service.urls.base).port;
    expect(await upgradeStatus(url, { ...bearer(FULL_TOKEN), host: `evil.example:${port}` })).toBe(403);
    expect(await upgradeStatus(url, { ...bearer(FULL_TOKEN), origin: service.urls.base })).toBe(101);
    // A browser page sends the cookie it got from /docs?token=.
    expect(await upgradeStatus(url, { cookie: `ibgs_token=${READ_ONLY_TOKEN}` })).toBe(101);
    expect(await upgradeStatus(`${url}&unexpected=1`, bearer(FULL_TOKEN))).toBe(400);

    const sse = await fetch(`${service.urls.base}/events?topics=news`, {
      headers: { ...bearer(FULL_TOKEN), origin: 'http://evil.example' },
    });
    expect(sse.status).toBe(403);
    expect((await fetch(`${service.urls.base}/events?topics=news`)).status).toBe(401);
  });
});
