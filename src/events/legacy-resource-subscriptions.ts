import { ProtocolError, ProtocolErrorCode, type McpServer } from '@modelcontextprotocol/server';

/** What a 2025-revision client is told when it asks to subscribe to a resource. */
export const LEGACY_SUBSCRIBE_REFUSAL =
  'resources/subscribe needs a session stream to deliver notifications/resources/updated, and this endpoint serves the 2025 revisions statelessly (no session, no GET stream). Read the resource again when needed, or connect with the 2026-07-28 revision and open subscriptions/listen with resourceSubscriptions.';

/**
 * Answers `resources/subscribe` and `resources/unsubscribe` of 2025-revision clients with a clear error
 * instead of a bare "Method not found". The service advertises `resources.subscribe` for the 2026-07-28
 * `subscriptions/listen` streams; mcp-nest 2.0.5 builds one server (one set of capabilities) for both
 * revisions, so 2025 clients see it too, but their stateless requests have no stream that could carry an
 * update. On the 2026-07-28 revision both methods are removed and the SDK refuses them before dispatch.
 */
export function refuseLegacyResourceSubscriptions(server: McpServer): McpServer {
  const refuse = (): never => {
    throw new ProtocolError(ProtocolErrorCode.MethodNotFound, LEGACY_SUBSCRIBE_REFUSAL);
  };
  server.server.setRequestHandler('resources/subscribe', refuse);
  server.server.setRequestHandler('resources/unsubscribe', refuse);
  return server;
}
