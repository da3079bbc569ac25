import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { throwError, type Observable } from 'rxjs';
import { DomainError, ErrorCode } from './domain-error';

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  [detail: string]: unknown;
}

const STATUS_CODES = new Map<number, ErrorCode>(
  Object.entries(ErrorCode).map(([code, status]) => [status, code as ErrorCode]),
);

/**
 * The one mapping from errors to answers: an HTTP status and JSON body for REST, an `isError` result with
 * the same message for MCP. Unexpected errors get a generic message with an error id and one full log line.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | undefined {
    const body = errorBody(exception, this.logger);
    if (host.getType() === 'http') {
      const response: unknown = host.switchToHttp().getResponse();
      for (const [name, value] of Object.entries(errorHeaders(body))) {
        this.adapterHost.httpAdapter.setHeader(response, name, value);
      }
      this.adapterHost.httpAdapter.reply(response, body, body.statusCode);
      return undefined;
    }
    // An MCP tool call: mcp-nest turns {message} into an isError result with that text.
    return throwError(() => ({ status: 'error', message: body.message }));
  }
}

/**
 * The REST answer for an error: a domain error's status and code, an HTTP exception's, or for anything
 * unexpected a generic message with an error id, logged once in full. Also used by fast routes.
 */
export function errorBody(exception: unknown, logger: Pick<Logger, 'error'>): ErrorBody {
  if (exception instanceof DomainError) {
    return {
      ...exception.details,
      statusCode: exception.httpStatus,
      code: exception.code,
      message: exception.message,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message = typeof response === 'string' ? response : (response as { message?: unknown }).message;
    return {
      statusCode: status,
      code: STATUS_CODES.get(status) ?? (status < 500 ? 'INVALID_INPUT' : 'INTERNAL'),
      message: Array.isArray(message)
        ? message.join('; ')
        : typeof message === 'string'
          ? message
          : exception.message,
    };
  }
  const errorId = randomUUID().slice(0, 8);
  logger.error({ err: exception, errorId }, `Unexpected error ${errorId}`);
  return {
    statusCode: 500,
    code: 'INTERNAL',
    message: `Internal error; the service log has the details under error id ${errorId}`,
    errorId,
  };
}

/** Headers an error answer carries: Retry-After when the caller should wait. */
export function errorHeaders(body: ErrorBody): Record<string, string> {
  return body.code === 'RATE_LIMITED' && typeof body.retryAfterSeconds === 'number'
    ? { 'Retry-After': String(body.retryAfterSeconds) }
    : {};
}
