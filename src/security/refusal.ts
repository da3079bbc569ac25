import type { ServerResponse } from 'node:http';
import type { ErrorBody } from '../common/api-exception.filter';

/** A request the security layer turns away before it reaches a route, in the API's one error shape. */
export type Refusal = ErrorBody;

export function sendRefusal(
  response: ServerResponse,
  refusal: Refusal,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(refusal);
  response.writeHead(refusal.statusCode, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  response.end(body);
}
