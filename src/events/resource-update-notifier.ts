import type { ServerNotifier } from '@modelcontextprotocol/server';
import { StreamableHttpTransport, type McpStrategy, type McpTransport } from '@rekog/mcp-nest';

/**
 * The field of StreamableHttpTransport (@rekog/mcp-nest 2.0.5) that holds the SDK's 2026-07-28 serving
 * entry (createMcpHandler of @modelcontextprotocol/server 2.4.0). That entry owns the
 * `subscriptions/listen` streams; the transport forwards only list_changed events to it
 * (notifyListChanged) and has no public way to announce a changed resource. A unit test
 * (test/unit/resources/resource-update-notifier.test.ts) fails when an upgrade renames or drops the field.
 */
export const MODERN_HANDLER_FIELD = 'modernHandler';

/** The part of the SDK handler this reaches for. */
interface ListenStreamOwner {
  notify: Pick<ServerNotifier, 'resourceUpdated'>;
}

/**
 * Announces `notifications/resources/updated` for a URI on every open `subscriptions/listen` stream that
 * asked for that URI (the SDK filters by exact URI and stamps the subscription id). Clients of the 2025
 * revisions are served statelessly here: they have no stream to be told on.
 */
export class ResourceUpdateNotifier {
  constructor(private readonly transports: readonly McpTransport[]) {}

  static of(strategy: McpStrategy): ResourceUpdateNotifier {
    return new ResourceUpdateNotifier(strategy.options.transports);
  }

  /**
   * Whether a listen-stream owner was found: false before the transport started (no stream can be open
   * then) or, loudly in the tests, after a library change moved it.
   */
  get ready(): boolean {
    return this.owners().length > 0;
  }

  resourceUpdated(uri: string): void {
    for (const owner of this.owners()) owner.notify.resourceUpdated(uri);
  }

  private owners(): ListenStreamOwner[] {
    const owners: ListenStreamOwner[] = [];
    for (const transport of this.transports) {
      if (!(transport instanceof StreamableHttpTransport)) continue;
      const handler = (transport as unknown as Record<string, unknown>)[MODERN_HANDLER_FIELD];
      if (isListenStreamOwner(handler)) owners.push(handler);
    }
    return owners;
  }
}

function isListenStreamOwner(value: unknown): value is ListenStreamOwner {
  const notify = (value as { notify?: { resourceUpdated?: unknown } } | undefined)?.notify;
  return typeof notify?.resourceUpdated === 'function';
}
