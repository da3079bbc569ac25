import type { Instrument } from '../market/instrument';
import type { Market } from '../market/market';
import { hashString, hashWords, unitHash } from '../market/price-path';

/** A news provider as NEWS_PROVIDERS lists it. */
export interface NewsProvider {
  code: string;
  name: string;
}

/**
 * The API news services IB enables in every account by default (TWS API documentation, "News"); the paid
 * ones (Benzinga Pro BZ, Fly on the Wall FLY, Briefing Trader BRF, ...) need an API subscription, so a
 * paper account without one gets "News feed is not allowed" for them.
 */
export const SUBSCRIBED_NEWS_PROVIDERS: readonly NewsProvider[] = [
  { code: 'BRFG', name: 'Briefing.com General Market Columns' },
  { code: 'BRFUPDN', name: 'Briefing.com Analyst Actions' },
  { code: 'DJNL', name: 'Dow Jones Newsletters' },
];

/** One headline of the simulated news archive. */
export interface NewsHeadline {
  conId: number;
  provider: string;
  articleId: string;
  /** Publication time, whole seconds (epoch ms). */
  timeMs: number;
  /** As IB sends it: Dow Jones headlines start with their "{A:...}" metadata block. */
  headline: string;
}

/** How far back the archive reaches from the clock's now. */
export const NEWS_HORIZON_DAYS = 90;
/** IB's bounds of totalResults. */
export const MAX_HEADLINES = 300;

const DAY_MS = 86_400_000;
/** Hash words per day: the headline slots, and one for the day's count. */
const SLOTS_PER_DAY = 8;
const COUNT_SLOT = 7;

interface HeadlineParts {
  symbol: string;
  name: string;
  pick: (choices: readonly string[], salt: number) => string;
  percent: (salt: number) => string;
}

interface ProviderStyle {
  /** Headlines a day: 0 up to this many, evenly likely. */
  maxPerDay: number;
  covers(instrument: Instrument): boolean;
  headline(parts: HeadlineParts): string;
}

const FIRMS = [
  'Northbridge Capital',
  'Harbor Lane Research',
  'Summit Ridge Securities',
  'Crescent Equity Partners',
  'Bluewater Analytics',
  'Granite Point Advisors',
] as const;
const BULLISH = ['Buy', 'Outperform', 'Overweight'] as const;
const BEARISH = ['Neutral', 'Market Perform', 'Underweight'] as const;
const RATINGS = [...BULLISH, ...BEARISH] as const;
const ACTIONS = ['upgraded', 'downgraded', 'reiterated', 'initiated coverage of'] as const;
const THEMES = [
  'margins',
  'guidance',
  'demand trends',
  'capital spending',
  'pricing power',
  'buybacks',
] as const;

const isStock = (instrument: Instrument): boolean => instrument.secType === 'STK';

/** What each provider writes about, and how often. Options have no news of their own. */
const STYLES: Record<string, ProviderStyle> = {
  BRFG: {
    maxPerDay: 2,
    covers: isStock,
    headline: ({ symbol, name, pick, percent }) =>
      pick(
        [
          `${name} (${symbol}) ${pick(['moves higher', 'slips', 'trades flat'], 1)} as investors weigh ${pick(THEMES, 2)}`,
          `Stock Brief: ${name} (${symbol}) in focus ahead of the session`,
          `${symbol} ${pick(['gains', 'loses'], 3)} ${percent(4)}% on ${pick(THEMES, 5)} commentary`,
          `Mid-day movers: ${name} (${symbol}) among the most active names`,
        ],
        0,
      ),
  },
  BRFUPDN: {
    maxPerDay: 1,
    covers: (instrument) => isStock(instrument) && instrument.stockType !== 'ETF',
    headline: ({ symbol, name, pick }) => {
      const action = pick(ACTIONS, 1);
      const firm = pick(FIRMS, 2);
      const rating = pick(action === 'upgraded' ? BULLISH : action === 'downgraded' ? BEARISH : RATINGS, 3);
      return action === 'reiterated' || action === 'initiated coverage of'
        ? `${firm} ${action} ${name} (${symbol}) with ${rating}`
        : `${firm} ${action} ${name} (${symbol}) to ${rating}`;
    },
  },
  DJNL: {
    maxPerDay: 1,
    covers: (instrument) => instrument.secType !== 'OPT',
    headline: ({ symbol, name, pick, percent }) =>
      pick(
        [
          `${name} (${symbol}): What to Watch This Week`,
          `Market Talk: ${symbol} ${pick(['Rises', 'Falls'], 1)} ${percent(2)}% in Busy Trade`,
          `Investor Letter: Is ${name} (${symbol}) Still Worth Owning?`,
        ],
        0,
      ),
  },
};

/** "APPLE INC" → "Apple"; "META PLATFORMS INC-CLASS A" → "Meta Platforms". */
export function displayName(instrument: Instrument): string {
  const words = instrument.longName
    .replace(/-CL(ASS)? [A-Z]$/, '')
    .replace(/\b(INC|CORP|CO|LTD|PLC|TRUST|SERIES \d+)\b\.?/g, '')
    .replace(/[&,]\s*$/, '')
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '' && word !== '&');
  const name = words
    .map((word) => (word.length <= 3 && /^[A-Z&]+$/.test(word) ? word : capitalized(word)))
    .join(' ');
  return name || instrument.symbol;
}

function capitalized(word: string): string {
  return word.charAt(0) + word.slice(1).toLowerCase();
}

