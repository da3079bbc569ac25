/** What went wrong, as the API's callers need to tell it apart. Each code has one HTTP status. */
export const ErrorCode = {
  /** Not a failure: the call waits for a human's approval (--confirm-orders); the body is the ticket. */
  APPROVAL_PENDING: 202,
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  IB_ERROR: 502,
  NOT_CONNECTED: 503,
  /** An order's state depends on a look at the broker that cannot be taken now. */
  ORDER_STATE_UNKNOWN: 503,
  IB_TIMEOUT: 504,
} as const;
export type ErrorCode = keyof typeof ErrorCode;

/** An error the API reports as is: the message is written for the caller (never holds a credential). */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the REST body, e.g. retryAfterSeconds or the IB error code. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get httpStatus(): number {
    return ErrorCode[this.code];
  }
}
