import { ConnectionState, ErrorCode, IBApi, IBApiNext, type IBApiNextError } from '@stoqey/ib';
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
  options: {
    clientId?: number;
    reconnectInterval?: number;
    maxReqPerSec?: number;
    /** The protocol versions the client offers in its handshake; default @stoqey/ib's own (v100..193). */
    offerVersions?: { min: number; max: number };
  } = {},
): Promise<TestClient> {
  const ib = new IBApiNext({
    host: '127.0.0.1',
    port,
    reconnectInterval: options.reconnectInterval ?? 0,
    maxReqPerSec: options.maxReqPerSec ?? 40,
  });
  if (options.offerVersions) offerVersions(ib, options.offerVersions);
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

/** The part of @stoqey/ib's socket that writes the handshake's version range ("v100..193"). */
interface HandshakeSocket {
  buildVersionString(min: number, max: number): string;
  serverVersion: number;
}

function socketOf(ib: IBApiNext): HandshakeSocket {
  // @stoqey/ib has no option for the offered range: reach its socket (IBApiNext.api.controller.socket).
  const internals = ib as unknown as { api: { controller: { socket: HandshakeSocket } } };
  return internals.api.controller.socket;
}

/**
 * Makes `ib` offer another version range, as an older client would. Its encoder and decoder then write
 * and read for the version the server answers with, as they do for any server.
 */
function offerVersions(ib: IBApiNext, range: { min: number; max: number }): void {
  const socket = socketOf(ib);
  socket.buildVersionString = () => (range.min < range.max ? `v${range.min}..${range.max}` : `v${range.min}`);
}

/** The protocol version the server answered the handshake with. */
export function negotiatedVersion(ib: IBApiNext): number {
  return socketOf(ib).serverVersion;
}
/** The IBApi inside IBApiNext: it has the calls IBApiNext lacks (news, WSH, option calculations). */
export function innerApi(ib: IBApiNext): IBApi {
  const inner: unknown = Reflect.get(ib, 'api');
  if (!(inner instanceof IBApi)) throw new Error('IBApiNext holds no IBApi');
  return inner;
}
