import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { MCP_STRATEGY, McpStrategy, StreamableHttpTransport } from '@rekog/mcp-nest';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { CLOCK, systemClock, type Clock } from './common/clock';
import { MetricsController, MetricsRegistry, OperationMetricsInterceptor } from './common/metrics';
import { QuietStartupLogger } from './common/quiet-startup-logger';
import { redactingLoggerOptions } from './common/redacting-logger';
import { REDACTOR, Redactor } from './common/redactor';
import type { AppConfig } from './config/config.schema';
import { APP_CONFIG, IB_API_TARGET, SERVICE_VERSION } from './config/config.tokens';
import { ConnectionModule } from './connection/connection.module';
import { ContractsModule } from './contracts/contracts.module';
import { AccountModule } from './account/account.module';
import { ScannerModule } from './scanner/scanner.module';
import type { IbApiTarget } from './connection/ib-session.repository';
import { GatewayModule } from './gateway/gateway.module';
import type { GatewayService } from './gateway/gateway.service';
import { HealthModule } from './health/health.module';
import { MarketDataModule } from './market-data/market-data.module';
import { OrdersModule } from './orders/orders.module';
import { mcpTransportSecurity } from './security/request-origin-policy';
import { SecurityModule } from './security/security.module';
import { VncModule } from './vnc/vnc.module';

export interface AppRuntime {
  config: AppConfig;
  ibApiTarget: IbApiTarget;
  /** Where log lines go; stdout unless given (tests capture them). */
  logDestination?: DestinationStream;
  /** The gateway, built and started by startService; without it GatewayModule makes an idle one. */
  gateway?: GatewayService;
  /** The service's time; the system clock unless given. */
  clock?: Clock;
}

/** Start-up facts every module may need: the validated config and where the IB session connects. */
@Global()
@Module({})
class RuntimeModule {
  static forRoot(runtime: AppRuntime): DynamicModule {
    return {
      module: RuntimeModule,
      providers: [
        { provide: APP_CONFIG, useValue: runtime.config },
        { provide: IB_API_TARGET, useValue: runtime.ibApiTarget },
        { provide: CLOCK, useValue: runtime.clock ?? systemClock },
        // The one redactor of the config's secrets: logger, gateway logs, order journal, error answers.
        { provide: REDACTOR, useValue: Redactor.fromConfig(runtime.config) },
        MetricsRegistry, // global: health and other features add their own metrics to it
      ],
      exports: [APP_CONFIG, IB_API_TARGET, CLOCK, REDACTOR, MetricsRegistry],
    };
  }
}

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
        ConnectionModule,
        HealthModule,
        SecurityModule,
        VncModule,
        GatewayModule.forRoot(runtime.gateway),
        ContractsModule,
        AccountModule,
        ScannerModule,
        MarketDataModule,
        OrdersModule,
      ],
      controllers: [MetricsController],
      providers: [
        QuietStartupLogger,
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: APP_INTERCEPTOR, useClass: OperationMetricsInterceptor },
        {
          provide: MCP_STRATEGY,
          useFactory: () =>
            new McpStrategy({
              name: 'ib-gateway-supervisor',
              version: SERVICE_VERSION,
              instructions:
                'Tools for an Interactive Brokers IB Gateway kept healthy by this service: connection health and more.',
              logging: false,
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
