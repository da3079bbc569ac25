import { DomainError } from '../common/domain-error';

/**
 * The IB codes the service acts on, named once. IB sends them as "errors" with a request id (or -1 for
 * system messages); many are information, not failures.
 */
export const IbCode = {
  DUPLICATE_ORDER_ID: 103,
  TOO_MANY_MESSAGES: 100,
  MAX_TICKERS: 101,
  ORDER_NOT_FOUND: 135,
  HISTORICAL_DATA_SERVICE: 162,
  NO_SECURITY_DEFINITION: 200,
  ORDER_REJECTED: 201,
  ORDER_CANCELLED: 202,
  ERROR_VALIDATING_REQUEST: 321,
  ERROR_PROCESSING_REQUEST: 322,
  CLIENT_ID_IN_USE: 326,
  NOT_SUBSCRIBED: 354,
  ORDER_WARNING: 399,
  /** "Displaying delayed market data": information, the request goes on. */
  DISPLAYING_DELAYED_DATA: 10167,
  NOT_CONNECTED: 504,
  ORDER_ID_NOT_FOUND: 10147,
  CANNOT_CANCEL: 10148,
  DELAYED_DATA_NOT_ENABLED: 10168,
  INVALID_END_DATE: 10314,
  /** "Failed to request historical ticks:<reason>" (no permissions, no data of that type). */
  HISTORICAL_TICKS_FAILED: 10187,
  /** "Failed to request news article: ..." ("No data available" for an article IB has no body for). */
  NEWS_ARTICLE_FAILED: 10172,
  /** "News feed is not allowed.": the account has no API subscription to the news asked for. */
  NEWS_FEED_NOT_ALLOWED: 10276,
  CONNECTIVITY_LOST: 1100,
  CONNECTIVITY_RESTORED_DATA_LOST: 1101,
  CONNECTIVITY_RESTORED_DATA_KEPT: 1102,
} as const;

/** How long a caller should wait after IB's own pacing complaint (its identical-request window). */
export const IB_PACING_RETRY_AFTER_SECONDS = 15;

/** One error IB (or @stoqey/ib, for a client-side failure) reported. */
export interface IbErrorReport {
  code: number;
  message: string;
}

/** What was asked when IB answered with an error; it shapes the message, never the policy. */
export interface IbErrorContext {
  request:
    | 'quote'
    | 'bars'
    | 'order'
    | 'what-if'
    | 'cancel'
    | 'scanner'
    | 'contract'
    | 'news'
    | 'head-timestamp'
    | 'ticks'
    | 'histogram'
    | 'request';
  /** What the request was about, as the caller named it: "AAPL", "conId 265598", "open orders". */
  subject: string;
  orderId?: number;
}

/**
 * Codes that are information at IB (farm status, order warnings, "displaying delayed data"), not a verdict
 * on a request.
 */
export function isInformationCode(code: number): boolean {
  return (code >= 2100 && code <= 2999) || [399, 10090, 10167, 492].includes(code);
}

/** IB's error as a report, from @stoqey/ib's IBApiNextError (code + wrapped Error) or a plain shape. */
export function ibErrorOf(error: unknown): IbErrorReport | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const candidate = error as { code?: unknown; error?: { message?: unknown }; message?: unknown };
  if (typeof candidate.code !== 'number') return undefined;
  const text = candidate.error?.message ?? candidate.message;
  return { code: candidate.code, message: typeof text === 'string' ? text : '' };
}

const REQUEST_NAMES: Record<IbErrorContext['request'], string> = {
  quote: 'quote',
  bars: 'historical bars',
  order: 'order',
  'what-if': 'what-if',
  cancel: 'cancel',
  scanner: 'scan',
  contract: 'contract',
  news: 'news',
  'head-timestamp': 'head timestamp',
  ticks: 'historical ticks',
  histogram: 'histogram',
  request: 'request',
};

/**
 * The one mapping from IB's errors to domain errors. Policy for codes not named here: the broker or the
 * gateway failed, so IB_ERROR (502) with IB's code and text; a fault on IB's side is never reported as the
 * caller's bad input. A DomainError passes through; anything that is not IB's gets IB_ERROR too.
 */
