import { Logger, type INestApplication } from '@nestjs/common';
import { serialize as serializeCookie } from 'cookie';
import { ipKeyGenerator, MemoryStore, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import type { NodeMiddleware } from '../common/fast-route';
import { AccessTokens, tagAccessLevel, TOKEN_COOKIE, type AccessLevel } from './access-tokens';
import { sendRefusal, type Refusal } from './refusal';
import { RequestOriginPolicy } from './request-origin-policy';
import { answerClientErrors, JsonContentTypeGuard, jsonBodyParser, urlLengthCheck } from './request-shape';

/** Liveness and readiness: open to every orchestrator, without a token and without a rate limit. */
const OPEN_PATHS = new Set(['/health', '/health/ready']);
/** mcp-nest checks Origin and Host of the MCP endpoint itself (mcpTransportSecurity). */
const MCP_PATH = '/mcp';
/** Browser pages that take the token once as ?token= and keep it in an HttpOnly cookie. */
const TOKEN_PAGES = new Set(['/vnc', '/vnc/', '/docs', '/docs/']);
/** Static files of those pages: a page load fetches dozens, so they do not count against the rate limit. */
const STATIC_PREFIXES = ['/vnc/novnc/', '/docs/'];
/** The gateway's screen takes keyboard and mouse input: only the full token opens it. */
const VNC_PREFIX = '/vnc';
const RATE_WINDOW_MS = 60_000;

const logger = new Logger('HttpSecurity');

function isVncPath(path: string): boolean {
  return path === VNC_PREFIX || path.startsWith(`${VNC_PREFIX}/`);
}

/** The path of a request without its query string (Express's request.path, for a plain Node request). */
function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Rate limits count per client address (IPv6 per /56, as express-rate-limit does by default). */
function clientKey(request: IncomingMessage): string {
  return ipKeyGenerator(request.socket.remoteAddress ?? 'unknown');
}

/**
 * Puts the security layers in front of every route, in this order: CORS (closed unless
 * security.corsOrigins), the URL length (414), the rate limit per client address, the Host/Origin policy, the
 * API token. They are plain Node middleware registered in Express before anything else, so they also cover
 * what Nest's router does not see: Swagger UI at /docs and mcp-nest's self-mounted /mcp. Returns the layers
 * after CORS, for fast routes (serveFastRoutes), which run them too and leave requests with an Origin to
 * Express. Behind them the shape of the input (request-shape): the JSON body parser (413, 400, 415; Nest's
 * own must be off), the Content-Type guard (415, after the access guard), and JSON answers for what Node's
 * HTTP parser refuses (431 and others).
 */
export function installHttpSecurity(app: INestApplication): NodeMiddleware[] {
  const config = app.get<AppConfig>(APP_CONFIG, { strict: false });
  const tokens = app.get(AccessTokens, { strict: false });
  const origins = app.get(RequestOriginPolicy, { strict: false });
  if (config.security.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.security.corsOrigins,
      exposedHeaders: ['Retry-After', 'WWW-Authenticate', 'Mcp-Session-Id'],
      maxAge: 600,
    });
  }
  const store = new MemoryStore();
  (app.getHttpServer() as Server).once('close', () => store.shutdown());
  const layers = [
    urlLengthCheck(),
    rateLimiter(config.security.rateLimitPerMinute, store),
    originCheck(origins),
    tokenCheck(tokens),
  ];
  for (const layer of layers) app.use(layer);
  // Bodies are read only for callers the layers let in.
  app.use(...jsonBodyParser());
  // After the APP_GUARDs registered at creation (OperationAccessGuard): a read-only token's write stays a 403.
  app.useGlobalGuards(new JsonContentTypeGuard());
  answerClientErrors(app.getHttpServer() as Server);
  return layers;
}

function refuse(
  request: IncomingMessage,
  response: ServerResponse,
  refusal: Refusal,
  headers?: Record<string, string>,
): void {
  // The path only: a query string may hold a token.
  const from = request.socket.remoteAddress ?? '?';
  logger.warn(`Refused ${request.method ?? ''} ${pathOf(request)} from ${from}: ${refusal.message}`);
  sendRefusal(response, refusal, headers);
}

