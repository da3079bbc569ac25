import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request as httpRequest } from 'node:http';
import { WebSocket } from 'ws';
import type { RunningService } from '../../../src/main';

export interface Route {
  method: string;
  /** Concrete path: path parameters filled in with a placeholder. */
  path: string;
  operationId: string | undefined;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string }>>;
}

/** Every route of the OpenAPI document (/docs-json), read with `token`. */
export async function openApiRoutes(service: RunningService, token?: string): Promise<Route[]> {
  const response = await fetch(`${service.urls.base}/docs-json`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) throw new Error(`/docs-json answered ${response.status}`);
  const document = (await response.json()) as OpenApiDocument;
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path: path.replace(/\{[^}]+\}/g, '1'),
      operationId: operation.operationId,
    })),
  );
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP request with headers fetch would not send as given (Host, Origin), straight over node:http. */
export async function rawRequest(
  service: RunningService,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawResponse> {
  const base = new URL(service.urls.base);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: base.hostname, port: base.port, method, path, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A JSON-RPC initialize request as MCP clients of the 2025 revisions send it. */
export const MCP_INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'security-test', version: '1.0.0' },
  },
});

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

/** A real MCP client (the official SDK) that sends `token` as a bearer token. */
export async function connectMcpClientWithToken(service: RunningService, token: string): Promise<Client> {
  const client = new Client({ name: 'ibgs-security-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(service.urls.mcp), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** The HTTP status of a websocket upgrade: the refusal's status, or 101 when the service accepts it. */
export async function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  const websocket = new WebSocket(url, { headers });
  try {
    return await new Promise<number>((resolve, reject) => {
      websocket.on('open', () => resolve(101));
      websocket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      websocket.on('error', reject);
    });
  } finally {
    websocket.terminate();
  }
}

export function websocketUrl(service: RunningService): string {
  return `${service.urls.base.replace(/^http/, 'ws')}/vnc/websockify`;
}
