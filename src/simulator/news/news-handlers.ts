import type { Market } from '../market/market';
import type { WireValue } from '../protocol/framing';
import { Reply, Request } from '../protocol/message-ids';
import type { SimulatorContext } from '../simulator-context';
import {
  articleText,
  findHeadline,
  newsHeadlines,
  SUBSCRIBED_NEWS_PROVIDERS,
  type NewsHeadline,
  type NewsProvider,
} from './news-feed';

/**
 * The codes IB answers news requests with. 10276 is IB's "not permissioned for this news feed" (its message
 * code table; @stoqey/ib's ErrorCode.NEWS_FEED_NOT_ALLOWED); 10172 is the text IB sends for an article it
 * has no body for; 200 is IB's answer to any request about a conId it does not know.
 */
export const NewsCode = {
  NO_SECURITY_DEFINITION: 200,
  ERROR_VALIDATING_REQUEST: 321,
  NEWS_ARTICLE_FAILED: 10172,
  NEWS_FEED_NOT_ALLOWED: 10276,
} as const;
export const NewsText = {
  noSecurityDefinition: 'No security definition has been found for the request',
  noArticle: 'Failed to request news article: No data available',
  notAllowed: 'News feed is not allowed.',
  invalidDate: (field: string, text: string) =>
    `Error validating request: invalid ${field} "${text}" (yyyyMMdd-HH:mm:ss or yyyy-MM-dd HH:mm:ss.0, UTC)`,
} as const;

/** IB's HISTORICAL_NEWS time: "2026-11-24 14:05:09.0", UTC. */
export function formatNewsTime(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.0`;
}

const DATE_TIME =
  /^(\d{4})-?(\d{2})-?(\d{2})(?:[ T-](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(?:\s*(?:UTC|GMT|Z))?$/;

/**
 * A window bound of REQ_HISTORICAL_NEWS, read as UTC: "" is no bound; IB's documented
 * "yyyy-MM-dd HH:mm:ss.0", the "yyyyMMdd-HH:mm:ss" its samples use, and a date alone are accepted.
 */
export function parseNewsDateTime(text: string): number | undefined | 'invalid' {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const match = DATE_TIME.exec(trimmed);
  if (!match) return 'invalid';
  const [, year, month, day, hour = '0', minute = '0', second = '0'] = match;
  const epochMs = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  );
  const back = new Date(epochMs);
  return back.getUTCDate() === Number(day) && Number(hour) < 24 ? epochMs : 'invalid';
}

export function newsProvidersMessage(providers: readonly NewsProvider[]): WireValue[] {
  return [Reply.NEWS_PROVIDERS, providers.length, ...providers.flatMap(({ code, name }) => [code, name])];
}

export function historicalNewsMessage(reqId: number, headline: NewsHeadline): WireValue[] {
  return [
    Reply.HISTORICAL_NEWS,
    reqId,
    formatNewsTime(headline.timeMs),
    headline.provider,
    headline.articleId,
    headline.headline,
  ];
}

/** HISTORICAL_NEWS_END: reqId, hasMore. */
export function historicalNewsEndMessage(reqId: number, hasMore: boolean): WireValue[] {
  return [Reply.HISTORICAL_NEWS_END, reqId, hasMore ? 1 : 0];
}

/** NEWS_ARTICLE: reqId, articleType (0 text or html, 1 base64 binary), text. */
export function newsArticleMessage(reqId: number, text: string): WireValue[] {
  return [Reply.NEWS_ARTICLE, reqId, 0, text];
}

/**
 * REQ_NEWS_PROVIDERS, REQ_HISTORICAL_NEWS and REQ_NEWS_ARTICLE (layouts at v193, no version fields). The
 * archive is computed, not stored (news-feed.ts): headlines for a conId from the requested providers within
 * the window, newest first; an article for every id the archive holds.
 */
export function registerNewsHandlers(context: SimulatorContext, market: Market): void {
  const { server, seed, clock } = context;
  const subscribed = new Set(SUBSCRIBED_NEWS_PROVIDERS.map((provider) => provider.code));
  const allowed = (codes: readonly string[]): boolean =>
    codes.length > 0 && codes.every((code) => subscribed.has(code));

  server.on(Request.REQ_NEWS_PROVIDERS, (session) => {
    session.send(newsProvidersMessage(SUBSCRIBED_NEWS_PROVIDERS));
  });

  server.on(Request.REQ_HISTORICAL_NEWS, (session, request) => {
    const reqId = request.int();
    const conId = request.int();
    const providers = request
      .string()
      .split('+')
      .map((code) => code.trim().toUpperCase())
      .filter((code) => code !== '');
    const startText = request.string();
    const endText = request.string();
    const totalResults = request.int();
    if (request.remaining > 0) request.skip(1); // historicalNewsOptions
    if (conId <= 0 || !market.instrument(conId)) {
      session.sendError(reqId, NewsCode.NO_SECURITY_DEFINITION, NewsText.noSecurityDefinition);
      return;
    }
    if (!allowed(providers)) {
      session.sendError(reqId, NewsCode.NEWS_FEED_NOT_ALLOWED, NewsText.notAllowed);
      return;
    }
    const startMs = parseNewsDateTime(startText);
    const endMs = parseNewsDateTime(endText);
    if (startMs === 'invalid' || endMs === 'invalid') {
      const [field, text] = startMs === 'invalid' ? ['startDateTime', startText] : ['endDateTime', endText];
      session.sendError(reqId, NewsCode.ERROR_VALIDATING_REQUEST, NewsText.invalidDate(field, text));
      return;
    }
    const { headlines, hasMore } = newsHeadlines(
      market,
      seed,
      { conId, providers, startMs, endMs, totalResults },
      clock.now(),
    );
    session.batch(() => {
      for (const headline of headlines) session.send(historicalNewsMessage(reqId, headline));
      session.send(historicalNewsEndMessage(reqId, hasMore));
    });
  });

  server.on(Request.REQ_NEWS_ARTICLE, (session, request) => {
    const reqId = request.int();
    const provider = request.string().trim().toUpperCase();
    const articleId = request.string().trim();
    if (request.remaining > 0) request.skip(1); // newsArticleOptions
    if (!allowed([provider])) {
      session.sendError(reqId, NewsCode.NEWS_FEED_NOT_ALLOWED, NewsText.notAllowed);
      return;
    }
    const headline = findHeadline(market, seed, provider, articleId, clock.now());
    if (!headline) {
      session.sendError(reqId, NewsCode.NEWS_ARTICLE_FAILED, NewsText.noArticle);
      return;
    }
    session.send(newsArticleMessage(reqId, articleText(market, headline)));
  });
}
