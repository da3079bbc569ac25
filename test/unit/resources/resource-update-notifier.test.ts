import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import { StreamableHttpTransport, type McpTransportContext } from '@rekog/mcp-nest';
import { MODERN_HANDLER_FIELD, ResourceUpdateNotifier } from '../../../src/events/resource-update-notifier';

/**
 * The notifier reaches into @rekog/mcp-nest 2.0.5's StreamableHttpTransport for the SDK handler that owns
 * the subscriptions/listen streams. These tests fail when a library upgrade moves it: then announce
 * updates through whatever public route the new version offers.
 */
describe('ResourceUpdateNotifier against the installed @rekog/mcp-nest', () => {
  let transport: StreamableHttpTransport;

  beforeEach(() => {
    transport = new StreamableHttpTransport({ mount: false });
    // Only what start() touches without a request: the server factory runs per request.
    const context = {
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
      options: { name: 'test', version: '0', transports: [transport] },
      createBoundServer: () => {
        throw new Error('no request in this test');
      },
    } as unknown as McpTransportContext;
    transport.start(context);
  });

  afterEach(async () => transport.close());

  it(`finds the SDK handler in the transport's ${MODERN_HANDLER_FIELD} field once started`, () => {
    const handler = (transport as unknown as Record<string, unknown>)[MODERN_HANDLER_FIELD];
    expect(handler).toEqual(
      expect.objectContaining({
        notify: expect.any(Object),
        bus: expect.any(Object),
        fetch: expect.any(Function),
      }),
    );
    expect(new ResourceUpdateNotifier([transport]).ready).toBe(true);
  });

  it("publishes resource_updated for the URI on the handler's listen-stream bus", () => {
    const bus = (transport as unknown as Record<string, { bus: ServerEventBus }>)[MODERN_HANDLER_FIELD]?.bus;
    const published: ServerEvent[] = [];
    const unsubscribe = bus?.subscribe((event) => published.push(event));
    new ResourceUpdateNotifier([transport]).resourceUpdated('ibgs://orders/open');
    unsubscribe?.();
    expect(published).toEqual([
      expect.objectContaining({ kind: 'resource_updated', uri: 'ibgs://orders/open' }),
    ]);
  });

  it('is not ready, and sends nothing, before the transport started or without one', () => {
    expect(new ResourceUpdateNotifier([new StreamableHttpTransport({ mount: false })]).ready).toBe(false);
    expect(new ResourceUpdateNotifier([]).ready).toBe(false);
    expect(() => new ResourceUpdateNotifier([]).resourceUpdated('ibgs://orders/open')).not.toThrow();
  });
});
