import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { IbGatewaySimulator } from '../simulator';
import { GATEWAY_STATES, type GatewayState } from './gateway-login';
import type { Entitlement } from '../market/instrument';
import {
  DROP_ON_NEXT_ORDER_MODES,
  FREEZE_SCOPES,
  type DropOnNextOrder,
  type FreezeScope,
} from '../simulator-context';

export interface ControlServer {
  readonly port: number;
  close(): Promise<void>;
}

class BadRequest extends Error {}

type Body = Record<string, unknown>;
type Route = (simulator: IbGatewaySimulator, body: Body) => unknown;

const ENTITLEMENTS: readonly Entitlement[] = ['realtime', 'delayed', 'none'];

function numberField(body: Body, name: string, fallback?: number): number {
  const value = body[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new BadRequest(`"${name}" must be a non-negative number`);
  }
  return value;
}

function stringField(body: Body, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') throw new BadRequest(`"${name}" must be a non-empty string`);
  return value;
}

function freezeScope(body: Body): FreezeScope {
  const scope = body.scope ?? 'gateway';
  if (typeof scope !== 'string' || !(FREEZE_SCOPES as readonly string[]).includes(scope)) {
    throw new BadRequest(`"scope" must be one of ${FREEZE_SCOPES.join(', ')}`);
  }
  return scope as FreezeScope;
}

function dropOnNextOrderMode(body: Body): DropOnNextOrder {
  const when = body.when;
  if (typeof when !== 'string' || !(DROP_ON_NEXT_ORDER_MODES as readonly string[]).includes(when)) {
    throw new BadRequest(`"when" must be one of ${DROP_ON_NEXT_ORDER_MODES.join(', ')}`);
  }
  return when as DropOnNextOrder;
}

/** The control surface over HTTP; every route maps to one method of the simulator. */
const ROUTES: Record<string, Route> = {
  'GET /state': (simulator) => simulator.stats(),
  'GET /broker': (simulator) => simulator.broker.snapshot(),
  'POST /market-data/freeze': (simulator, body) => simulator.freezeMarketData(true, freezeScope(body)),
  'POST /market-data/unfreeze': (simulator) => simulator.freezeMarketData(false),
  'POST /connections/drop': (simulator) => simulator.dropConnections(),
  'POST /connections/drop-on-next-order': (simulator, body) =>
    simulator.dropConnectionsOnNextOrder(dropOnNextOrderMode(body)),
  'POST /connections/refuse': async (simulator, body) =>
    simulator.refuseConnections(numberField(body, 'durationMs', 5000)),
  'POST /farm/outage': (simulator) => simulator.marketFarmOutage(),
  'POST /farm/restore': (simulator) => simulator.restoreMarketFarm(),
  'POST /connectivity/lost': (simulator) => simulator.connectivityLost(),
  'POST /connectivity/restored': (simulator, body) =>
    simulator.connectivityRestored(body.dataMaintained !== false),
  'POST /clock': (simulator, body) => {
    const time = Date.parse(stringField(body, 'time'));
    if (Number.isNaN(time)) throw new BadRequest('"time" must be an ISO 8601 date-time');
    simulator.setClock(time);
  },
  'DELETE /clock': (simulator) => simulator.setClock(undefined),
  'POST /login': (simulator, body) => {
    const state = stringField(body, 'state');
    if (!(GATEWAY_STATES as readonly string[]).includes(state)) {
      throw new BadRequest(`"state" must be one of ${GATEWAY_STATES.join(', ')}`);
    }
    if (state === 'logging-in' && body.durationMs !== undefined) {
      simulator.login.slowStart(numberField(body, 'durationMs'));
    } else {
      simulator.login.set(state as GatewayState);
    }
  },
  'POST /entitlements': (simulator, body) => {
    const entitlement = stringField(body, 'entitlement');
    if (!(ENTITLEMENTS as readonly string[]).includes(entitlement)) {
      throw new BadRequest(`"entitlement" must be one of ${ENTITLEMENTS.join(', ')}`);
    }
    simulator.market.setEntitlement(stringField(body, 'symbol'), entitlement as Entitlement);
  },
  'POST /news': (simulator, body) => simulator.news.publish(1, stringField(body, 'message')),
};

async function readJson(request: IncomingMessage): Promise<Body> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw new BadRequest('Body too large');
  }
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error();
    return parsed as Body;
  } catch {
    throw new BadRequest('Body must be a JSON object');
  }
}

function reply(response: ServerResponse, status: number, payload: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(payload ?? { ok: true }));
}

/** Starts the simulator's fault-injection HTTP API (tests, demos, the Docker image). */
export async function startControlServer(
  simulator: IbGatewaySimulator,
  options: { host: string; port: number },
): Promise<ControlServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = ROUTES[`${request.method ?? 'GET'} ${path}`];
    if (!route) {
      reply(response, 404, {
        error: `No control route ${request.method ?? ''} ${path}`,
        routes: Object.keys(ROUTES),
      });
      return;
    }
    readJson(request)
      .then((body) => route(simulator, body))
      .then((result) => reply(response, 200, result))
      .catch((error: unknown) => {
        const status = error instanceof BadRequest ? 400 : 500;
        reply(response, status, { error: error instanceof Error ? error.message : String(error) });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('Unexpected control server address');
  return {
    port: address.port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
