import { EventName, IBApi, type IBApiNext, type NewsProvider } from '@stoqey/ib';
import {
  articleText,
  newsHeadlines,
  plainHeadline,
  SUBSCRIBED_NEWS_PROVIDERS,
  type NewsHeadline,
} from '../../../src/simulator/news/news-feed';
import { formatNewsTime } from '../../../src/simulator/news/news-handlers';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectClient, decodeErrors, disconnectAllClients, type TestClient } from '../../support/ib-client';
import { recordWire } from '../../support/wire-recorder';

/** A Tuesday, 11:00 New York time. */
const TUESDAY = Date.parse('2026-11-24T16:00:00Z');
const DAY = 86_400_000;
const SEED = 42;
const AAPL = 265598;
const SPY = 756733;
const ALL_PROVIDERS = 'BRFG+BRFUPDN+DJNL';

interface Headline {
  time: string;
  providerCode: string;
  articleId: string;
  headline: string;
}

/** "20261124-16:00:00", the UTC form IB's own samples send. */
const ibTime = (epochMs: number): string => {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 19)}`;
};

describe('news, through @stoqey/ib', () => {
  let simulator: IbGatewaySimulator;
  let client: TestClient;
  let ib: IBApiNext;
  /** IBApiNext has no news calls (1.6.10): the IBApi inside it sends them, as the service's repository does. */
  let api: IBApi;

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ seed: SEED });
    recordWire(simulator);
    const port = await simulator.start();
    simulator.setClock(TUESDAY);
    client = await connectClient(port);
    ib = client.ib;
    const inner: unknown = Reflect.get(ib, 'api');
    if (!(inner instanceof IBApi)) throw new Error('IBApiNext holds no IBApi');
    api = inner;
  });

  afterAll(async () => {
    expect(decodeErrors(client.errors)).toEqual([]);
    disconnectAllClients();
    await simulator.stop();
  });

  /** Waits for the answer to one request id: its events until `done` says so, or IB's error for the id. */
  async function answer<T>(
    send: (reqId: number) => void,
    listen: (reqId: number, done: (value: T) => void) => () => void,
  ): Promise<T> {
    const reqId = ib.nextReqId;
    return new Promise<T>((resolve, reject) => {
      let stopListening = (): void => undefined;
      const finish = (outcome: () => void): void => {
        clearTimeout(timer);
        stopListening();
        api.off(EventName.error, onError);
        outcome();
      };
      const onError = (error: Error, code: number, id: number): void => {
        if (id === reqId) finish(() => reject(Object.assign(new Error(error.message), { code })));
      };
      const timer = setTimeout(() => finish(() => reject(new Error('no answer within 5 s'))), 5_000);
      api.on(EventName.error, onError);
      stopListening = listen(reqId, (value) => finish(() => resolve(value)));
      send(reqId);
    });
  }

  async function headlines(
    conId: number,
    providers: string,
    start: string,
    end: string,
    total: number,
  ): Promise<{ headlines: Headline[]; hasMore: boolean }> {
    return answer(
      (reqId) => api.reqHistoricalNews(reqId, conId, providers, start, end, total),
      (reqId, done) => {
        const rows: Headline[] = [];
        const onRow = (
          id: number,
          time: string,
          providerCode: string,
          articleId: string,
          headline: string,
        ) => {
          if (id === reqId) rows.push({ time, providerCode, articleId, headline });
        };
        const onEnd = (id: number, hasMore: boolean) => {
          if (id === reqId) done({ headlines: rows, hasMore });
        };
        api.on(EventName.historicalNews, onRow).on(EventName.historicalNewsEnd, onEnd);
        return () => api.off(EventName.historicalNews, onRow).off(EventName.historicalNewsEnd, onEnd);
      },
    );
  }

  async function article(provider: string, articleId: string): Promise<{ type: number; text: string }> {
    return answer(
      (reqId) => api.reqNewsArticle(reqId, provider, articleId),
      (reqId, done) => {
        const onArticle = (id: number, type: number, text: string) => {
          if (id === reqId) done({ type, text });
        };
        api.on(EventName.newsArticle, onArticle);
        return () => api.off(EventName.newsArticle, onArticle);
      },
    );
  }

  const onTheWire = (headline: NewsHeadline): Headline => ({
    time: formatNewsTime(headline.timeMs),
    providerCode: headline.provider,
    articleId: headline.articleId,
    headline: headline.headline,
  });

  it('lists the providers every account has for the API', async () => {
    const providers = await new Promise<NewsProvider[]>((resolve) => {
      api.once(EventName.newsProviders, resolve);
      api.reqNewsProviders();
    });
    expect(providers).toEqual(
      SUBSCRIBED_NEWS_PROVIDERS.map(({ code, name }) => ({ providerCode: code, providerName: name })),
    );
    expect(providers.map((provider) => provider.providerCode)).toEqual(['BRFG', 'BRFUPDN', 'DJNL']);
  });

  it('sends the headlines of a window newest first, exactly those of its archive', async () => {
    const end = TUESDAY - 2 * DAY;
    const start = end - 20 * DAY;
    const answered = await headlines(AAPL, ALL_PROVIDERS, ibTime(start), ibTime(end), 300);
    const expected = newsHeadlines(
      simulator.market,
      SEED,
      { conId: AAPL, providers: ['BRFG', 'BRFUPDN', 'DJNL'], startMs: start, endMs: end, totalResults: 300 },
      simulator.clock.now(),
    );
    expect(answered.headlines.length).toBeGreaterThan(10);
    expect(answered).toEqual({ headlines: expected.headlines.map(onTheWire), hasMore: false });
    const times = expected.headlines.map((headline) => headline.timeMs);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    for (const time of times) {
      expect(time).toBeGreaterThan(start);
      expect(time).toBeLessThanOrEqual(end);
    }
    expect(new Set(answered.headlines.map((headline) => headline.providerCode))).toEqual(
      new Set(['BRFG', 'BRFUPDN', 'DJNL']),
    );
    for (const headline of answered.headlines) {
      expect(headline.articleId).toMatch(new RegExp(`^${headline.providerCode}\\$[0-9a-f]{8}$`));
      expect(headline.time).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.0$/);
      expect(plainHeadline(headline.headline)).toContain('AAPL');
      // Dow Jones headlines carry IB's metadata block; Briefing.com ones do not.
      expect(headline.headline.startsWith('{A:800015:L:en:K:')).toBe(headline.providerCode === 'DJNL');
    }
  });

  it('accepts IB\'s documented "yyyy-MM-dd HH:mm:ss.0" bounds the same', async () => {
    const end = TUESDAY - 2 * DAY;
    const start = end - 20 * DAY;
    const dashed = await headlines(AAPL, ALL_PROVIDERS, formatNewsTime(start), formatNewsTime(end), 300);
    expect(dashed).toEqual(await headlines(AAPL, ALL_PROVIDERS, ibTime(start), ibTime(end), 300));
  });

  it('keeps the newest totalResults, says there are more, and stops at now without bounds', async () => {
    const latest = await headlines(AAPL, ALL_PROVIDERS, '', '', 5);
    expect(latest.headlines).toHaveLength(5);
    expect(latest.hasMore).toBe(true);
    const now = simulator.clock.now();
    const all = await headlines(AAPL, ALL_PROVIDERS, ibTime(now - 30 * DAY), '', 300);
    expect(all.headlines.slice(0, 5)).toEqual(latest.headlines);
    const newest = Date.parse(`${all.headlines[0]?.time.replace(' ', 'T') ?? ''}Z`);
    expect(newest).toBeLessThanOrEqual(now);
  });

  it('answers only the providers asked, and nothing for a contract they do not cover', async () => {
    const analysts = await headlines(AAPL, 'BRFUPDN', ibTime(TUESDAY - 30 * DAY), '', 300);
    expect(analysts.headlines.length).toBeGreaterThan(3);
    expect(analysts.headlines.every((headline) => headline.providerCode === 'BRFUPDN')).toBe(true);
    // No analyst actions on an ETF, and no news of an option's own.
    expect(await headlines(SPY, 'BRFUPDN', '', '', 50)).toEqual({ headlines: [], hasMore: false });
    const option = simulator.market.instruments().find((instrument) => instrument.secType === 'OPT');
    expect(await headlines(option?.conId ?? 0, ALL_PROVIDERS, '', '', 50)).toEqual({
      headlines: [],
      hasMore: false,
    });
  });

  it('gives the same archive for the same seed and another for another seed', async () => {
    const window = [ibTime(TUESDAY - 10 * DAY), ibTime(TUESDAY - DAY)] as const;
    const here = await headlines(AAPL, ALL_PROVIDERS, ...window, 300);
    const query = { conId: AAPL, providers: ['BRFG', 'BRFUPDN', 'DJNL'], totalResults: 300 };
    const bounds = { startMs: TUESDAY - 10 * DAY, endMs: TUESDAY - DAY };
    const other = new IbGatewaySimulator({ seed: SEED + 1 });
    try {
      other.setClock(TUESDAY);
      const same = newsHeadlines(simulator.market, SEED, { ...query, ...bounds }, TUESDAY);
      const different = newsHeadlines(other.market, SEED + 1, { ...query, ...bounds }, TUESDAY);
      expect(here.headlines).toEqual(same.headlines.map(onTheWire));
      expect(different.headlines.map((headline) => headline.articleId)).not.toEqual(
        same.headlines.map((headline) => headline.articleId),
      );
    } finally {
      await other.stop();
    }
  });

  it('rejects an unknown conId with 200 and a provider the account lacks with 10276', async () => {
    await expect(headlines(999_999_999, ALL_PROVIDERS, '', '', 10)).rejects.toMatchObject({
      code: 200,
      message: 'No security definition has been found for the request',
    });
    const notAllowed = { code: 10276, message: 'News feed is not allowed.' };
    await expect(headlines(AAPL, 'BZ', '', '', 10)).rejects.toMatchObject(notAllowed);
    await expect(headlines(AAPL, 'BRFG+FLY', '', '', 10)).rejects.toMatchObject(notAllowed);
    await expect(headlines(AAPL, 'BRFG', 'yesterday', '', 10)).rejects.toMatchObject({ code: 321 });
  });

  it('sends the text of an article it listed, and 10172 for one it did not', async () => {
    const listed = newsHeadlines(
      simulator.market,
      SEED,
      { conId: AAPL, providers: ['DJNL'], totalResults: 1 },
      simulator.clock.now(),
    ).headlines[0];
    if (!listed) throw new Error('no DJNL headline');
    const body = await article('DJNL', listed.articleId);
    expect(body).toEqual({ type: 0, text: articleText(simulator.market, listed) });
    expect(body.text.split('\n')[0]).toBe(plainHeadline(listed.headline));
    expect(body.text).toContain('not real news');

    const noArticle = { code: 10172, message: 'Failed to request news article: No data available' };
    await expect(article('DJNL', 'DJNL$00000000')).rejects.toMatchObject(noArticle);
    // An id of another provider's archive is not this provider's article.
    await expect(article('BRFG', listed.articleId)).rejects.toMatchObject(noArticle);
    await expect(article('BZ', 'BZ$12345678')).rejects.toMatchObject({
      code: 10276,
      message: 'News feed is not allowed.',
    });
  });

  it("replays the day's bulletins to a new subscription and pushes the ones published after", async () => {
    const received: { id: number; type: number; message: string; exchange: string }[] = [];
    const onBulletin = (id: number, type: number, message: string, exchange: string) =>
      received.push({ id, type, message, exchange });
    api.on(EventName.updateNewsBulletin, onBulletin);
    try {
      api.reqNewsBulletins(true);
      await ib.getCurrentTime(); // answered after the replay
      expect(received).toEqual([
        {
          id: 1,
          type: 1,
          message: 'Welcome to the IB Gateway simulator. All trading here is simulated.',
          exchange: 'SIM',
        },
      ]);
      simulator.news.publish(2, 'Trading on NYSE is halted', 'NYSE');
      await ib.getCurrentTime();
      expect(received[1]).toEqual({ id: 2, type: 2, message: 'Trading on NYSE is halted', exchange: 'NYSE' });
    } finally {
      api.cancelNewsBulletins();
      api.off(EventName.updateNewsBulletin, onBulletin);
    }
  });
});
