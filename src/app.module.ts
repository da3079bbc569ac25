import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { MCP_STRATEGY, McpStrategy, StreamableHttpTransport } from '@rekog/mcp-nest';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AccountController } from './account/account.controller';
import { AccountReadRoutes } from './account/account-reads.route';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { CLOCK, systemClock, type Clock } from './common/clock';
import { MetricsController, MetricsRegistry, OperationMetricsInterceptor } from './common/metrics';
import { QuietStartupLogger } from './common/quiet-startup-logger';
import { redactingLoggerOptions } from './common/redacting-logger';
import { REDACTOR, Redactor } from './common/redactor';
import type { AppConfig } from './config/config.schema';
import { APP_CONFIG, SERVICE_VERSION } from './config/config.tokens';
import { ConnectionController } from './connection/connection.controller';
import { ContractsController } from './contracts/contracts.controller';
import { EVENT_HUB, EventHub } from './events/event-hub';
import { EventStreams } from './events/event-subscriber';
import { EventsWebsocket } from './events/events-websocket';
import { EventsController } from './events/events.controller';
import { GatewayController } from './gateway/gateway.controller';
import { GatewayRouter } from './gateway/gateway-router';
import { HealthStatusController } from './health/health-status.controller';
import { HealthController } from './health/health.controller';
import { MarketDataStreamController } from './market-data/market-data-stream.controller';
import { MarketDataController } from './market-data/market-data.controller';
import { OptionAnalyticsController } from './market-data/option-analytics.controller';
import { QuoteRoute } from './market-data/quote.route';
import { NewsController } from './news/news.controller';
import { PromptsController } from './prompts/prompts.controller';
import { ResourcesController } from './events/resources.controller';
import { ResourceUpdates } from './events/resource-updates';
import { refuseLegacyResourceSubscriptions } from './events/legacy-resource-subscriptions';
import { McpConformanceTools } from './common/mcp-conformance-tools';
import { OrderApprovalsController } from './orders/order-approvals.controller';
import { OrdersController } from './orders/orders.controller';
import { ScannerController } from './scanner/scanner.controller';
import { mcpTransportSecurity } from './security/request-origin-policy';
import { SecurityModule } from './security/security.module';
import { VncModule } from './vnc/vnc.module';

export interface AppRuntime {
  /** The top-level config: HTTP, security and logging settings; each gateway has its own beside it. */
  config: AppConfig;
  /** Every gateway's services, and how an operation picks one. */
  router: GatewayRouter;
  /** The registry the gateways already count into. */
  metrics: MetricsRegistry;
  /** Where log lines go; stdout unless given (tests capture them). */
  logDestination?: DestinationStream;
  /** The service's time; the system clock unless given. */
  clock?: Clock;
  /** The live events every gateway's services publish into; a fresh hub unless given. */
  events?: EventHub;
}

/** Start-up facts every module of the HTTP app may need. */
@Global()
@Module({})
class RuntimeModule {
  static forRoot(runtime: AppRuntime): DynamicModule {
    return {
      module: RuntimeModule,
      providers: [
        { provide: APP_CONFIG, useValue: runtime.config },
        { provide: CLOCK, useValue: runtime.clock ?? systemClock },
        // The one redactor of every gateway's secrets: logger, error answers.
        { provide: REDACTOR, useValue: Redactor.fromConfig(runtime.config) },
        { provide: MetricsRegistry, useValue: runtime.metrics },
        { provide: GatewayRouter, useValue: runtime.router },
        { provide: EVENT_HUB, useValue: runtime.events ?? new EventHub(runtime.clock ?? systemClock) },
      ],
      exports: [APP_CONFIG, CLOCK, REDACTOR, MetricsRegistry, GatewayRouter, EVENT_HUB],
    };
  }
}

/**
 * The one HTTP app: REST with Swagger, MCP, /health, /metrics and /vnc. Its controllers hold no gateway
 * state: each call goes to a gateway's own services (GatewayUnitModule) through the GatewayRouter.
 */
@Module({})
export class AppModule {
  static forRoot(runtime: AppRuntime): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(
          redactingLoggerOptions(
            runtime.config.logLevel,
            Redactor.fromConfig(runtime.config),
            runtime.logDestination,
          ),
        ),
        RuntimeModule.forRoot(runtime),
        TerminusModule.forRoot({ logger: false }),
        SecurityModule,
        VncModule,
      ],
      controllers: [
        MetricsController,
        ConnectionController,
        HealthController,
        HealthStatusController,
        GatewayController,
        ContractsController,
        AccountController,
        ScannerController,
        NewsController,
        MarketDataController,
        MarketDataStreamController,
        OptionAnalyticsController,
        OrderApprovalsController,
        OrdersController,
        PromptsController,
        EventsController,
        ResourcesController,
      ],
      providers: [
        QuietStartupLogger,
        QuoteRoute,
        AccountReadRoutes,
        McpConformanceTools,
        EventStreams,
        EventsWebsocket,
        ResourceUpdates,
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: APP_INTERCEPTOR, useClass: OperationMetricsInterceptor },
        {
          provide: MCP_STRATEGY,
          useFactory: () =>
            new McpStrategy({
              name: 'ib-gateway-supervisor',
              version: SERVICE_VERSION,
              instructions:
                'Tools for an Interactive Brokers IB Gateway kept healthy by this service (orders, account, market data, contracts, scanner, news, health); resources (ibgs://...) for the live account, orders, health and quotes, announced on subscriptions/listen when they change; prompts for placing an order safely, reviewing the portfolio, explaining a PnL and troubleshooting the gateway.',
              logging: false,
              // subscribe: resources are announced on subscriptions/listen streams (ResourceUpdates); the SDK
              // honours a stream's resourceSubscriptions only when this is advertised.
              capabilities: { resources: { subscribe: true, listChanged: true } },
              serverMutator: refuseLegacyResourceSubscriptions,
              transports: [
                new StreamableHttpTransport({
                  endpoint: '/mcp',
                  security: mcpTransportSecurity(runtime.config),
                }),
              ],
            }),
        },
      ],
    };
  }
}
