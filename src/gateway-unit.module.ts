import {
  Global,
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type LoggerService,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AccountModule } from './account/account.module';
import { AccountRepository } from './account/account.repository';
import { CLOCK, type Clock } from './common/clock';
import { inGatewayLogContext, runForGateway } from './common/gateway-log-context';
import { MetricsRegistry } from './common/metrics';
import { REDACTOR, Redactor } from './common/redactor';
import type { AppConfig } from './config/config.schema';
import { APP_CONFIG, IB_API_TARGET } from './config/config.tokens';
import type { GatewayPlan } from './config/gateway-plans';
import { ConnectionModule } from './connection/connection.module';
import { ConnectionService } from './connection/connection.service';
import type { IbApiTarget } from './connection/ib-session.repository';
import { ContractsModule } from './contracts/contracts.module';
import { EVENT_HUB, type EventHub } from './events/event-hub';
import { GatewayEventBridge } from './events/gateway-event-bridge';
import type { GatewayUnit } from './gateway/gateway-router';
import { GatewayModule } from './gateway/gateway.module';
import type { GatewayService } from './gateway/gateway.service';
import { HealthModule } from './health/health.module';
import { HealthService } from './health/health.service';
import { MarketDataModule } from './market-data/market-data.module';
import { NewsModule } from './news/news.module';
import { IdempotencyKeyRepository } from './orders/idempotency-key.repository';
import { OrderTracker } from './orders/order-tracker';
import { OrdersModule } from './orders/orders.module';
import { ScannerModule } from './scanner/scanner.module';
import { GatewayVncTarget } from './vnc/gateway-vnc-target';

/** What one gateway's services are built from. */
export interface GatewayUnitRuntime {
  /** This gateway's config: the top-level settings with its own values over them. */
  config: AppConfig;
  ibApiTarget: IbApiTarget;
  /** The gateway, built and started before its services (the container must exist to know its API port). */
  gateway: GatewayService;
  clock: Clock;
  /** The service's one registry: this gateway's metrics carry its name as the `gateway` label. */
  metrics: MetricsRegistry;
  /** One of several gateways: its services' log lines carry its name. */
  namedInLogs: boolean;
  /** The service's logger, the HTTP app's too: the gateway's services log from their first line on. */
  logger: LoggerService;
  /** The service's one event hub: this gateway's orders, account, quotes, news and health go there. */
  events: EventHub;
}

@Global()
@Module({})
class UnitRuntimeModule {
  static forRoot(runtime: GatewayUnitRuntime): DynamicModule {
    return {
      module: UnitRuntimeModule,
      providers: [
        { provide: APP_CONFIG, useValue: runtime.config },
        { provide: IB_API_TARGET, useValue: runtime.ibApiTarget },
        { provide: CLOCK, useValue: runtime.clock },
        { provide: REDACTOR, useValue: Redactor.fromConfig(runtime.config) },
        { provide: MetricsRegistry, useValue: runtime.metrics },
        { provide: EVENT_HUB, useValue: runtime.events },
      ],
      exports: [APP_CONFIG, IB_API_TARGET, CLOCK, REDACTOR, MetricsRegistry, EVENT_HUB],
    };
  }
}

/**
 * One gateway's services, wiring only: its session, watchdog, ladder, restart budget, events, orders (journal
 * and keys in its own data folder) and screen. No HTTP here: the one app's controllers reach each gateway's
 * services through the GatewayRouter, so that one gateway's faults never touch another's state.
 */
@Module({})
export class GatewayUnitModule {
  static forRoot(runtime: GatewayUnitRuntime): DynamicModule {
    return {
      module: GatewayUnitModule,
      imports: [
        UnitRuntimeModule.forRoot(runtime),
        ConnectionModule,
        HealthModule,
        GatewayModule.forRoot(runtime.gateway),
        ContractsModule,
        AccountModule,
        ScannerModule,
        NewsModule,
        MarketDataModule,
        OrdersModule,
      ],
      providers: [GatewayVncTarget, GatewayEventBridge],
    };
  }
}

/** How long the managed accounts learned from a gateway are trusted before they are asked again. */
const ACCOUNTS_TTL_MS = 60_000;

/** Builds one gateway's services (its session starts connecting) and the unit the router hands out. */
export async function startGatewayUnit(
  plan: GatewayPlan,
  runtime: GatewayUnitRuntime,
): Promise<GatewayUnit & { close(): Promise<void> }> {
  // With several gateways, each one's log lines name it: its services are built (and called) in its context.
  const tagged = runtime.namedInLogs;
  const build = async () =>
    NestFactory.createApplicationContext(GatewayUnitModule.forRoot(runtime), {
      logger: runtime.logger,
      abortOnError: false,
    });
  const context: INestApplicationContext = tagged ? await runForGateway(plan.name, build) : await build();
  const connection = context.get(ConnectionService);
  const repository = context.get(AccountRepository);
  const tracker = context.get(OrderTracker);
  const keys = context.get(IdempotencyKeyRepository);
  const services = new Map<Type, unknown>();
  let known: { accounts: readonly string[]; at: number } = { accounts: [], at: 0 };
  return {
    name: plan.name,
    required: plan.required,
    config: plan.config,
    gateway: runtime.gateway,
    get: <T>(type: Type<T>): T => {
      // Every call of an operation asks: Nest's lookup walks the modules, a map does not.
      const cached = services.get(type);
      if (cached !== undefined) return cached as T;
      const built = context.get(type);
      const service =
        tagged && typeof built === 'object' && built !== null ? inGatewayLogContext(built, plan.name) : built;
      services.set(type, service);
      return service;
    },
    accounts: async () => {
      const fresh = known.accounts.length > 0 && runtime.clock.now() - known.at < ACCOUNTS_TTL_MS;
      if (fresh || !connection.isConnected) return known.accounts;
      try {
        known = { accounts: await repository.managedAccounts(), at: runtime.clock.now() };
      } catch {
        // the session went away meanwhile: the accounts last learned still say where an order belongs
      }
      return known.accounts;
    },
    condition: () => ({
      health: context.get(HealthService).status().state,
      connected: connection.isConnected,
    }),
    knowsOrder: ({ orderId, idempotencyKey }) =>
      (orderId !== undefined && tracker.get(orderId) !== undefined) ||
      (idempotencyKey !== undefined && keys.find(idempotencyKey) !== undefined),
    close: async () => context.close(),
  };
}