function rateLimiter(limit: number, store: MemoryStore): NodeMiddleware {
  const limiter = rateLimit({
    windowMs: RATE_WINDOW_MS,
    limit,
    store,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: clientKey,
    validate: false,
    skip: (request) => {
      const path = pathOf(request);
      return OPEN_PATHS.has(path) || STATIC_PREFIXES.some((prefix) => path.startsWith(prefix));
    },
    handler: (request, response) => {
      const info = (request as IncomingMessage & { rateLimit?: RateLimitInfo }).rateLimit;
      const resetAt = info?.resetTime?.getTime() ?? Date.now() + RATE_WINDOW_MS;
      const retryAfterSeconds = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
      sendRefusal(
        response,
        {
          statusCode: 429,
          code: 'RATE_LIMITED',
          message: `Too many requests: at most ${limit} per minute per client address (security.rateLimitPerMinute); retry in ${retryAfterSeconds} s`,
          retryAfterSeconds,
        },
        { 'Retry-After': String(retryAfterSeconds) },
      );
    },
  });
  // Only a plain Node request and response are used (the key, skip and handler above take nothing else).
  return limiter as unknown as NodeMiddleware;
}

function originCheck(policy: RequestOriginPolicy): NodeMiddleware {
  return (request, response, next) => {
    const path = pathOf(request);
    if (OPEN_PATHS.has(path) || path === MCP_PATH) return next();
    const refusal = policy.check(request);
    if (refusal) return refuse(request, response, refusal);
    next();
  };
}

function tokenCheck(tokens: AccessTokens): NodeMiddleware {
  return (request, response, next) => {
    const path = pathOf(request);
    if (OPEN_PATHS.has(path)) return next();
    const pageToken = TOKEN_PAGES.has(path) ? queryToken(request) : undefined;
    if (pageToken !== undefined && tokens.required)
      return acceptPageToken(tokens, pageToken, request, response);
    const result = tokens.authenticate(request, { acceptCookie: path !== MCP_PATH });
    if ('refusal' in result) {
      return refuse(request, response, result.refusal, {
        'WWW-Authenticate': 'Bearer realm="ib-gateway-supervisor"',
      });
    }
    const vncRefusal = vncAccessRefusal(path, result.level);
    if (vncRefusal) return refuse(request, response, vncRefusal);
    tagAccessLevel(request, result.level);
    next();
  };
}

/** Why /vnc refuses this access level, if it does. */
export function vncAccessRefusal(path: string, level: AccessLevel): Refusal | undefined {
  if (level === 'full' || !isVncPath(path)) return undefined;
  return {
    statusCode: 403,
    code: 'FORBIDDEN',
    message:
      "The gateway's screen (/vnc) takes keyboard and mouse input, so it needs the full API token, not the read-only one",
  };
}

function queryToken(request: IncomingMessage): string | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const token = new URL(request.url ?? '/', 'http://service').searchParams.get('token');
  return token === null || token === '' ? undefined : token;
}

/**
 * A browser page opened with ?token=: keep the token in an HttpOnly, SameSite=Strict cookie (scripts cannot
 * read it, other sites cannot send it) and redirect to the same page without it, out of the address bar
 * and the history.
 */
function acceptPageToken(
  tokens: AccessTokens,
  token: string,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  const level = tokens.levelOf(token);
  if (level === undefined) {
    return refuse(request, response, {
      statusCode: 401,
      code: 'UNAUTHORIZED',
      message: 'The API token is not valid',
    });
  }
  const vncRefusal = vncAccessRefusal(pathOf(request), level);
  if (vncRefusal) return refuse(request, response, vncRefusal);
  const url = new URL(request.url ?? '/', 'http://service');
  url.searchParams.delete('token');
  response.writeHead(303, {
    'Set-Cookie': serializeCookie(TOKEN_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: (request.socket as Partial<TLSSocket>).encrypted === true,
      path: '/',
    }),
    'Cache-Control': 'no-store',
    Location: `${url.pathname}${url.search}`,
  });
  response.end();
}
