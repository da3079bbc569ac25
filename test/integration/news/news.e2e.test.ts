import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import {
  articleText,
  newsHeadlines,
  SUBSCRIBED_NEWS_PROVIDERS,
  type NewsHeadline,
} from '../../../src/simulator/news/news-feed';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';

/** A Tuesday, 11:00 New York time. */
const TUESDAY = Date.parse('2026-11-24T16:00:00Z');
const DAY = 86_400_000;
const AAPL = 265598;
/** TWS API message ids the client sends. */
const REQ_NEWS_ARTICLE = 84;
const REQ_HISTORICAL_NEWS = 86;

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ErrorBody {
  code: string;
  message: string;
  ibCode?: number;
}
interface HeadlinesAnswer {
  contract: { conId: number; symbol: string; secType: string };
  providers: string[];
  headlines: { time: string; provider: string; articleId: string; headline: string; metadata?: string }[];
  hasMore: boolean;
}
interface BulletinsAnswer {
  subscribedSince: string | null;
  bulletins: {
    msgId: number;
    type: string;
    message: string;
    originExchange: string;
    receivedAt: string;
    issuedBeforeSubscription: boolean;
  }[];
}

describe('news: REST and MCP against the simulator', () => {
  const seed = testConfig().simulator.seed;
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  let mcp: Client;

  beforeAll(async () => {
    service = await startTestService();
    simulator = service.simulator as IbGatewaySimulator;
    simulator.setClock(TUESDAY);
    mcp = await connectMcpClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const get = async (path: string, query: Record<string, string | number | boolean> = {}) => {
    const text = Object.fromEntries(Object.entries(query).map(([name, value]) => [name, String(value)]));
    const response = await fetch(`${service.urls.base}${path}?${new URLSearchParams(text).toString()}`);
    const body: unknown = await response.json();
    return { status: response.status, body };
  };
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await mcp.callTool({ name, arguments: args });
    const [content] = result.content as { type: string; text: string }[];
    return { isError: result.isError === true, structured: result.structuredContent, text: content?.text };
  };
  /** The news requests the service sent to the simulator while `work` ran. */
  const newsRequestsDuring = async (work: () => Promise<void>): Promise<number[]> => {
    const seen: number[] = [];
    const stop = simulator.tap((direction, _session, fields) => {
      const id = Number(fields[0]);
      if (direction === 'in' && (id === REQ_HISTORICAL_NEWS || id === REQ_NEWS_ARTICLE)) seen.push(id);
    });
    try {
      await work();
      await sleep(100);
    } finally {
      stop();
    }
    return seen;
  };
  /** A headline of the simulator's own archive as the API reports it. */
  const inApi = (headline: NewsHeadline) => {
    const block = /^\{([^}]*)\}/.exec(headline.headline);
    return {
      time: new Date(headline.timeMs).toISOString(),
      provider: headline.provider,
      articleId: headline.articleId,
      headline: block ? headline.headline.slice(block[0].length) : headline.headline,
      ...(block ? { metadata: block[1] } : {}),
    };
  };

  it('lists the providers the account has, the same over REST and MCP', async () => {
    const overRest = await get('/news/providers');
    expect(overRest.status).toBe(200);
    expect(overRest.body).toEqual({
      providers: [...SUBSCRIBED_NEWS_PROVIDERS].sort((a, b) => a.code.localeCompare(b.code)),
    });
    const overMcp = await call('get_news_providers', {});
    expect(overMcp.isError).toBe(false);
    expect(overMcp.structured).toEqual(overRest.body);
  });

  it("returns a window's headlines of every provider newest first, as the simulator's archive has them", async () => {
    const to = TUESDAY - 2 * DAY;
    const from = to - 10 * DAY;
    const query = {
      symbol: 'AAPL',
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      limit: 300,
    };
    const overRest = await get('/news/headlines', query);
    expect(overRest.status).toBe(200);
    const answer = overRest.body as HeadlinesAnswer;
    const expected = newsHeadlines(
      simulator.market,
      seed,
      { conId: AAPL, providers: ['BRFG', 'BRFUPDN', 'DJNL'], startMs: from, endMs: to, totalResults: 300 },
      simulator.clock.now(),
    );
    expect(answer.contract).toMatchObject({ conId: AAPL, symbol: 'AAPL', secType: 'STK' });
    expect(answer.providers).toEqual(['BRFG', 'BRFUPDN', 'DJNL']);
    expect(answer.headlines.length).toBeGreaterThan(5);
    expect(answer.headlines).toEqual(expected.headlines.map(inApi));
    expect(answer.hasMore).toBe(false);
    // Dow Jones' metadata block is apart from the headline.
    const dowJones = answer.headlines.find((headline) => headline.provider === 'DJNL');
    expect(dowJones?.metadata).toMatch(/^A:800015:L:en:K:-?\d\.\d\d:C:\d\.\d\d$/);
    expect(dowJones?.headline.startsWith('{')).toBe(false);
    expect((await call('get_news_headlines', query)).structured).toEqual(answer);
  });

  it('narrows to the providers asked and the limit, by conId too, and says when IB has more', async () => {
    const latest = (await get('/news/headlines', { conId: AAPL, providers: 'brfupdn', limit: 3 }))
      .body as HeadlinesAnswer;
    expect(latest.providers).toEqual(['BRFUPDN']);
    expect(latest.headlines).toHaveLength(3);
    expect(latest.hasMore).toBe(true);
    expect(latest.headlines.every((headline) => headline.provider === 'BRFUPDN')).toBe(true);
    const times = latest.headlines.map((headline) => Date.parse(headline.time));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(times[0]).toBeLessThanOrEqual(simulator.clock.now());
    const archive = newsHeadlines(
      simulator.market,
      seed,
      { conId: AAPL, providers: ['BRFUPDN'], totalResults: 3 },
      simulator.clock.now(),
    );
    expect(latest.headlines).toEqual(archive.headlines.map(inApi));
  });

  it('returns the text of an article behind a headline, the same over REST and MCP', async () => {
    const [headline] = newsHeadlines(
      simulator.market,
      seed,
      { conId: AAPL, providers: ['BRFG'], totalResults: 1 },
      simulator.clock.now(),
    ).headlines;
    if (!headline) throw new Error('no BRFG headline for AAPL');
    const query = { provider: 'BRFG', articleId: headline.articleId };
    const overRest = await get('/news/article', query);
    expect(overRest.status).toBe(200);
    expect(overRest.body).toEqual({
      provider: 'BRFG',
      articleId: headline.articleId,
      articleType: 'text',
      text: articleText(simulator.market, headline),
    });
    expect((await call('get_news_article', query)).structured).toEqual(overRest.body);
  });

  it("keeps the bulletins IB sent since the service connected, the day's earlier ones marked", async () => {
    const before = (await get('/news/bulletins')).body as BulletinsAnswer;
    expect(before.subscribedSince).not.toBeNull();
    expect(before.bulletins).toEqual([
      expect.objectContaining({
        msgId: 1,
        type: 'news',
        message: 'Welcome to the IB Gateway simulator. All trading here is simulated.',
        originExchange: 'SIM',
        issuedBeforeSubscription: true,
      }),
    ]);
    const published = simulator.news.publish(2, 'NYSE: trading is unavailable', 'NYSE');
    await sleep(200);
    const after = (await get('/news/bulletins')).body as BulletinsAnswer;
    expect(after.bulletins).toHaveLength(2);
    const fresh = after.bulletins[1];
    expect(fresh).toMatchObject({
      msgId: published.id,
      type: 'exchange-unavailable',
      message: 'NYSE: trading is unavailable',
      originExchange: 'NYSE',
      issuedBeforeSubscription: false,
    });
    expect(Date.parse(fresh?.receivedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(after.subscribedSince ?? ''),
    );
    const onlyNew = (await get('/news/bulletins', { allMessages: false })).body as BulletinsAnswer;
    expect(onlyNew.bulletins).toEqual([fresh]);
    expect((await call('get_news_bulletins', { allMessages: false })).structured).toEqual(onlyNew);
  });

  it('subscribes again after a reconnect, keeping each bulletin once', async () => {
    const before = (await get('/news/bulletins')).body as BulletinsAnswer;
    simulator.dropConnections();
    const deadline = Date.now() + 10_000;
    let after = before;
    while (Date.now() < deadline) {
      await sleep(100);
      after = (await get('/news/bulletins')).body as BulletinsAnswer;
      if (after.subscribedSince !== null && after.subscribedSince !== before.subscribedSince) break;
    }
    expect(Date.parse(after.subscribedSince ?? '')).toBeGreaterThan(Date.parse(before.subscribedSince ?? ''));
    await sleep(200); // the new subscription's replay of the day's bulletins
    expect((await get('/news/bulletins')).body).toEqual(after);
    expect(after.bulletins).toEqual(before.bulletins);
  });

  it('answers an unknown contract with 404 and sends IB no news request', async () => {
    let overRest = { status: 0, body: {} as unknown };
    let overMcp = { isError: false, text: '' as string | undefined };
    const sent = await newsRequestsDuring(async () => {
      overRest = await get('/news/headlines', { symbol: 'XYZQ' });
      overMcp = await call('get_news_headlines', { symbol: 'XYZQ' });
    });
    expect(overRest.status).toBe(404);
    const body = overRest.body as ErrorBody;
    expect(body.code).toBe('NOT_FOUND');
    expect(body.message).toBe('No contract found for symbol XYZQ (STK on SMART in USD)');
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toBe(body.message);
    expect(sent).toEqual([]);
  });

  it("answers an article IB has none for with 404 carrying IB's code", async () => {
    const query = { provider: 'BRFG', articleId: 'BRFG$00000000' };
    const overRest = await get('/news/article', query);
    expect(overRest.status).toBe(404);
    const body = overRest.body as ErrorBody;
    expect(body).toMatchObject({ code: 'NOT_FOUND', ibCode: 10172 });
    expect(body.message).toBe(
      'IB has no article BRFG$00000000 of BRFG (IB: "Failed to request news article: No data available")',
    );
    const overMcp = await call('get_news_article', query);
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toBe(body.message);
  });

  it("answers a provider the account has no subscription to with 403 and IB's 10276", async () => {
    const overRest = await get('/news/headlines', { symbol: 'AAPL', providers: 'BRFG,BZ' });
    expect(overRest.status).toBe(403);
    const body = overRest.body as ErrorBody;
    expect(body).toMatchObject({ code: 'FORBIDDEN', ibCode: 10276, reason: 'NO_NEWS_SUBSCRIPTION' });
    expect(body.message).toBe(
      'No API news subscription for AAPL (conId 265598) from BRFG+BZ (IB error 10276: "News feed is not allowed."); get_news_providers lists the providers this account has',
    );
    const overMcp = await call('get_news_headlines', { symbol: 'AAPL', providers: 'BRFG,BZ' });
    expect(overMcp.isError).toBe(true);
    expect(overMcp.text).toBe(body.message);
    const article = await get('/news/article', { provider: 'FLY', articleId: 'FLY$12345678' });
    expect(article.status).toBe(403);
    expect(article.body).toMatchObject({ code: 'FORBIDDEN', ibCode: 10276 });
  });

  it('rejects malformed input with 400 naming the field, before asking IB', async () => {
    const cases: [string, Record<string, string | number>, string][] = [
      ['/news/headlines', { symbol: 'AAPL', limit: 301 }, '[limit]'],
      ['/news/headlines', { symbol: 'AAPL', providers: 'BR FG' }, '[providers]'],
      [
        '/news/headlines',
        { symbol: 'AAPL', from: '2026-11-20T00:00:00Z', to: '2026-11-19T00:00:00Z' },
        '[from]',
      ],
      ['/news/headlines', { symbol: 'AAPL', to: 'yesterday' }, '[to]'],
      ['/news/headlines', { providers: 'BRFG' }, '[symbol]'],
      ['/news/article', { provider: 'BRFG' }, '[articleId]'],
    ];
    const sent = await newsRequestsDuring(async () => {
      for (const [path, query, field] of cases) {
        const overRest = await get(path, query);
        expect(overRest.status).toBe(400);
        expect((overRest.body as ErrorBody).message).toContain(field);
      }
    });
    expect(sent).toEqual([]);
  });
});
