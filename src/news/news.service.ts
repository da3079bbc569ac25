import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { z } from 'zod';
import { CLOCK, type Clock } from '../common/clock';
import { ContractSchema } from '../contracts/contracts.schemas';
import { ContractsService } from '../contracts/contracts.service';
import {
  NewsRepository,
  type BulletinEntry,
  type HeadlineEntry,
  type NewsProviderEntry,
} from './news.repository';
import {
  BULLETIN_TYPES,
  type NewsArticle,
  type NewsArticleInput,
  type NewsBulletins,
  type NewsBulletinsInput,
  type NewsHeadlines,
  type NewsHeadlinesInput,
  type NewsProviders,
} from './news.schemas';

/** The providers an account has change rarely: asked again after this long. */
const PROVIDERS_TTL_MS = 10 * 60 * 1000;
/** The newest bulletins kept; IB sends a handful a day. */
const MAX_BULLETINS = 500;
/** The metadata block IB puts before some headlines: "{A:800015:L:en:K:0.97:C:0.97}Text". */
const HEADLINE_METADATA = /^\{([^}]*)\}\s*/;
/** IB's headline time: "2026-11-24 14:05:09.0", UTC. */
const IB_TIME = /^(\d{4})-?(\d{2})-?(\d{2})[ T-](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$/;

type Headline = z.infer<typeof NewsHeadlines>['headlines'][number];
type Bulletin = z.infer<typeof NewsBulletins>['bulletins'][number];

/**
 * IB's news: the providers the account has, headlines about a contract, article bodies, and the bulletins
 * IB broadcast since the service's session connected (the repository subscribes on every new session;
 * the service keeps them).
 */
@Injectable()
export class NewsService implements OnModuleDestroy {
  private providersCache: { expires: number; value: Promise<NewsProviderEntry[]> } | undefined;
  private readonly kept: Bulletin[] = [];
  private subscribedSince: number | undefined;
  private readonly subscriptions: Subscription;
  private readonly newBulletins = new Subject<Bulletin>();
  /** Each bulletin the first time it is kept (pushed to /events). */
  readonly bulletinsKept: Observable<Bulletin> = this.newBulletins.asObservable();

  constructor(
    private readonly repository: NewsRepository,
    private readonly contracts: ContractsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.subscriptions = repository.bulletins.subscribe((bulletin) => this.keep(bulletin));
    this.subscriptions.add(
      repository.bulletinSubscription.subscribe((subscribed) => {
        this.subscribedSince = subscribed ? this.clock.now() : undefined;
      }),
    );
  }

  onModuleDestroy(): void {
    this.subscriptions.unsubscribe();
    this.newBulletins.complete();
  }

  async newsProviders(): Promise<z.infer<typeof NewsProviders>> {
    const providers = await this.allProviders();
    return { providers: [...providers].sort((a, b) => a.code.localeCompare(b.code)) };
  }

  /** Headlines about one contract, newest first; IB's own refusal (no subscription: 10276) is a 403. */
  async headlines(input: z.infer<typeof NewsHeadlinesInput>): Promise<z.infer<typeof NewsHeadlines>> {
    const { details } = await this.contracts.resolveContract(input);
    const contract = ContractSchema.parse(details);
    const providers =
      input.providers === undefined
        ? (await this.allProviders()).map((provider) => provider.code)
        : providerCodes(input.providers);
    if (providers.length === 0) return { contract, providers, headlines: [], hasMore: false };
    const found = await this.repository.headlines({
      conId: contract.conId,
      providers,
      fromMs: input.from === undefined ? undefined : Date.parse(input.from),
      toMs: input.to === undefined ? undefined : Date.parse(input.to),
      limit: input.limit,
      subject: `${contract.symbol} (conId ${contract.conId}) from ${providers.join('+')}`,
    });
    const headlines = found.headlines
      .map(headlineOf)
      .sort((a, b) => (Date.parse(b.time) || 0) - (Date.parse(a.time) || 0))
      .slice(0, input.limit);
    return {
      contract,
      providers,
      headlines,
      hasMore: found.hasMore || found.headlines.length > input.limit,
    };
  }

  /** The text of one article; an id IB has no body for is a 404. */
  async article(input: z.infer<typeof NewsArticleInput>): Promise<z.infer<typeof NewsArticle>> {
    const found = await this.repository.article(input.provider, input.articleId);
    return {
      provider: input.provider,
      articleId: input.articleId,
      articleType: found.articleType === 1 ? 'binary' : 'text',
      text: found.text,
    };
  }

  /** The bulletins IB sent on the service's subscription, oldest first. */
  bulletins(input: z.infer<typeof NewsBulletinsInput>): z.infer<typeof NewsBulletins> {
    return {
      subscribedSince:
        this.subscribedSince === undefined ? null : new Date(this.subscribedSince).toISOString(),
      bulletins: this.kept.filter((bulletin) => input.allMessages || !bulletin.issuedBeforeSubscription),
    };
  }

  private async allProviders(): Promise<NewsProviderEntry[]> {
    const now = this.clock.now();
    if (this.providersCache && this.providersCache.expires > now) return this.providersCache.value;
    const value = this.repository.providers();
    const entry = { expires: now + PROVIDERS_TTL_MS, value };
    this.providersCache = entry;
    value.catch(() => {
      if (this.providersCache === entry) this.providersCache = undefined;
    });
    return value;
  }

  /** Keeps a bulletin once: a new session's subscription sends the day's bulletins again. */
  private keep(bulletin: BulletinEntry): void {
    if (this.kept.some((kept) => kept.msgId === bulletin.msgId && kept.message === bulletin.message)) return;
    const kept: Bulletin = {
      msgId: bulletin.msgId,
      type: BULLETIN_TYPES[bulletin.type - 1] ?? 'news',
      message: bulletin.message,
      originExchange: bulletin.originExchange,
      receivedAt: new Date(this.clock.now()).toISOString(),
      issuedBeforeSubscription: bulletin.issuedBeforeSubscription,
    };
    this.kept.push(kept);
    this.newBulletins.next(kept);
    if (this.kept.length > MAX_BULLETINS) this.kept.splice(0, this.kept.length - MAX_BULLETINS);
  }
}

/** "BRFG, djnl+BRFG" → ["BRFG", "DJNL"]. */
function providerCodes(text: string): string[] {
  const codes = text
    .split(/[,+]/)
    .map((code) => code.trim().toUpperCase())
    .filter((code) => code !== '');
  return [...new Set(codes)];
}

/** A headline in the API's words: its time as ISO 8601, its metadata block apart. */
function headlineOf(entry: HeadlineEntry): Headline {
  const metadata = HEADLINE_METADATA.exec(entry.headline);
  return {
    time: isoTime(entry.time),
    provider: entry.provider,
    articleId: entry.articleId,
    headline: metadata ? entry.headline.slice(metadata[0].length) : entry.headline,
    ...(metadata?.[1] ? { metadata: metadata[1] } : {}),
  };
}

/** IB's "2026-11-24 14:05:09.0" (UTC) as "2026-11-24T14:05:09.000Z"; anything else as IB wrote it. */
function isoTime(text: string): string {
  const match = IB_TIME.exec(text.trim());
  if (!match) return text;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  const epochMs = Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1, hour ?? 0, minute ?? 0, second ?? 0);
  return Number.isNaN(epochMs) ? text : new Date(epochMs).toISOString();
}
