import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  Client as ClientV2,
  PROTOCOL_VERSION_META_KEY,
  StreamableHTTPClientTransport as HttpV2,
} from '@modelcontextprotocol/client';
import type { RunningService } from '../../../src/main';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { AAPL_CON_ID, restingPrice } from './orders-harness';

export const API_TOKEN = 'full-access-token-0123456789';
export const READ_ONLY_TOKEN = 'read-only-token-0123456789';
export const MODERN = '2026-07-28';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** REST with a bearer token (the full one unless given). */
export async function rest<T = Record<string, unknown>>(
  service: RunningService,
  method: string,
  path: string,
  body?: unknown,
  token = API_TOKEN,
): Promise<Answer<T>> {
  const response = await fetch(`${service.urls.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** A resting AAPL limit order with a quantity that tells it apart from the others of the test. */
export function restingOrder(simulator: IbGatewaySimulator, quantity: number): Record<string, unknown> {
  return {
    symbol: 'AAPL',
    side: 'BUY',
    quantity,
    orderType: 'LMT',
    limitPrice: restingPrice(simulator, AAPL_CON_ID, 'BUY'),
  };
}

/** Open orders at the broker of this quantity (each test uses its own). */
export function brokerOrdersOf(simulator: IbGatewaySimulator, quantity: number): number[] {
  return simulator.broker
    .snapshot()
    .openOrders.filter((order) => order.totalQuantity === quantity)
    .map((order) => order.orderId);
}

export interface ElicitationSeen {
  message: string;
  requestedSchema: unknown;
}

/**
 * The official v2 client pinned to 2026-07-28, declaring elicitation, answering every question with
 * `answer` (the person's click) and remembering what it was shown.
 */
export async function modernClient(
  service: RunningService,
  answer: { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> },
  seen: ElicitationSeen[],
): Promise<ClientV2> {
  const client = new ClientV2(
    { name: 'ibgs-confirm-test', version: '1.0.0' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN } } },
  );
  client.setRequestHandler('elicitation/create', (request) => {
    const params = request.params as { message: string; requestedSchema?: unknown };
    seen.push({ message: params.message, requestedSchema: params.requestedSchema });
    return answer.content === undefined
      ? { action: answer.action }
      : { action: answer.action, content: answer.content as Record<string, string | number | boolean> };
  });
  await client.connect(
    new HttpV2(new URL(service.urls.mcp), {
      requestInit: { headers: { authorization: `Bearer ${API_TOKEN}` } },
    }),
  );
  return client;
}

/**
 * One raw 2026-07-28 tools/call over HTTP (the client's envelope written out), to see the HTTP status and
 * to send back what a client would not: another order with an old request state, an altered state.
 */
export async function rawModernCall(
  service: RunningService,
  name: string,
  args: Record<string, unknown>,
  options: {
    capabilities?: Record<string, unknown>;
    requestState?: string;
    inputResponses?: Record<string, unknown>;
  } = {},
): Promise<{
  status: number;
  message: { result?: Record<string, unknown>; error?: Record<string, unknown> };
}> {
  const body = {
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name,
      arguments: args,
      ...(options.requestState === undefined ? {} : { requestState: options.requestState }),
      ...(options.inputResponses === undefined ? {} : { inputResponses: options.inputResponses }),
      _meta: {
        [PROTOCOL_VERSION_META_KEY]: MODERN,
        [CLIENT_INFO_META_KEY]: { name: 'ibgs-raw', version: '1.0.0' },
        [CLIENT_CAPABILITIES_META_KEY]: options.capabilities ?? { elicitation: {} },
      },
    },
  };
  const response = await fetch(service.urls.mcp, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': name,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
  return { status: response.status, message: JSON.parse(json) as { result?: Record<string, unknown> } };
}

export const ACCEPT = { [`confirm`]: { action: 'accept', content: { confirm: true } } };
