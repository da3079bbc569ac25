import { SecType, type Contract } from '@stoqey/ib';
import { Request } from '../../../src/simulator/protocol/message-ids';
import type { TestClient } from '../../support/ib-client';

// Helpers of protocol-versions-market.test.ts.

export const stock = (symbol: string): Contract => ({
  symbol,
  secType: SecType.STK,
  exchange: 'SMART',
  currency: 'USD',
});

export async function waitFor(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** "20261124-16:00:00": IB's UTC form of a time. */
export const utc = (epochMs: number): string => {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 19)}`;
};

/**
 * Sends `tokens` on @stoqey/ib's socket, past its encoder (which refuses requests a server at the
 * negotiated version does not know, as an older client would not send them), and returns the code of the
 * error the simulator answers for `reqId`.
 */
export async function refusalOf(
  client: TestClient,
  reqId: number,
  tokens: (string | number)[],
): Promise<number> {
  const internals = client.ib as unknown as {
    api: { controller: { socket: { send(tokens: unknown[]): void } } };
  };
  internals.api.controller.socket.send(tokens);
  await waitFor(() => client.errors.some((error) => error.reqId === reqId), `the answer to ${reqId}`);
  return client.errors.find((error) => error.reqId === reqId)?.code ?? 0;
}

/** REQ_HISTORICAL_DATA for whatToShow=SCHEDULE as a v151..164 client would lay it out, were it allowed. */
export function scheduleRequest(reqId: number, conId: number, symbol: string): (string | number)[] {
  const contract = [conId, symbol, 'STK', '', '', '', '', 'SMART', '', 'USD', '', ''];
  return [Request.REQ_HISTORICAL_DATA, reqId, ...contract, 0, '', '1 day', '1 W', 1, 'SCHEDULE', 1, 0, ''];
}
