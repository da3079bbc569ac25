import { z } from 'zod';
import { gatewayArgument } from '../common/gateway-argument';
import { ContractSchema, contractQueryShape, requireSymbolOrConId } from '../contracts/contracts.schemas';

/** IB's bound of one historical news request (totalResults 1-300). */
export const MAX_HEADLINES = 300;

const providerCode = z
  .string()
  .trim()
  .min(1)
  .max(16)
  .regex(/^[A-Za-z0-9-]+$/, 'must be a news provider code such as BRFG or DJ-N (see get_news_providers)')
  .transform((code) => code.toUpperCase());

const dateTime = (what: string) =>
  z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2026-11-24T14:00:00Z' })
    .optional()
    .describe(what);

export const NewsProvidersInput = z.strictObject({ ...gatewayArgument });

export const NewsProviders = z.object({
  providers: z
    .array(
      z.object({
        code: z.string().describe('Provider code to pass as providers or provider, e.g. BRFG'),
        name: z.string().describe("The provider's name, e.g. Briefing.com General Market Columns"),
      }),
    )
    .describe('The news providers this account has an API subscription to'),
});

export const NewsHeadlinesInput = z
  .strictObject({
    ...contractQueryShape,
    providers: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(
        /^[A-Za-z0-9-]+(\s*[,+]\s*[A-Za-z0-9-]+)*$/,
        'must be provider codes separated by commas or +, e.g. "BRFG,DJNL" (see get_news_providers)',
      )
      .optional()
      .describe(
        'Provider codes separated by commas or +, e.g. "BRFG,DJNL"; default every provider the account has',
      ),
    from: dateTime('Only headlines after this time (ISO 8601); default as far back as IB keeps them'),
    to: dateTime('Only headlines at or before this time (ISO 8601); default now'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_HEADLINES)
      .default(50)
      .describe(`How many headlines at most, newest first (1-${MAX_HEADLINES}); default 50`),
    ...gatewayArgument,
  })
  .superRefine(requireSymbolOrConId)
  .superRefine((value, context) => {
    if (
      value.from !== undefined &&
      value.to !== undefined &&
      Date.parse(value.from) >= Date.parse(value.to)
    ) {
      context.addIssue({ code: 'custom', path: ['from'], message: 'must be before to' });
    }
  });

export const NewsHeadlines = z.object({
  contract: ContractSchema.describe('The contract the headlines are about'),
  providers: z.array(z.string()).describe('The providers asked'),
  headlines: z
    .array(
      z.object({
        time: z.string().describe('When the article was published (ISO 8601, UTC)'),
        provider: z.string().describe('Provider code'),
        articleId: z.string().describe('Pass it with the provider to get_news_article for the text'),
        headline: z.string().describe('The headline, without its metadata block'),
        metadata: z
          .string()
          .optional()
          .describe('The metadata block IB puts before some headlines, e.g. "A:800015:L:en:K:0.97:C:0.97"'),
      }),
    )
    .describe('Newest first'),
  hasMore: z.boolean().describe('True when IB has more headlines in the window than were returned'),
});

export const NewsArticleInput = z.strictObject({
  provider: providerCode.describe('The provider code of the headline, e.g. BRFG'),
  articleId: z
    .string()
    .trim()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, 'must be an article id as get_news_headlines returns it, e.g. BRFG$04fb9da2')
    .describe('The article id of a headline (get_news_headlines)'),
  ...gatewayArgument,
});

export const NewsArticle = z.object({
  provider: z.string(),
  articleId: z.string(),
  articleType: z
    .enum(['text', 'binary'])
    .describe('text: plain text or HTML; binary: a document (PDF) as base64 in `text`'),
  text: z.string().describe('The body of the article'),
});

export const NewsBulletinsInput = z.strictObject({
  allMessages: z
    .boolean()
    .default(true)
    .describe(
      "true (default): also the day's bulletins IB already had when the service subscribed; false: only those issued since",
    ),
  ...gatewayArgument,
});

export const BULLETIN_TYPES = ['news', 'exchange-unavailable', 'exchange-available'] as const;

export const NewsBulletins = z.object({
  subscribedSince: z
    .string()
    .nullable()
    .describe(
      "Since when the service's bulletin subscription has run (ISO 8601); null while it is not connected",
    ),
  bulletins: z
    .array(
      z.object({
        msgId: z.number().int().describe("IB's id of the bulletin"),
        type: z
          .enum(BULLETIN_TYPES)
          .describe(
            'news: a regular bulletin; exchange-unavailable / exchange-available: an exchange stopped or resumed',
          ),
        message: z.string(),
        originExchange: z.string().describe('The exchange it came from'),
        receivedAt: z.string().describe('When the service received it (ISO 8601)'),
        issuedBeforeSubscription: z
          .boolean()
          .describe("True for the day's bulletins IB sent at once when the service subscribed"),
      }),
    )
    .describe('Oldest first, as IB sent them since the service connected (the newest 500 are kept)'),
});
