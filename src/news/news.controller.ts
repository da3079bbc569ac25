import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import type { z } from 'zod';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import {
  NewsArticle,
  NewsArticleInput,
  NewsBulletins,
  NewsBulletinsInput,
  NewsHeadlines,
  NewsHeadlinesInput,
  NewsProviders,
  NewsProvidersInput,
} from './news.schemas';
import { NewsService } from './news.service';

/** News comes from the providers beyond IB (Briefing.com, Dow Jones, ...): read-only, open world. */
const READ_ONLY_NEWS = { readOnly: true, destructive: false, idempotent: true, openWorld: true } as const;

@ApiTags('news')
@McpController('news')
export class NewsController {
  constructor(private readonly router: GatewayRouter) {}

  /** News comes from the gateway for data unless one is named. */
  private news(input: GatewayChoice): NewsService {
    return this.router.forData(input).get(NewsService);
  }

  @Operation({
    name: 'get_news_providers',
    summary: 'List the news providers the account has',
    description:
      'The news services this IB account has an API subscription to (every account has BRFG, BRFUPDN and DJNL), each with the code get_news_headlines and get_news_article take.',
    path: 'providers',
    input: NewsProvidersInput,
    output: NewsProviders,
    safety: READ_ONLY_NEWS,
  })
  async providers(
    @Input(NewsProvidersInput) input: z.infer<typeof NewsProvidersInput>,
  ): Promise<z.infer<typeof NewsProviders>> {
    return this.news(input).newsProviders();
  }

  @Operation({
    name: 'get_news_headlines',
    summary: 'Get news headlines about a contract',
    description:
      'Historical headlines about a contract (by symbol or conId) from the given providers (default all the account has), newest first, optionally within from/to; at most `limit` (up to 300), with hasMore when IB has more. A provider the account has no API subscription to is a 403 (IB error 10276).',
    path: 'headlines',
    input: NewsHeadlinesInput,
    output: NewsHeadlines,
    safety: READ_ONLY_NEWS,
  })
  async headlines(
    @Input(NewsHeadlinesInput) input: z.infer<typeof NewsHeadlinesInput>,
  ): Promise<z.infer<typeof NewsHeadlines>> {
    return this.news(input).headlines(input);
  }

  @Operation({
    name: 'get_news_article',
    summary: 'Get the text of a news article',
    description:
      'The body of the article behind a headline, by its provider and article id (get_news_headlines). An id IB has no article for is a 404.',
    path: 'article',
    input: NewsArticleInput,
    output: NewsArticle,
    safety: READ_ONLY_NEWS,
  })
  async article(
    @Input(NewsArticleInput) input: z.infer<typeof NewsArticleInput>,
  ): Promise<z.infer<typeof NewsArticle>> {
    return this.news(input).article(input);
  }

  @Operation({
    name: 'get_news_bulletins',
    summary: "Get IB's news bulletins",
    description:
      "The bulletins IB broadcast (exchange outages and IB notices) since the service's session connected: the service keeps a bulletin subscription on every session. allMessages=false leaves out the day's bulletins IB already had when the service subscribed.",
    path: 'bulletins',
    input: NewsBulletinsInput,
    output: NewsBulletins,
    safety: READ_ONLY_NEWS,
  })
  bulletins(
    @Input(NewsBulletinsInput) input: z.infer<typeof NewsBulletinsInput>,
  ): z.infer<typeof NewsBulletins> {
    return this.news(input).bulletins(input);
  }
}
