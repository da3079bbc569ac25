import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { MetricsRegistry } from '../common/metrics';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';

/** Who changed state: the gateway, the API session, the health verdict, the recovery ladder, the breaker. */
export const HEALTH_EVENT_SOURCES = ['gateway', 'connection', 'health', 'ladder', 'breaker'] as const;
export type HealthEventSource = (typeof HEALTH_EVENT_SOURCES)[number];

export interface HealthEvent {
  at: Date;
  source: HealthEventSource;
  from: string;
  to: string;
  reason: string;
}

/** Enough for a few days of ordinary life (nightly restarts, weekly 2FA) and a bad hour in full. */
export const HEALTH_EVENT_CAPACITY = 500;

/** The bounded history of every transition, newest last; each one is also counted in Prometheus. */
@Injectable()
export class HealthEventLog implements OnModuleDestroy {
  private readonly events: HealthEvent[] = [];
  private dropped = 0;
  private readonly recordedEvents = new Subject<HealthEvent>();
  /** Each transition as it is recorded (pushed to /events). */
  readonly recorded: Observable<HealthEvent> = this.recordedEvents.asObservable();

  constructor(
    private readonly metrics: MetricsRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: Pick<AppConfig, 'gateway'>,
  ) {}

  /** Records a transition at `at` (now on the service's clock unless given). */
  record(source: HealthEventSource, from: string, to: string, reason: string, at?: Date): HealthEvent {
    const event = { at: at ?? dateOf(this.clock), source, from, to, reason };
    this.events.push(event);
    if (this.events.length > HEALTH_EVENT_CAPACITY) {
      this.events.shift();
      this.dropped++;
    }
    this.metrics.healthEvents.inc({ source, to, gateway: this.config.gateway.name });
    this.recordedEvents.next(event);
    return event;
  }

  onModuleDestroy(): void {
    this.recordedEvents.complete();
  }

  /** Events at or after `since`, the last `limit` of them, oldest first. */
  list(options: { limit?: number; since?: Date; source?: HealthEventSource } = {}): HealthEvent[] {
    const matching = this.events.filter(
      (event) =>
        (options.since === undefined || event.at >= options.since) &&
        (options.source === undefined || event.source === options.source),
    );
    return options.limit === undefined ? matching : matching.slice(-options.limit);
  }

  /** How many events the history holds, and how many older ones it has let go. */
  get size(): { kept: number; dropped: number } {
    return { kept: this.events.length, dropped: this.dropped };
  }
}
