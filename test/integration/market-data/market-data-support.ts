import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import type { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { connectMcpClient, startTestService, testConfig } from '../service/service-harness';

/** ERR_MSG, as the simulator sends it: [4, version, id, code, text, advancedOrderRejectJson]. */
const ERR_MSG = 4;

export const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface WireCounter {
  count(): number;
  stop(): void;
}

/**
 * Counts the requests with these TWS message ids that reach the simulator from the session with
 * `clientId` (the service's), about the contract with `symbol` when given (the service's own watchdog
 * streams a probe contract meanwhile).
 */
export function upstreamRequests(
  simulator: IbGatewaySimulator,
  messageIds: readonly number[],
  clientId: number,
  symbol?: string,
): WireCounter {
  let count = 0;
  const stop = simulator.tap((direction, session, fields) => {
    if (direction !== 'in' || session.clientId !== clientId) return;
    if (symbol !== undefined && !fields.includes(symbol)) return;
    if (messageIds.includes(Number(fields[0]))) count++;
  });
  return { count: () => count, stop };
}

/** Collects the error codes the simulator sends (ERR_MSG), e.g. 100 (too many messages) or 162 (pacing). */
export function sentErrorCodes(simulator: IbGatewaySimulator): { codes: number[]; stop(): void } {
  const codes: number[] = [];
  const stop = simulator.tap((direction, _session, fields) => {
    if (direction === 'out' && Number(fields[0]) === ERR_MSG) codes.push(Number(fields[3]));
  });
  return { codes, stop };
}

export interface ServerSentEvent {
  event: string;
  data: string;
}

/** Reads server-sent events from a fetch response into `events` until the stream ends or is aborted. */
export async function readEvents(response: Response, events: ServerSentEvent[]): Promise<void> {
  if (!response.body) throw new Error('The response has no body');
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (data.length > 0) events.push({ event, data: data.join('\n') });
      }
    }
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
  }
}

/** The service for market-data tests: a high rate limit, the simulator's clock at `clock`, an MCP client. */
export async function startMarketDataService(clock: number): Promise<{
  service: RunningService;
  simulator: IbGatewaySimulator;
  mcp: Client;
  /** The service's own session at the simulator (other clients' requests are not the service's). */
  serviceClientId: number;
}> {
  const service = await startTestService(
    testConfig({ security: { ...CONFIG_DEFAULTS.security, rateLimitPerMinute: 100_000 } }),
  );
  const simulator = service.simulator as IbGatewaySimulator;
  simulator.setClock(clock);
  const mcp = await connectMcpClient(service);
  const serviceClientId = (
    (await (await fetch(`${service.urls.base}/connection/status`)).json()) as { clientId: number }
  ).clientId;
  return { service, simulator, mcp, serviceClientId };
}
