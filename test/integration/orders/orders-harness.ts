import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';

/** A Wednesday, 11:00 in New York: US stocks trade, so market orders fill. */
export const MARKET_OPEN = Date.parse('2025-06-11T15:00:00Z');
export const AAPL_CON_ID = 265598;

export interface RestAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** REST calls against a running service, answering status and parsed JSON body. */
export function restClient(service: RunningService) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<RestAnswer<T>> => {
    const response = await fetch(`${service.urls.base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  return {
    get: async <T = Record<string, unknown>>(path: string) => call<T>('GET', path),
    post: async <T = Record<string, unknown>>(path: string, body: unknown) => call<T>('POST', path, body),
    delete: async <T = Record<string, unknown>>(path: string) => call<T>('DELETE', path),
  };
}

export interface ToolAnswer<T = Record<string, unknown>> {
  isError: boolean;
  text: string;
  structured: T;
}

/** One MCP tool call through the real SDK client. */
export async function callTool<T = Record<string, unknown>>(
  mcp: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<ToolAnswer<T>> {
  const result = await mcp.callTool({ name, arguments: args });
  const [content] = (result.content ?? []) as { type: string; text?: string }[];
  return {
    isError: result.isError === true,
    text: content?.text ?? '',
    structured: result.structuredContent as T,
  };
}

/**
 * What an order request can change at the broker: order ids handed out, open orders, executions,
 * positions. (Cash, PnL and market prices move with the market, so they are left out.)
 */
export function brokerState(simulator: IbGatewaySimulator) {
  const snapshot = simulator.broker.snapshot();
  return {
    nextValidOrderId: snapshot.nextValidOrderId,
    openOrders: snapshot.openOrders,
    executions: snapshot.executions,
    positions: snapshot.accounts.map((account) => ({
      account: account.account,
      positions: account.positions.map((position) => ({
        conId: position.conId,
        position: position.position,
      })),
    })),
  };
}

export function openOrder(simulator: IbGatewaySimulator, orderId: number) {
  return simulator.broker.snapshot().openOrders.find((order) => order.orderId === orderId);
}

export function positionOf(simulator: IbGatewaySimulator, conId: number): number {
  const [account] = simulator.broker.snapshot().accounts;
  return account?.positions.find((position) => position.conId === conId)?.position ?? 0;
}

/** A price well away from the market on the side where the order will not fill. */
export function restingPrice(simulator: IbGatewaySimulator, conId: number, side: 'BUY' | 'SELL'): number {
  const { last } = simulator.market.quote(conId);
  return Math.round(last * (side === 'BUY' ? 0.8 : 1.2) * 100) / 100;
}

export function marketPrice(simulator: IbGatewaySimulator, conId: number): number {
  return simulator.market.quote(conId).last;
}

/** Polls until `check` returns a value (broker state settles asynchronously after a fill). */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('Timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
