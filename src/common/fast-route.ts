import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Logger } from '@nestjs/common';
import { errorBody, errorHeaders } from './api-exception.filter';
import type { Redactor } from './redactor';
import type { MetricsRegistry } from './metrics';

/** A plain Node middleware: Express runs these, and so do fast routes, on the same request and response. */
export type NodeMiddleware = (
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * A read operation answered in front of Express and Nest. Their pipeline costs about a millisecond of CPU
 * and, on a machine that idles between requests, 2-3 ms of latency per request, which caps a 2-core machine
 * near 1,000 requests per second. A fast route runs the same security layers, the operation's own input
 * schema, service method and error mapping, without the framework. Requests it does not accept (invalid
 * input: the declared route says why; browsers) go the full way.
 */
export interface FastRoute {
  /** The operation served (the metrics label); it is also declared with @Operation, which stays the full route. */
  readonly operation: string;
  /** The path it answers GET requests on: the operation's REST path. */
  readonly path: string;
  /**
   * The work that answers this query string (without the "?"), run only once the security layers passed; or
   * undefined when the full route must take the request. Answers must not change afterwards: the JSON of an
   * answer object is kept while the same object comes back (a streamed quote between two ticks).
   */
  accept(queryString: string): (() => object | Promise<object>) | undefined;
}

export interface FastRouteOptions {
  /** The security layers every request passes (rate limit, Host/Origin, token), in Express's order. */
  layers: readonly NodeMiddleware[];
  routes: readonly FastRoute[];
  metrics: MetricsRegistry;
  /** Where errors are logged (unexpected ones in full, with their error id) and, at debug, each answer. */
  logger: Pick<Logger, 'warn' | 'error' | 'debug'>;
  debug: boolean;
  /** Error answers leave here as they leave the exception filter: without a secret. */
  redactor: Pick<Redactor, 'redactDeep'>;
  /**
   * URLs longer than this go the full way without being parsed (or kept in a route's cache of parsed query
   * strings), where the URL length layer answers 414.
   */
  maxUrlLength: number;
}

/**
 * Puts `routes` in front of the server's request listener (Express). A request is answered here when it is
 * a GET without an Origin header (browsers, and CORS, take the full way) and with a URL of at most
 * maxUrlLength, a route accepts it, and every security layer passes it; a layer that refuses answers the
 * refusal itself.
 */
export function serveFastRoutes(server: Server, options: FastRouteOptions): void {
  const { metrics, logger } = options;
  const routes = new Map(
    options.routes.map((route) => [
      route.path,
      {
        route,
        duration: metrics.operationDuration.labels(route.operation, 'rest'),
        succeeded: metrics.operationRequests.labels(route.operation, 'rest', 'ok'),
        failed: metrics.operationRequests.labels(route.operation, 'rest', 'error'),
      },
    ]),
  );
  // Between two ticks of a stream many callers get the same quote object: serialize it once.
  const bodies = new WeakMap<object, string>();
  const framework = server.listeners('request') as RequestListener[];
  const passOn: RequestListener = (request, response) => {
    for (const listener of framework) listener.call(server, request, response);
  };
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    const queryStart = url.indexOf('?');
    const served =
      request.method === 'GET' && request.headers.origin === undefined && url.length <= options.maxUrlLength
        ? routes.get(queryStart === -1 ? url : url.slice(0, queryStart))
        : undefined;
    let work: (() => object | Promise<object>) | undefined;
    try {
      work = served?.route.accept(queryStart === -1 ? '' : url.slice(queryStart + 1));
    } catch {
      work = undefined; // the full route reports whatever went wrong
    }
    if (served === undefined || work === undefined) {
      passOn(request, response);
      return;
    }
    const { route, duration, succeeded, failed } = served;
    const stopTimer = duration.startTimer();
    const answer = (result: object) => {
      let body = bodies.get(result);
      if (body === undefined) {
        body = JSON.stringify(result);
        bodies.set(result, body);
      }
      sendJson(response, 200, body);
      stopTimer();
      succeeded.inc();
      if (options.debug) logger.debug(`GET ${route.path} 200 (${route.operation}, fast route)`);
    };
    const answerError = (error: unknown) => {
      const body = options.redactor.redactDeep(errorBody(error, logger));
      sendJson(response, body.statusCode, JSON.stringify(body), errorHeaders(body));
      stopTimer();
      failed.inc();
      logger.warn(`GET ${route.path} ${body.statusCode} ${body.code}: ${body.message}`);
    };
    // A layer that refuses answers the refusal itself and never calls back.
    runLayers(options.layers, request, response, (outcome) => {
      // A layer failed (not refused): Express runs the layers again and reports the error its way.
      if (outcome === 'failed') return passOn(request, response);
      let result: object | Promise<object>;
      try {
        result = work();
      } catch (error) {
        return answerError(error);
      }
      if (result instanceof Promise) result.then(answer, answerError);
      else answer(result);
    });
  });
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  response.end(body);
}

/** Runs the layers in order; `done` once the last one called next (passed) or one failed, never on a refusal. */
function runLayers(
  layers: readonly NodeMiddleware[],
  request: IncomingMessage,
  response: ServerResponse,
  done: (outcome: 'passed' | 'failed') => void,
): void {
  let index = 0;
  let settled = false;
  const settle = (outcome: 'passed' | 'failed') => {
    if (settled) return;
    settled = true;
    done(outcome);
  };
  const next = (error?: unknown): void => {
    if (error !== undefined) return settle('failed');
    const layer = layers[index++];
    if (layer === undefined) return settle('passed');
    try {
      layer(request, response, next);
    } catch {
      settle('failed');
    }
  };
  next();
}
