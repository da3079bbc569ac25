import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { MetricsRegistry } from './metrics';

/** A plain Node middleware: Express runs these, and so do fast routes, on the same request and response. */
export type NodeMiddleware = (
  request: IncomingMessage,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * A read operation whose answer is often already in memory (a quote of a contract the service streams).
 * Express and Nest's pipeline cost about a millisecond of CPU per request, which caps a 2-core machine near
 * 1,000 requests per second; answering such reads in front of them, after the same security layers, does
 * not. Anything it cannot answer at once goes the full way, so errors and everything else stay one path.
 */
export interface FastRoute {
  /** The operation served (the metrics label); it is also declared with @Operation, which stays the full route. */
  readonly operation: string;
  /** The path it answers GET requests on: the operation's REST path. */
  readonly path: string;
  /**
   * The answer from memory for this query string (without the "?"), or undefined when the full route must do
   * the work. An answer object must not change afterwards: its JSON is kept while the same object comes back.
   */
  answer(queryString: string): object | undefined;
}

export interface FastRouteOptions {
  /** The security layers every request passes (rate limit, Host/Origin, token), in Express's order. */
  layers: readonly NodeMiddleware[];
  routes: readonly FastRoute[];
  metrics: MetricsRegistry;
  /** A debug line per answered request, when the log level asks for it. */
  debug?: (line: string) => void;
}

/**
 * Puts `routes` in front of the server's request listener (Express). A request is answered here only when
 * it is a GET without an Origin header (browsers, and CORS, take the full way), a route has its answer in
 * memory, and every security layer passes it; a layer that refuses answers the refusal itself.
 */
export function serveFastRoutes(server: Server, options: FastRouteOptions): void {
  const routes = new Map(
    options.routes.map((route) => [
      route.path,
      {
        route,
        duration: options.metrics.operationDuration.labels(route.operation, 'rest'),
        answered: options.metrics.operationRequests.labels(route.operation, 'rest', 'ok'),
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
      request.method === 'GET' && request.headers.origin === undefined
        ? routes.get(queryStart === -1 ? url : url.slice(0, queryStart))
        : undefined;
    let answer: object | undefined;
    try {
      answer = served?.route.answer(queryStart === -1 ? '' : url.slice(queryStart + 1));
    } catch {
      answer = undefined; // the full route reports whatever went wrong
    }
    if (served === undefined || answer === undefined) {
      passOn(request, response);
      return;
    }
    const { route, duration, answered } = served;
    const stopTimer = duration.startTimer();
    // A layer that refuses answers the refusal itself and never calls back.
    runLayers(options.layers, request, response, (outcome) => {
      // A layer failed (not refused): Express runs the layers again and reports the error its way.
      if (outcome === 'failed') return passOn(request, response);
      let body = bodies.get(answer);
      if (body === undefined) {
        body = JSON.stringify(answer);
        bodies.set(answer, body);
      }
      response.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(body)),
      });
      response.end(body);
      stopTimer();
      answered.inc();
      options.debug?.(`GET ${route.path} 200 from memory (${route.operation})`);
    });
  });
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