export function toDomainError(error: unknown, context: IbErrorContext): DomainError {
  if (error instanceof DomainError) return error;
  const ib = ibErrorOf(error);
  const what = `the ${REQUEST_NAMES[context.request]} request for ${context.subject}`;
  if (!ib) {
    const text = error instanceof Error ? error.message : String(error);
    return new DomainError('IB_ERROR', `${capitalized(what)} failed: ${text}`);
  }
  const details: Record<string, unknown> = {
    ibCode: ib.code,
    ibMessage: ib.message,
    ...(context.orderId === undefined ? {} : { orderId: context.orderId }),
  };
  const order = context.orderId === undefined ? context.subject : `order ${context.orderId}`;
  switch (ib.code) {
    case IbCode.NO_SECURITY_DEFINITION:
      return new DomainError(
        'NOT_FOUND',
        `IB knows no contract for ${context.subject}: "${ib.message}"`,
        details,
      );
    case IbCode.ORDER_NOT_FOUND:
    case IbCode.ORDER_ID_NOT_FOUND:
      return new DomainError('NOT_FOUND', `IB knows no open ${order}: "${ib.message}"`, details);
    case IbCode.CANNOT_CANCEL:
      return new DomainError(
        'CONFLICT',
        `${capitalized(order)} cannot be cancelled: "${ib.message}"`,
        details,
      );
    case IbCode.ORDER_REJECTED:
      return new DomainError(
        'INVALID_INPUT',
        `IB rejected ${order}: ${rejectionReason(ib.message)}`,
        details,
      );
    case IbCode.DUPLICATE_ORDER_ID:
      return new DomainError(
        'IB_ERROR',
        `IB refused ${order} as a duplicate order id: "${ib.message}"`,
        details,
      );
    case IbCode.NOT_SUBSCRIBED:
    case IbCode.DELAYED_DATA_NOT_ENABLED:
      return missingSubscription(context.subject, ib, details);
    case IbCode.HISTORICAL_DATA_SERVICE:
    case IbCode.HISTORICAL_TICKS_FAILED:
      return historicalDataServiceError(context, ib, details);
    case IbCode.ERROR_VALIDATING_REQUEST:
    case IbCode.INVALID_END_DATE:
      return new DomainError('INVALID_INPUT', `IB rejected ${what}: "${ib.message}"`, details);
    case IbCode.NEWS_FEED_NOT_ALLOWED:
      return new DomainError(
        'FORBIDDEN',
        `No API news subscription for ${context.subject} (IB error ${ib.code}: "${ib.message}"); get_news_providers lists the providers this account has`,
        { ...details, reason: 'NO_NEWS_SUBSCRIPTION' },
      );
    case IbCode.NEWS_ARTICLE_FAILED:
      return /no data/i.test(ib.message)
        ? new DomainError('NOT_FOUND', `IB has no ${context.subject} (IB: "${ib.message}")`, details)
        : new DomainError('IB_ERROR', `IB refused ${what} (IB error ${ib.code}): "${ib.message}"`, details);
    case IbCode.MAX_TICKERS:
      return new DomainError(
        'RATE_LIMITED',
        `IB's limit of simultaneous market data lines is reached; no new quote for ${context.subject} until a stream ends: "${ib.message}"`,
        { ...details, retryAfterSeconds: 30 },
      );
    case IbCode.TOO_MANY_MESSAGES:
      return new DomainError('RATE_LIMITED', `IB refused ${what} for too many messages: "${ib.message}"`, {
        ...details,
        retryAfterSeconds: 1,
      });
    case IbCode.NOT_CONNECTED:
    case IbCode.CONNECTIVITY_LOST:
      return new DomainError(
        'NOT_CONNECTED',
        `The IB API session is not connected; cannot answer ${what}`,
        details,
      );
    default:
      return new DomainError(
        'IB_ERROR',
        `IB refused ${what} (IB error ${ib.code}): "${ib.message}"`,
        details,
      );
  }
}

/** The reason in IB's "Order rejected - reason:..." text. */
function rejectionReason(message: string): string {
  const match = /reason:\s*(.*)$/i.exec(message);
  return (match?.[1] ?? message).trim() || message;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** 354 / 10168: say which instrument lacks a subscription, and whether delayed data would do. */
function missingSubscription(
  subject: string,
  ib: IbErrorReport,
  details: Record<string, unknown>,
): DomainError {
  const delayedAvailable = /delayed market data is available/i.test(ib.message);
  const hint = delayedAvailable
    ? '; delayed data is available: ask again with marketDataType=delayed'
    : ib.code === IbCode.DELAYED_DATA_NOT_ENABLED
      ? '; delayed data is not enabled for this account either'
      : '';
  return new DomainError(
    'FORBIDDEN',
    `No market data subscription for ${subject}${hint} (IB: "${ib.message}")`,
    {
      ...details,
      reason: 'NO_MARKET_DATA_SUBSCRIPTION',
      delayedAvailable,
    },
  );
}

/** How IB's historical data service (which also runs the scanners) starts the text of a 162. */
const HMDS_PREFIX = /^.*Historical Market Data Service error message:\s*/;

/** 162 carries several meanings (historical data and scanners share IB's HMDS); IB's text tells them apart. */
function historicalDataServiceError(
  context: IbErrorContext,
  ib: IbErrorReport,
  details: Record<string, unknown>,
): DomainError {
  const subject = context.subject;
  const text = ib.message.toLowerCase();
  if (context.request === 'scanner') {
    // IB's reason follows its "Historical Market Data Service error message:" prefix.
    const reason = ib.message.replace(HMDS_PREFIX, '');
    return new DomainError('INVALID_INPUT', `IB rejected the ${subject} scan: ${reason}`, details);
  }
  if (text.includes('pacing violation')) {
    return new DomainError(
      'RATE_LIMITED',
      `IB refused the ${REQUEST_NAMES[context.request]} request for ${subject} for pacing (IB: "${ib.message}"); retry in ${IB_PACING_RETRY_AFTER_SECONDS} s`,
      { ...details, retryAfterSeconds: IB_PACING_RETRY_AFTER_SECONDS },
    );
  }
  if (text.includes('no market data permissions')) {
    return new DomainError(
      'FORBIDDEN',
      `No market data subscription for ${subject}, so IB gives no historical data for it (IB: "${ib.message}")`,
      { ...details, reason: 'NO_MARKET_DATA_SUBSCRIPTION' },
    );
  }
  if (text.includes('no data') || text.includes('no historical market data')) {
    return new DomainError(
      'NOT_FOUND',
      `IB has no historical data for ${subject} with these settings (IB: "${ib.message}")`,
      details,
    );
  }
  return new DomainError(
    'INVALID_INPUT',
    `IB rejected the ${REQUEST_NAMES[context.request]} request for ${subject}: "${ib.message}"`,
    details,
  );
}
