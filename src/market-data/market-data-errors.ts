import { DomainError } from '../common/domain-error';

/** IB's error codes this module turns into answers of their own. */
const IbCode = {
  TOO_MANY_MESSAGES: 100,
  MAX_TICKERS: 101,
  HISTORICAL_DATA_SERVICE: 162,
  NO_SECURITY_DEFINITION: 200,
  ERROR_VALIDATING_REQUEST: 321,
  ERROR_PROCESSING_REQUEST: 322,
  NOT_SUBSCRIBED: 354,
  NOT_CONNECTED: 504,
  DELAYED_DATA_NOT_ENABLED: 10168,
  INVALID_END_DATE: 10314,
} as const;

/** How long a caller should wait after IB's own pacing complaint (its identical-request window). */
export const IB_PACING_RETRY_AFTER_SECONDS = 15;

interface IbErrorLike {
  code: number;
  text: string;
}

/** IBApiNextError carries IB's code and wraps an Error with IB's text. */
function asIbError(error: unknown): IbErrorLike | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const candidate = error as { code?: unknown; error?: { message?: unknown }; message?: unknown };
  if (typeof candidate.code !== 'number') return undefined;
  const text = candidate.error?.message ?? candidate.message;
  return { code: candidate.code, text: typeof text === 'string' ? text : '' };
}

/**
 * Turns what IB answered to a market data or historical data request about `subject` (e.g. "AAPL") into
 * an answer the caller can act on: an unknown contract, a missing subscription, pacing, a bad request.
 */
export function toMarketDataError(error: unknown, subject: string, request: 'quote' | 'bars'): DomainError {
  if (error instanceof DomainError) return error;
  const ib = asIbError(error);
  if (!ib) {
    const text = error instanceof Error ? error.message : String(error);
    return new DomainError('IB_ERROR', `The ${describe(request)} request for ${subject} failed: ${text}`);
  }
  const details = { ibCode: ib.code, ibMessage: ib.text };
  switch (ib.code) {
    case IbCode.NO_SECURITY_DEFINITION:
      return new DomainError('NOT_FOUND', `IB knows no contract for ${subject}: "${ib.text}"`, details);
    case IbCode.NOT_SUBSCRIBED:
    case IbCode.DELAYED_DATA_NOT_ENABLED:
      return missingSubscription(subject, ib, details);
    case IbCode.HISTORICAL_DATA_SERVICE:
      return historicalDataServiceError(subject, ib, details);
    case IbCode.ERROR_VALIDATING_REQUEST:
    case IbCode.INVALID_END_DATE:
      return new DomainError(
        'INVALID_INPUT',
        `IB rejected the ${describe(request)} request for ${subject}: "${ib.text}"`,
        details,
      );
    case IbCode.MAX_TICKERS:
      return new DomainError(
        'RATE_LIMITED',
        `IB's limit of simultaneous market data lines is reached; no new quote for ${subject} until a stream ends: "${ib.text}"`,
        { ...details, retryAfterSeconds: 30 },
      );
    case IbCode.TOO_MANY_MESSAGES:
      return new DomainError(
        'RATE_LIMITED',
        `IB refused the ${describe(request)} request for ${subject} for too many messages: "${ib.text}"`,
        { ...details, retryAfterSeconds: 1 },
      );
    case IbCode.NOT_CONNECTED:
      return new DomainError(
        'NOT_CONNECTED',
        `The IB API session is not connected; cannot get the ${describe(request)} for ${subject}`,
        details,
      );
    default:
      return new DomainError(
        'IB_ERROR',
        `IB refused the ${describe(request)} request for ${subject} (IB error ${ib.code}): "${ib.text}"`,
        details,
      );
  }
}

function describe(request: 'quote' | 'bars'): string {
  return request === 'quote' ? 'quote' : 'historical bars';
}

/** 354 / 10168: say which instrument lacks a subscription, and whether delayed data would do. */
function missingSubscription(
  subject: string,
  ib: IbErrorLike,
  details: Record<string, unknown>,
): DomainError {
  const delayedAvailable = /delayed market data is available/i.test(ib.text);
  const hint = delayedAvailable
    ? '; delayed data is available: ask again with marketDataType=delayed'
    : ib.code === IbCode.DELAYED_DATA_NOT_ENABLED
      ? '; delayed data is not enabled for this account either'
      : '';
  return new DomainError(
    'FORBIDDEN',
    `No market data subscription for ${subject}${hint} (IB: "${ib.text}")`,
    { ...details, reason: 'NO_MARKET_DATA_SUBSCRIPTION', delayedAvailable },
  );
}

/** 162 carries several meanings; IB's text tells them apart. */
function historicalDataServiceError(
  subject: string,
  ib: IbErrorLike,
  details: Record<string, unknown>,
): DomainError {
  const text = ib.text.toLowerCase();
  if (text.includes('pacing violation')) {
    return new DomainError(
      'RATE_LIMITED',
      `IB refused the historical bars request for ${subject} for pacing (IB: "${ib.text}"); retry in ${IB_PACING_RETRY_AFTER_SECONDS} s`,
      { ...details, retryAfterSeconds: IB_PACING_RETRY_AFTER_SECONDS },
    );
  }
  if (text.includes('no market data permissions')) {
    return new DomainError(
      'FORBIDDEN',
      `No market data subscription for ${subject}, so IB gives no historical data for it (IB: "${ib.text}")`,
      { ...details, reason: 'NO_MARKET_DATA_SUBSCRIPTION' },
    );
  }
  if (text.includes('no data') || text.includes('no historical market data')) {
    return new DomainError(
      'NOT_FOUND',
      `IB has no historical data for ${subject} with these settings (IB: "${ib.text}")`,
      details,
    );
  }
  return new DomainError(
    'INVALID_INPUT',
    `IB rejected the historical bars request for ${subject}: "${ib.text}"`,
    details,
  );
}
