import { Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { json } from 'express';
import { maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { bodyParserError, type ErrorBody } from '../common/api-exception.filter';
import { DomainError, ErrorCode } from '../common/domain-error';
import type { NodeMiddleware } from '../common/fast-route';
import { sendRefusal } from './refusal';

/**
 * The shape every request must have before anything happens: a URL of at most this many characters (414),
 * URL and headers within Node's header limit (431, answered from the 'clientError' event), a JSON body of at
 * most MAX_JSON_BODY_BYTES (413), and application/json on every side-effecting REST request (415).
 */
export const MAX_URL_LENGTH = 8 * 1024;
/** The largest JSON body the REST API reads (orders and scans are a few hundred bytes). */
export const MAX_JSON_BODY_BYTES = 100 * 1024;
/** mcp-nest's transport reads its own body and checks its own Content-Type (see http-security). */
const MCP_PATH = '/mcp';
/** A connection whose request could not be parsed is closed after its answer, at the latest this much later. */
const CLOSE_AFTER_CLIENT_ERROR_MS = 5_000;
/** Methods that always change state over REST: they take a JSON body (or none) and say so. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const logger = new Logger('RequestShape');

type ErrorMiddleware = (
  error: unknown,
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** 414 for a URL longer than MAX_URL_LENGTH, before anything reads it (fast routes run it as a layer too). */
export function urlLengthCheck(): NodeMiddleware {
  return (request, response, next) => {
    const length = request.url?.length ?? 0;
    if (length <= MAX_URL_LENGTH) return next();
    logger.warn(`Refused ${request.method ?? ''} with a ${length}-character URL (at most ${MAX_URL_LENGTH})`);
    sendRefusal(
      response,
      {
        statusCode: ErrorCode.URI_TOO_LONG,
        code: 'URI_TOO_LONG',
        message: `The URL is longer than the ${MAX_URL_LENGTH} characters the service accepts`,
      },
      { Connection: 'close' },
    );
  };
}

/**
 * The REST API's body parser (Nest's own is off): JSON only, at most MAX_JSON_BODY_BYTES, objects and arrays
 * only. Its errors become the domain errors they mean (413, 415, 400) before Nest's error handler sees them,
 * which would pass JSON.parse's message, quoting the body, on as a 400. /mcp is left to its transport.
 */
export function jsonBodyParser(): [NodeMiddleware, ErrorMiddleware] {
  const parse = json({ limit: MAX_JSON_BODY_BYTES, strict: true });
  return [
    (request, response, next) => (pathOf(request) === MCP_PATH ? next() : parse(request, response, next)),
    (error, _request, _response, next) => next(bodyParserError(error) ?? error),
  ];
}

/** Whether the request carries a body (a Content-Length above 0, or a chunked one). */
function hasBody(request: IncomingMessage): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(request.headers['content-length'] ?? 0);
  return !Number.isFinite(length) || length > 0;
}

function isJson(request: IncomingMessage): boolean {
  const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/**
 * Why a REST request is refused with 415, if it is: a POST, PUT or PATCH without Content-Type:
 * application/json (with a body or without one), or any other request with a body that is not JSON (a DELETE
 * without a body is fine). Such a request was never parsed, so running it would act on input nobody checked.
 */
export function unsupportedMediaType(request: IncomingMessage): string | undefined {
  if (isJson(request)) return undefined;
  const method = request.method ?? 'GET';
  if (BODY_METHODS.has(method)) {
    return `A ${method} to the REST API must be sent with Content-Type: application/json (a JSON object, or no body); nothing was done`;
  }
  if (method !== 'GET' && method !== 'HEAD' && hasBody(request)) {
    return `A ${method} with a body must send it as JSON (Content-Type: application/json); nothing was done`;
  }
  return undefined;
}

/**
 * The 415 check, as a global guard: after OperationAccessGuard (a read-only token's write is a 403 whatever it
 * sends), before the input pipe (400) and the handler. Only REST: MCP calls come with their transport's rules.
 */
export class JsonContentTypeGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const refusal = unsupportedMediaType(context.switchToHttp().getRequest<IncomingMessage>());
    if (refusal !== undefined) throw new DomainError('UNSUPPORTED_MEDIA_TYPE', refusal);
    return true;
  }
}

/** The JSON error answer for a request Node's HTTP parser gave up on. */
function clientErrorBody(error: NodeJS.ErrnoException, headerLimit: number): ErrorBody {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        statusCode: ErrorCode.HEADERS_TOO_LARGE,
        code: 'HEADERS_TOO_LARGE',
        message: `The request's URL and headers are larger than the ${headerLimit} bytes the service accepts`,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        statusCode: ErrorCode.PAYLOAD_TOO_LARGE,
        code: 'PAYLOAD_TOO_LARGE',
        message: 'The chunk extensions of the request body are too large',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        statusCode: ErrorCode.REQUEST_TIMEOUT,
        code: 'REQUEST_TIMEOUT',
        message: 'The request did not arrive in time',
      };
    default:
      return {
        statusCode: ErrorCode.INVALID_INPUT,
        code: 'INVALID_INPUT',
        message: 'The request is not valid HTTP/1.1',
      };
  }
}

/** The status line's reason phrase for the few statuses a client error gets. */
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

/**
 * Answers what Node's HTTP parser refuses (a URL and headers over maxHeaderSize, broken HTTP, a timeout) with
 * the API's JSON error body and `Connection: close`, instead of Node's empty answer. The connection is then
 * half-closed and what the client still sends is read and dropped, so that it gets to read the answer rather
 * than a reset (a client still sending a 1 MB URL would otherwise get an RST); it closes at the latest after
 * CLOSE_AFTER_CLIENT_ERROR_MS.
 */
export function answerClientErrors(server: Server): void {
  const answered = new WeakSet<Socket>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (answered.has(socket)) return; // the parser refuses every further chunk of the same request
    answered.add(socket);
    // Socket errors (a reset, a broken pipe) have nobody to answer. Nor can an answer be sent while an earlier
    // request's response is under way (Node's own `_httpMessage`): the client would take it for that one's.
    const answerable = error.code?.startsWith('HPE_') === true || error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const inFlight = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
    if (!answerable || !socket.writable || (inFlight !== undefined && inFlight !== null)) {
      socket.destroy();
      return;
    }
    const body = clientErrorBody(error, maxHeaderSize);
    logger.warn(
      `Refused a request Node's HTTP parser could not take (${error.code ?? 'unknown'}): ${body.message}`,
    );
    const text = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${body.statusCode} ${REASONS[body.statusCode] ?? 'Bad Request'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(text)}\r\n` +
        'Connection: close\r\n\r\n' +
        text,
    );
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), CLOSE_AFTER_CLIENT_ERROR_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
