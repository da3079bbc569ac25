import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MCP_STRATEGY, type McpStrategy } from '@rekog/mcp-nest';
import { CLOCK, type Clock } from '../common/clock';
import { EVENT_HUB, type EventHub, type HubSubscription } from '../events/event-hub';
import { GatewayRouter } from '../gateway/gateway-router';
import { ResourceUpdateNotifier } from './resource-update-notifier';
import { RESOURCE_TOPICS, urisChangedBy, type PlainUriOwner } from './resource-uris';
import { UpdateCoalescer } from './resource-update-coalescer';

/**
 * Tells MCP clients which resources changed: each event of the service's hub (orders, executions,
 * positions, account values, PnL, health, gateway, quotes) is mapped to the resource URIs it may have
 * changed, and each URI is announced at most once per 250 ms (a quote storm sends one per window).
 * Only `subscriptions/listen` streams that asked for a URI receive it.
 */
@Injectable()
export class ResourceUpdates implements OnModuleInit, OnModuleDestroy, PlainUriOwner {
  private readonly notifier: ResourceUpdateNotifier;
  private readonly coalescer: UpdateCoalescer;
  private subscription: HubSubscription | undefined;

  constructor(
    @Inject(EVENT_HUB) private readonly hub: EventHub,
    @Inject(MCP_STRATEGY) strategy: McpStrategy,
    @Inject(CLOCK) clock: Clock,
    private readonly router: GatewayRouter,
  ) {
    this.notifier = ResourceUpdateNotifier.of(strategy);
    this.coalescer = new UpdateCoalescer(clock, (uri) => this.announce(uri));
  }

  onModuleInit(): void {
    this.subscription = this.hub.subscribe({ topics: new Set(RESOURCE_TOPICS) }, (event) => {
      for (const uri of urisChangedBy(event, this)) this.coalescer.offer(uri);
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.coalescer.close();
  }

  plainMeans(gateway: string, kind: 'quotes' | 'other'): boolean {
    if (kind === 'quotes') return this.router.tryForData({})?.name === gateway;
    return this.router.units.length === 1 && this.router.units[0]?.name === gateway;
  }

  private announce(uri: string): void {
    // Before /mcp is mounted there is no handler, and no stream to tell.
    this.notifier.resourceUpdated(uri);
  }
}
