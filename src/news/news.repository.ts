import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { EventName, type IBApi, type NewsProvider } from '@stoqey/ib';
import {
  BehaviorSubject,
  distinctUntilChanged,
  filter,
  map,
  merge,
  Observable,
  Subject,
  type Subscription,
} from 'rxjs';
import { awaitReply, type Reply } from '../common/await-reply';
import { DomainError } from '../common/domain-error';
import { isInformationCode } from '../connection/ib-errors';
import { IB_REQUEST_TIMEOUT_MS, IbSession } from '../connection/ib-session.repository';

/** A news provider, in the API's words. */
export interface NewsProviderEntry {
  code: string;
  name: string;
}

/** One headline as IB sent it: its time as IB wrote it ("2026-11-24 14:05:09.0", UTC). */
export interface HeadlineEntry {
  time: string;
  provider: string;
  articleId: string;
  headline: string;
}

export interface HeadlineRequest {
  conId: number;
  providers: readonly string[];
  /** Exclusive start of the window (epoch ms); none: no bound. */
  fromMs?: number | undefined;
  /** Inclusive end of the window (epoch ms); none: now. */
  toMs?: number | undefined;
  limit: number;
  /** How errors name the request: "AAPL (conId 265598) from BRFG+DJNL". */
  subject: string;
}

/** One news bulletin; type 1 news, 2 an exchange is unavailable, 3 it is available again. */
export interface BulletinEntry {
  msgId: number;
  type: number;
  message: string;
  originExchange: string;
  /** Sent at once when the subscription began: the day's bulletins IB already had. */
  issuedBeforeSubscription: boolean;
}

/** How long a bulletin subscription's replay of the day's bulletins may take before new ones count as new. */
const BULLETIN_REPLAY_WAIT_MS = 5_000;

type NewsEvent =
  | { kind: 'headline'; reqId: number; headline: HeadlineEntry }
  | { kind: 'end'; reqId: number; hasMore: boolean }
  | { kind: 'article'; reqId: number; articleType: number; text: string }
  | { kind: 'error'; reqId: number; code: number; message: string };

/**
 * IB's news: providers, historical headlines, article bodies and bulletins. IBApiNext has no news calls
 * (@stoqey/ib 1.6.10), so these go through the IBApi inside it, with request ids drawn from IBApiNext's own
 * counter (no clash with its requests) and IB's errors matched by request id.
 */
@Injectable()
export class NewsRepository implements OnModuleDestroy {
  private readonly api: IBApi;
  private readonly bulletinSubject = new Subject<BulletinEntry>();
  private readonly subscribedSubject = new BehaviorSubject<boolean>(false);
  private readonly providersSubject = new Subject<NewsProviderEntry[]>();
  private readonly newsSubject = new Subject<NewsEvent>();
  private readonly sessionStates: Subscription;
  private replaying = false;
  private replayTimer: NodeJS.Timeout | undefined;

  private readonly onProviders = (providers: NewsProvider[]): void => {
    // The answer to the request sent right after the bulletin subscription ends the day's replay.
    this.endReplay();
    this.providersSubject.next(
      providers.map((provider) => ({ code: provider.providerCode ?? '', name: provider.providerName ?? '' })),
    );
  };
  private readonly onBulletin = (
    msgId: number,
    type: number,
    message: string,
    originExchange: string,
  ): void =>
    this.bulletinSubject.next({
      msgId,
      type,
      message,
      originExchange,
      issuedBeforeSubscription: this.replaying,
    });
  private readonly onHeadline = (
    reqId: number,
    time: string,
    provider: string,
    articleId: string,
    headline: string,
  ): void =>
    this.newsSubject.next({ kind: 'headline', reqId, headline: { time, provider, articleId, headline } });
  private readonly onHeadlinesEnd = (reqId: number, hasMore: boolean): void =>
    this.newsSubject.next({ kind: 'end', reqId, hasMore });
  private readonly onArticle = (reqId: number, articleType: number, text: string): void =>
    this.newsSubject.next({ kind: 'article', reqId, articleType, text });

  constructor(private readonly session: IbSession) {
    this.api = session.ibRawApi();
    this.api
      .on(EventName.newsProviders, this.onProviders)
      .on(EventName.updateNewsBulletin, this.onBulletin)
      .on(EventName.historicalNews, this.onHeadline)
      .on(EventName.historicalNewsEnd, this.onHeadlinesEnd)
      .on(EventName.newsArticle, this.onArticle);
    // A bulletin subscription lives as long as the IB session: every new session subscribes again.
    this.sessionStates = session.states.pipe(distinctUntilChanged()).subscribe((state) => {
      if (state === 'connected') this.subscribeBulletins();
      else {
        this.endReplay();
        this.subscribedSubject.next(false);
      }
    });
  }

