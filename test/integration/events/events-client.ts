import { WebSocket } from 'ws';
import type { RunningService } from '../../../src/main';

/** One message of /events as a client sees it: an event (with id and topic) or a notice (gap, lagging). */
export interface Received {
  /** The SSE event name, or the topic / notice type of a WebSocket message. */
  name: string;
  id: string | undefined;
  body: Record<string, unknown>;
}

export interface EventsClient {
  received: Received[];
  /** Resolves when a message passes `check`, or rejects after `timeoutMs`. */
  waitFor(check: (message: Received) => boolean, what: string, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

function waiter(received: Received[]) {
  return async (check: (message: Received) => boolean, what: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = received.find(check);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${what}; received ${received.map((m) => m.name).join(',')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
}

/** Opens GET /events and parses server-sent events as they come. Rejects with status and body on a refusal. */
export async function openSse(
  service: RunningService,
  query: string,
  headers: Record<string, string> = {},
): Promise<EventsClient> {
  const abort = new AbortController();
  const response = await fetch(`${service.urls.base}/events?${query}`, { headers, signal: abort.signal });
  if (response.status !== 200 || response.body === null) {
    throw new Error(`${response.status} ${await response.text()}`);
  }
  const received: Received[] = [];
  const decoder = new TextDecoder();
  const reading = (async () => {
    let buffer = '';
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = 'message';
          let id: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) name = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) {
            received.push({ name, id, body: JSON.parse(data.join('\n')) as Record<string, unknown> });
          }
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    received,
    waitFor: waiter(received),
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

export function eventsWebsocketUrl(service: RunningService, query: string): string {
  return `${service.urls.base.replace(/^http/, 'ws')}/events?${query}`;
}

/** Opens the /events WebSocket; rejects with the HTTP status of a refused upgrade. */
export async function openWebsocket(
  service: RunningService,
  query: string,
  headers: Record<string, string> = {},
): Promise<EventsClient> {
  const websocket = new WebSocket(eventsWebsocketUrl(service, query), { headers });
  const received: Received[] = [];
  // Listening before 'open': the first messages may come in the same chunk as the handshake's answer.
  websocket.on('message', (data: Buffer) => {
    const body = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    const id = typeof body.id === 'string' ? body.id : undefined;
    received.push({ name: String(id === undefined ? body.type : body.topic), id, body });
  });
  await new Promise<void>((resolve, reject) => {
    websocket.once('open', () => resolve());
    websocket.once('unexpected-response', (_request, response) =>
      reject(new Error(`upgrade refused: ${response.statusCode ?? 0}`)),
    );
    websocket.once('error', reject);
  });
  return {
    received,
    waitFor: waiter(received),
    close: async () => {
      if (websocket.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((resolve) => websocket.once('close', resolve));
      websocket.close();
      await closed;
    },
  };
}

/** The status of a refused WebSocket upgrade with these headers (101 when accepted). */
export async function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const websocket = new WebSocket(url, { headers });
    websocket.once('open', () => {
      websocket.terminate();
      resolve(101);
    });
    websocket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      websocket.terminate();
    });
    websocket.once('error', reject);
  });
}

/** The event ids of what a client received, in order (notices left out). */
export function idsOf(client: EventsClient, topic?: string): string[] {
  return client.received.flatMap((message) =>
    message.id !== undefined && (topic === undefined || message.name === topic) ? [message.id] : [],
  );
}
