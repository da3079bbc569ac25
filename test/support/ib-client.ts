import { ConnectionState, ErrorCode, IBApiNext, type IBApiNextError } from '@stoqey/ib';
import { filter, firstValueFrom, timeout } from 'rxjs';

export interface TestClient {
  ib: IBApiNext;
  /** Every error the client reported (IB errors with a request id, and client-side ones such as 505). */
  errors: IBApiNextError[];
  disconnect(): void;
}

const openClients = new Set<IBApiNext>();

/** Connects @stoqey/ib's IBApiNext to a simulator over TCP and waits until requests flow. */
export async function connectClient(
  port: number,
  options: { clientId?: number; reconnectInterval?: number; maxReqPerSec?: number } = {},
): Promise<TestClient> {
  const ib = new IBApiNext({
    host: '127.0.0.1',
    port,
    reconnectInterval: options.reconnectInterval ?? 0,
    maxReqPerSec: options.maxReqPerSec ?? 40,
  });
  const errors: IBApiNextError[] = [];
  ib.error.subscribe((error) => errors.push(error));
  openClients.add(ib);
  ib.connect(options.clientId ?? nextClientId());
  await waitForState(ib, ConnectionState.Connected);
  // Requests are queued until NEXT_VALID_ID; a round trip proves the session is live.
  await ib.getCurrentTime();
  return {
    ib,
    errors,
    disconnect: () => {
      ib.disconnect();
      openClients.delete(ib);
    },
  };
}

export async function waitForState(ib: IBApiNext, state: ConnectionState, ms = 10_000): Promise<void> {
  await firstValueFrom(
    ib.connectionState.pipe(
      filter((current) => current === state),
      timeout({ first: ms }),
    ),
  );
}

let clientIdCounter = 100;
function nextClientId(): number {
  return clientIdCounter++;
}

/** Disconnects every client a test file opened; call from afterAll/afterEach. */
export function disconnectAllClients(): void {
  for (const ib of openClients) ib.disconnect();
  openClients.clear();
}

/** Codes of decode errors: a test that sees one has found a wire-format bug. */
export function decodeErrors(errors: readonly IBApiNextError[]): IBApiNextError[] {
  return errors.filter((error) => error.code === ErrorCode.UNKNOWN_ID);
}
