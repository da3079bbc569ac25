import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { AccountLiveState } from '../account/account-live-state';
import type { AppConfig } from '../config/config.schema';
import { APP_CONFIG } from '../config/config.tokens';
import { HealthEventLog, type HealthEvent } from '../health/health-events';
import { MarketDataStreams } from '../market-data/market-data-streams';
import type { Quote } from '../market-data/market-data.schemas';
import { NewsService } from '../news/news.service';
import { OrderApprovals } from '../orders/order-approvals';
import { OrderTracker } from '../orders/order-tracker';
import { EVENT_HUB, EventHub } from './event-hub';
import type { LiveEventInput } from './live-event';

/** Health transitions of the gateway and its API session; the rest (verdict, ladder, breaker) are health. */
const GATEWAY_SOURCES: ReadonlySet<HealthEvent['source']> = new Set(['gateway', 'connection']);

/**
 * One gateway's part of the live events: what its services learn (order states, executions, quotes of the
 * streamed contracts, bulletins, health transitions) goes to the service's hub, stamped with the gateway.
 * The services know nothing of the hub; they only offer what changed.
 */
@Injectable()
export class GatewayEventBridge implements OnModuleInit, OnModuleDestroy {
  private readonly subscriptions = new Subscription();
  private readonly gateway: string;
  private readonly pendingQuotes = new Map<string, Quote>();
  private quoteFlush: NodeJS.Immediate | undefined;

  constructor(
    @Inject(EVENT_HUB) private readonly hub: EventHub,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly orders: OrderTracker,
    private readonly health: HealthEventLog,
    private readonly streams: MarketDataStreams,
    private readonly news: NewsService,
    private readonly approvals: OrderApprovals,
    private readonly account: AccountLiveState,
  ) {
    this.gateway = config.gateway.name;
  }

  onModuleInit(): void {
    this.subscriptions.add(
      this.orders.changes.subscribe((order) =>
        this.publish({
          topic: 'orders',
          type: 'order',
          ...named(order.contract.symbol, order.account),
          data: { ...order, commission: this.orders.commissionOf(order.orderId) ?? null },
        }),
      ),
    );
    this.subscriptions.add(
      this.orders.absences.subscribe((absence) =>
        this.publish({ topic: 'orders', type: 'order-absent', data: absence }),
      ),
    );
    this.subscriptions.add(
      this.orders.executions.subscribe((execution) =>
        this.publish({
          topic: 'executions',
          type: 'execution',
          ...named(execution.symbol, execution.account),
          data: execution,
        }),
      ),
    );
    this.subscriptions.add(
      this.health.recorded.subscribe((event) =>
        this.publish({
          topic: GATEWAY_SOURCES.has(event.source) ? 'gateway' : 'health',
          type: 'transition',
          data: { ...event, at: event.at.toISOString() },
        }),
      ),
    );
    this.subscriptions.add(this.streams.quotes.subscribe((quote) => this.coalesceQuote(quote)));
    this.subscriptions.add(
      // Positions, account summary and values, and PnL as IB pushes a change.
      this.account.changes.subscribe((change) =>
        this.publish({
          topic: change.topic,
          type: change.type,
          ...named(change.topic === 'positions' ? change.symbol : undefined, change.account),
          data: change.data,
        }),
      ),
    );
    this.subscriptions.add(
      this.approvals.changes.subscribe((change) =>
        this.publish({
          topic: 'approvals',
          type: change.step,
          ...named(change.symbol, change.account),
          data: change.approval,
        }),
      ),
    );
    this.subscriptions.add(
      this.news.bulletinsKept.subscribe((bulletin) =>
        this.publish({ topic: 'news', type: 'bulletin', data: bulletin }),
      ),
    );
  }

  onModuleDestroy(): void {
    this.subscriptions.unsubscribe();
    if (this.quoteFlush !== undefined) clearImmediate(this.quoteFlush);
    this.pendingQuotes.clear();
  }

  /**
   * IB sends a contract's bid, ask, last and sizes as separate messages, each of which updates the quote:
   * the quotes of one read of the socket are published once per contract, with the newest values, when
   * that read has been handled (the same turn of the event loop). A third of the events, no added wait.
   */
  private coalesceQuote(quote: Quote): void {
    this.pendingQuotes.set(`${quote.conId}:${quote.dataType}`, quote);
    this.quoteFlush ??= setImmediate(() => {
      this.quoteFlush = undefined;
      const quotes = [...this.pendingQuotes.values()];
      this.pendingQuotes.clear();
      for (const each of quotes) {
        this.publish({ topic: 'quotes', type: 'quote', ...named(each.symbol, undefined), data: each });
      }
    });
  }

  private publish(event: Omit<LiveEventInput, 'gateway'>): void {
    this.hub.publish({ ...event, gateway: this.gateway });
  }
}

/** The symbol and account fields of an event, when known. */
function named(
  symbol: string | undefined,
  account: string | undefined,
): { symbol?: string; account?: string } {
  return {
    ...(symbol === undefined || symbol === '' ? {} : { symbol }),
    ...(account === undefined || account === '' ? {} : { account }),
  };
}
