import {
  Catch,
  HttpException,
  Inject,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES as HTTP_STATUS_TEXT } from 'node:http';
import { ProtocolError } from '@modelcontextprotocol/server';
import { of, throwError, type Observable } from 'rxjs';
import { z } from 'zod';
import { DomainError, ErrorCode } from './domain-error';
import { REDACTOR, type Redactor } from './redactor';

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  [detail: string]: unknown;
}

/**
 * The error body as a schema: MCP tools declare it beside their output (see Operation), since an `isError`
 * result carries it as its structuredContent.
 */
export const ErrorBodySchema = z
  .object({
    statusCode: z.number().int().describe('The HTTP status of the same error over REST'),
    code: z.enum(Object.keys(ErrorCode) as [ErrorCode, ...ErrorCode[]]).describe('What went wrong'),
    message: z.string(),
  })
  .catchall(z.unknown())
  .describe(
    'An error answer (isError: true): the REST error body, with details such as retryAfterSeconds or ibCode',
  );

/** An MCP tool's error result: the message as text, the REST body as structured content. */
export interface McpErrorResult {
  content: [{ type: 'text'; text: string }];
  structuredContent: ErrorBody;
  isError: true;
}

/** The MCP face of an error answer: mcp-nest passes a result with `content` to the client as it is. */
export function mcpErrorResult(body: ErrorBody): McpErrorResult {
  return { content: [{ type: 'text', text: body.message }], structuredContent: body, isError: true };
}

/** The code of an HTTP status that is not a DomainError: the first code declared for it (503: NOT_CONNECTED). */
const STATUS_CODES = new Map<number, ErrorCode>();
for (const [code, status] of Object.entries(ErrorCode)) {
  if (!STATUS_CODES.has(status)) STATUS_CODES.set(status, code as ErrorCode);
}

/**
 * The one mapping from errors to answers: an HTTP status and JSON body for REST, an `isError` result with
 * the same message as text and the same body as structured content for MCP. Unexpected errors get a
 * generic message with an error id and one full log line. No answer carries a secret of the config.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(REDACTOR) private readonly redactor: Redactor,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<McpErrorResult> | undefined {
    // A protocol error of the MCP library (invalid params, a missing capability) stays a JSON-RPC error.
    if (host.getType() !== 'http' && exception instanceof ProtocolError) return throwError(() => exception);
    const body = this.redactor.redactDeep(errorBody(exception, this.logger));
    if (host.getType() === 'http') {
      const response: unknown = host.switchToHttp().getResponse();
      for (const [name, value] of Object.entries(errorHeaders(body))) {
        this.adapterHost.httpAdapter.setHeader(response, name, value);
      }
      this.adapterHost.httpAdapter.reply(response, body, body.statusCode);
      return undefined;
    }
    // An MCP tool call: the handler's answer becomes this result (mcp-nest hands a result with content on).
    return of(mcpErrorResult(body));
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
  const unreadable = bodyParserError(exception) ?? clientHttpError(exception);
  if (unreadable !== undefined) return errorBody(unreadable, logger);
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

/**
 * What each error of Express's body parser (body-parser, raw-body) means for the caller, by its `type`:
 * the code and a message of our own, since theirs may quote the body (JSON.parse does) or the charset sent.
 * The `internal` ones are the service's own faults (the stream was read twice), not the input's.
 */
const BODY_PARSER_ERRORS: Record<string, { code: ErrorCode; message: string } | 'internal'> = {
  'entity.too.large': { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is too large' },
  'parameters.too.many': {
    code: 'PAYLOAD_TOO_LARGE',
    message: 'The request body has too many parameters',
  },
  'entity.parse.failed': {
    code: 'INVALID_INPUT',
    message: 'The request body is not valid JSON: send a JSON object with Content-Type: application/json',
  },
  'entity.verify.failed': { code: 'INVALID_INPUT', message: 'The request body was refused' },
  'querystring.parse.rangeError': {
    code: 'INVALID_INPUT',
    message: 'The request body has too many parameters or is nested too deeply',
  },
  'request.size.invalid': {
    code: 'INVALID_INPUT',
    message: 'The request body does not have the length its Content-Length header says',
  },
  'request.aborted': { code: 'INVALID_INPUT', message: 'The request body ended before it was complete' },
  'charset.unsupported': {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'The request body must be JSON in UTF-8 (Content-Type: application/json; charset=utf-8)',
  },
  'encoding.unsupported': {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'The Content-Encoding of the request body is not supported: send identity, gzip, deflate or br',
  },
  'stream.encoding.set': 'internal',
  'stream.not.readable': 'internal',
};

interface HttpErrorLike {
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  limit?: unknown;
  code?: unknown;
}

/** An error of Express's body parser as the domain error it means; undefined for any other error. */
export function bodyParserError(exception: unknown): DomainError | undefined {
  if (!(exception instanceof Error)) return undefined;
  const { type, limit, status, code } = exception as HttpErrorLike;
  if (status === 400 && typeof code === 'string' && code.startsWith('Z_')) {
    // zlib's error, which body-parser passes on without a type: the body is not what Content-Encoding says
    return new DomainError(
      'INVALID_INPUT',
      'The request body could not be decompressed as its Content-Encoding says',
    );
  }
  const meaning = typeof type === 'string' ? BODY_PARSER_ERRORS[type] : undefined;
  if (meaning === undefined || meaning === 'internal') return undefined;
  if (meaning.code === 'PAYLOAD_TOO_LARGE' && typeof limit === 'number') {
    return new DomainError(meaning.code, `${meaning.message}: at most ${limit} bytes`, { limitBytes: limit });
  }
  return new DomainError(meaning.code, meaning.message);
}

/**
 * Any other middleware's client error (an http-errors 4xx it meant to expose): its status, with the
 * status's own text as message, not the error's, which may quote the request.
 */
function clientHttpError(exception: unknown): DomainError | undefined {
  if (!(exception instanceof Error) || exception instanceof HttpException) return undefined;
  const { status, statusCode, expose } = exception as HttpErrorLike;
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof code !== 'number' || code < 400 || code > 499 || expose !== true) return undefined;
  const errorCode = STATUS_CODES.get(code) ?? 'INVALID_INPUT';
  return new DomainError(errorCode, `The request was refused (${HTTP_STATUS_TEXT[code] ?? 'Bad Request'})`);
}

/** Headers an error answer carries: Retry-After when the caller should wait. */
export function errorHeaders(body: ErrorBody): Record<string, string> {
  return body.code === 'RATE_LIMITED' && typeof body.retryAfterSeconds === 'number'
    ? { 'Retry-After': String(body.retryAfterSeconds) }
    : {};
}