  onModuleDestroy(): void {
    this.sessionStates.unsubscribe();
    this.endReplay();
    this.api
      .off(EventName.newsProviders, this.onProviders)
      .off(EventName.updateNewsBulletin, this.onBulletin)
      .off(EventName.historicalNews, this.onHeadline)
      .off(EventName.historicalNewsEnd, this.onHeadlinesEnd)
      .off(EventName.newsArticle, this.onArticle);
  }

  /** Every bulletin IB sends on the service's subscription. */
  get bulletins(): Observable<BulletinEntry> {
    return this.bulletinSubject.asObservable();
  }

  /** Whether a bulletin subscription runs: now, then true when a new session's began, false when it ended. */
  get bulletinSubscription(): Observable<boolean> {
    return this.subscribedSubject.pipe(distinctUntilChanged((was, is) => was === is && !is));
  }

  /** The news providers the account has an API subscription to (reqNewsProviders). */
  async providers(): Promise<NewsProviderEntry[]> {
    return this.session.ibRequest('news providers', async () =>
      this.reply(
        this.providersSubject,
        () => this.api.reqNewsProviders(),
        (providers) => ({ answer: providers }),
      ),
    );
  }

  /** Headlines about a contract from the providers, newest first as IB sends them (reqHistoricalNews). */
  async headlines(request: HeadlineRequest): Promise<{ headlines: HeadlineEntry[]; hasMore: boolean }> {
    const context = { request: 'news', subject: request.subject } as const;
    return this.session.ibRequest(
      `news headlines for ${request.subject}`,
      async (ib) => {
        const reqId = ib.nextReqId;
        const headlines: HeadlineEntry[] = [];
        return this.reply(
          this.newsOf(reqId),
          () =>
            this.api.reqHistoricalNews(
              reqId,
              request.conId,
              request.providers.join('+'),
              request.fromMs === undefined ? '' : ibDateTime(request.fromMs),
              request.toMs === undefined ? '' : ibDateTime(request.toMs),
              request.limit,
            ),
          (event) => {
            if (event.kind === 'headline') headlines.push(event.headline);
            if (event.kind === 'end') return { answer: { headlines, hasMore: event.hasMore } };
            return failure(event);
          },
        );
      },
      context,
    );
  }

  /** The body of an article (reqNewsArticle): type 0 text or HTML, 1 a base64 document. */
  async article(provider: string, articleId: string): Promise<{ articleType: number; text: string }> {
    const subject = `article ${articleId} of ${provider}`;
    return this.session.ibRequest(
      subject,
      async (ib) => {
        const reqId = ib.nextReqId;
        return this.reply(
          this.newsOf(reqId),
          () => this.api.reqNewsArticle(reqId, provider, articleId),
          (event) =>
            event.kind === 'article'
              ? { answer: { articleType: event.articleType, text: event.text } }
              : failure(event),
        );
      },
      { request: 'news', subject },
    );
  }

  private subscribeBulletins(): void {
    this.replaying = true;
    if (this.replayTimer) clearTimeout(this.replayTimer);
    this.replayTimer = setTimeout(() => this.endReplay(), BULLETIN_REPLAY_WAIT_MS);
    this.replayTimer.unref();
    // With allMsgs, IB first sends the day's bulletins; answers come in request order, so the providers
    // answer to the request right after marks where that replay ends and new bulletins begin.
    this.api.reqNewsBulletins(true);
    this.api.reqNewsProviders();
    this.subscribedSubject.next(true);
  }

  private endReplay(): void {
    this.replaying = false;
    if (this.replayTimer) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
  }

  /** The news events and IB errors of one request id. */
  private newsOf(reqId: number): Observable<NewsEvent> {
    return merge(
      this.newsSubject,
      this.session.errors.pipe(
        map((error): NewsEvent => ({
          kind: 'error',
          reqId: error.reqId,
          code: error.code,
          message: error.message,
        })),
      ),
    ).pipe(filter((event) => event.reqId === reqId));
  }

  /** Sends a request and waits for the event that answers it (the session's ibRequest bounds the wait). */
  private async reply<E, R>(
    events: Observable<E>,
    send: () => void,
    match: (event: E) => Reply<R>,
  ): Promise<R> {
    return awaitReply({
      events,
      send,
      match,
      // ibRequest times out first; this only ends the subscription.
      timeoutMs: IB_REQUEST_TIMEOUT_MS + 1_000,
      onTimeout: () => new DomainError('IB_TIMEOUT', 'IB did not answer the news request'),
    });
  }
}

/** IB's error on a request, as the one mapping (ib-errors.ts) reads it; other events: keep waiting. */
function failure(event: NewsEvent): Reply<never> {
  if (event.kind !== 'error' || isInformationCode(event.code)) return undefined;
  return { failure: Object.assign(new Error(event.message), { code: event.code }) };
}

/** A window bound as IB's own samples send it: "yyyyMMdd-HH:mm:ss", UTC. */
function ibDateTime(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 19)}`;
}