/** The headlines one provider published about one instrument on one UTC day (any order). */
function dayHeadlines(seed: number, instrument: Instrument, provider: string, day: number): NewsHeadline[] {
  const style = STYLES[provider];
  if (!style?.covers(instrument)) return [];
  const key = hashString(provider);
  const { conId } = instrument;
  const count = Math.floor(
    unitHash(seed, conId, key, day * SLOTS_PER_DAY + COUNT_SLOT) * (style.maxPerDay + 1),
  );
  const name = displayName(instrument);
  const headlines: NewsHeadline[] = [];
  for (let slot = 0; slot < count; slot++) {
    const word = day * SLOTS_PER_DAY + slot;
    const second = Math.floor(unitHash(seed ^ 0x6e657773, conId, key, word) * (DAY_MS / 1000));
    const pick = (choices: readonly string[], salt: number): string =>
      choices[hashWords(seed, conId, key, word * 16 + salt) % choices.length] ?? '';
    const percent = (salt: number): string =>
      (0.3 + unitHash(seed, conId, key, word * 16 + salt) * 4.5).toFixed(1);
    let headline = style.headline({ symbol: instrument.symbol, name, pick, percent });
    if (provider === 'DJNL') {
      const sentiment = (unitHash(seed, conId, key, word * 16 + 14) * 2 - 1).toFixed(2);
      const confidence = (0.5 + unitHash(seed, conId, key, word * 16 + 15) / 2).toFixed(2);
      headline = `{A:800015:L:en:K:${sentiment}:C:${confidence}}${headline}`;
    }
    headlines.push({
      conId,
      provider,
      articleId: `${provider}$${hashWords(seed ^ 0x61727469, conId, key, word)
        .toString(16)
        .padStart(8, '0')}`,
      timeMs: day * DAY_MS + second * 1000,
      headline,
    });
  }
  return headlines;
}

const newestFirst = (a: NewsHeadline, b: NewsHeadline): number =>
  b.timeMs - a.timeMs || a.provider.localeCompare(b.provider) || a.articleId.localeCompare(b.articleId);

export interface HeadlineQuery {
  conId: number;
  providers: readonly string[];
  /** Exclusive start of the window (epoch ms); none: as far back as the archive goes. */
  startMs?: number | undefined;
  /** Inclusive end of the window; none (or later than now): now. */
  endMs?: number | undefined;
  totalResults: number;
}

/**
 * The headlines of the window, newest first, at most totalResults of them, and whether the window held
 * more. Deterministic: the same seed, instrument and clock give the same headlines and article ids.
 */
export function newsHeadlines(
  market: Market,
  seed: number,
  query: HeadlineQuery,
  nowMs: number,
): { headlines: NewsHeadline[]; hasMore: boolean } {
  const instrument = market.instrument(query.conId);
  const limit = Math.max(0, Math.min(query.totalResults, MAX_HEADLINES));
  if (!instrument) return { headlines: [], hasMore: false };
  const endMs = Math.min(query.endMs ?? nowMs, nowMs);
  const oldestMs = Math.max(query.startMs ?? -Infinity, nowMs - NEWS_HORIZON_DAYS * DAY_MS);
  const found: NewsHeadline[] = [];
  for (let day = Math.floor(endMs / DAY_MS); day >= Math.floor(oldestMs / DAY_MS); day--) {
    const ofDay = query.providers
      .flatMap((provider) => dayHeadlines(seed, instrument, provider, day))
      .filter((headline) => headline.timeMs > oldestMs && headline.timeMs <= endMs)
      .sort(newestFirst);
    found.push(...ofDay);
    if (found.length > limit) break;
  }
  return { headlines: found.slice(0, limit), hasMore: found.length > limit };
}

/** The headline an article id names, if the archive published it by `nowMs`. */
export function findHeadline(
  market: Market,
  seed: number,
  provider: string,
  articleId: string,
  nowMs: number,
): NewsHeadline | undefined {
  const style = STYLES[provider];
  if (!style || !articleId.startsWith(`${provider}$`)) return undefined;
  const today = Math.floor(nowMs / DAY_MS);
  for (const instrument of market.instruments()) {
    if (!style.covers(instrument)) continue;
    for (let day = today; day >= today - NEWS_HORIZON_DAYS; day--) {
      const match = dayHeadlines(seed, instrument, provider, day).find(
        (headline) => headline.articleId === articleId,
      );
      if (match) {
        const inArchive = match.timeMs <= nowMs && match.timeMs > nowMs - NEWS_HORIZON_DAYS * DAY_MS;
        return inArchive ? match : undefined;
      }
    }
  }
  return undefined;
}

/** The headline without the Dow Jones metadata block. */
export function plainHeadline(headline: string): string {
  return headline.replace(/^\{[^}]*\}/, '');
}

/** The article's text (plain text, articleType 0): what a client shows for the headline. */
export function articleText(market: Market, headline: NewsHeadline): string {
  const instrument = market.instrument(headline.conId);
  const name = instrument ? displayName(instrument) : String(headline.conId);
  const symbol = instrument?.symbol ?? '';
  const published = new Date(headline.timeMs).toISOString().replace('T', ' ').slice(0, 16);
  return [
    plainHeadline(headline.headline),
    '',
    `${published} UTC -- ${name} (${symbol}) was in the news today. This article was generated by the ` +
      'IB Gateway simulator: it is not real news, and no real firm or analyst said anything here.',
    '',
    `Provider: ${headline.provider}. Article: ${headline.articleId}.`,
  ].join('\n');
}
