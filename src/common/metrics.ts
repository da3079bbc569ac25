import {
  Controller,
  Get,
  Header,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { tap, type Observable } from 'rxjs';
import { DomainError } from './domain-error';
import { OPERATION_NAME } from './operation.decorator';

/**
 * This service's Prometheus registry (one per service, so tests can run several in one process), shared by
 * its gateways: their metrics carry a `gateway` label.
 */
@Injectable()
export class MetricsRegistry {
  readonly registry = new Registry();
  readonly operationRequests = new Counter({
    name: 'ibgs_operation_requests_total',
    help: 'Operation calls by operation, interface (rest or mcp) and outcome (ok, error, or pending: answered with an approval ticket)',
    labelNames: ['operation', 'interface', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly operationDuration = new Histogram({
    name: 'ibgs_operation_duration_seconds',
    help: 'Operation latency by operation and interface',
    labelNames: ['operation', 'interface'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly healthEvents = new Counter({
    name: 'ibgs_health_events_total',
    help: 'Transitions of the gateway, the API session, the health state, the recovery ladder and the circuit breaker, by source and new state',
    labelNames: ['source', 'to', 'gateway'] as const,
    registers: [this.registry],
  });
  readonly healthState = new Gauge({
    name: 'ibgs_health_state',
    help: 'The health state: 1 for the current one, 0 for the others',
    labelNames: ['state', 'gateway'] as const,
    registers: [this.registry],
  });
  readonly probeTickAge = new Gauge({
    name: 'ibgs_probe_last_tick_age_seconds',
    help: 'Seconds since the watchdog probe subscription last ticked',
    labelNames: ['gateway'] as const,
    registers: [this.registry],
  });
  readonly recoveryActions = new Counter({
    name: 'ibgs_recovery_actions_total',
    help: 'Recovery ladder actions by rung (resubscribe, reconnect, restart)',
    labelNames: ['rung', 'gateway'] as const,
    registers: [this.registry],
  });
  readonly gatewayRestartsLastHour = new Gauge({
    name: 'ibgs_gateway_restarts_last_hour',
    help: 'Automatic gateway restarts (after a crash or by the recovery ladder) in the last hour',
    labelNames: ['gateway'] as const,
    registers: [this.registry],
  });
  readonly eventClients = new Gauge({
    name: 'ibgs_event_clients',
    help: 'Clients connected to /events, by transport (sse or websocket)',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly eventClientsDropped = new Counter({
    name: 'ibgs_event_clients_dropped_total',
    help: 'Clients of /events disconnected for reading too slowly, by transport',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly circuitBreakerOpen = new Gauge({
    name: 'ibgs_restart_circuit_breaker_open',
    help: '1 while the restart circuit breaker is open',
    labelNames: ['gateway'] as const,
    registers: [this.registry],
  });

  constructor() {
    // The event-loop delay monitor samples every 10 ms by default: a wake-up 100 times a second, more idle CPU
    // than all of a gateway's work (bench footprint). 100 ms still shows a stalled loop.
    collectDefaultMetrics({ register: this.registry, prefix: 'ibgs_', eventLoopMonitoringPrecision: 100 });
  }
}

/** Counts and times every operation call, REST and MCP alike (both run through Nest's pipeline). */
@Injectable()
export class OperationMetricsInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly metrics: MetricsRegistry,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const operation = this.reflector.get<string | undefined>(OPERATION_NAME, context.getHandler());
    if (operation === undefined) return next.handle();
    const face = context.getType() === 'http' ? 'rest' : 'mcp';
    const stopTimer = this.metrics.operationDuration.startTimer({ operation, interface: face });
    const record = (outcome: 'ok' | 'pending' | 'error') => {
      stopTimer();
      this.metrics.operationRequests.inc({ operation, interface: face, outcome });
    };
    // A call answered with an approval ticket (--confirm-orders) waits for a person: it did not fail.
    const outcomeOf = (error: unknown) =>
      error instanceof DomainError && error.code === 'APPROVAL_PENDING' ? 'pending' : 'error';
    return next
      .handle()
      .pipe(tap({ next: () => record('ok'), error: (error: unknown) => record(outcomeOf(error)) }));
  }
}

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsRegistry) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
