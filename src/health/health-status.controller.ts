import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import type { z } from 'zod';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import { GetHealthEventsInput, GetHealthStatusInput, HealthEvents, HealthStatus } from './health.schemas';
import { HealthService } from './health.service';

/** The supervisor's own view of its health: state, watchdog, recovery ladder, and the event history. */
@ApiTags('health')
@McpController('health')
export class HealthStatusController {
  constructor(private readonly router: GatewayRouter) {}

  private health(input: GatewayChoice): HealthService {
    return this.router.named(input).get(HealthService);
  }

  @Operation({
    name: 'get_health_status',
    summary: 'Get the health of the gateway, the API session and market data',
    description:
      "One state that says what is true (data-flowing, stale, recovering, market-closed, login-failed, circuit-open, ...) and why; the probe's last tick age; whether its market is open and when it opens next; the recovery ladder's rung; restarts in the last hour and the circuit breaker.",
    path: 'status',
    input: GetHealthStatusInput,
    output: HealthStatus,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  getHealthStatus(
    @Input(GetHealthStatusInput) input: z.infer<typeof GetHealthStatusInput>,
  ): z.infer<typeof HealthStatus> {
    return this.health(input).status();
  }

  @Operation({
    name: 'get_health_events',
    summary: 'Get the history of health transitions',
    description:
      'Every state change of the gateway, the API session, the health state, the recovery ladder and the restart circuit breaker, with time and reason, oldest first (a bounded history of the most recent ones).',
    path: 'events',
    input: GetHealthEventsInput,
    output: HealthEvents,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  getHealthEvents(
    @Input(GetHealthEventsInput) input: z.infer<typeof GetHealthEventsInput>,
  ): z.infer<typeof HealthEvents> {
    return this.health(input).history(input);
  }
}
