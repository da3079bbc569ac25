import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { ConnectionService } from '../connection/connection.service';
import { GatewayRouter } from '../gateway/gateway-router';

/**
 * Liveness (the process answers) and readiness (every required gateway is logged in and its IB API session
 * connected), for orchestrators. The full picture is get_health_status.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly router: GatewayRouter,
  ) {}

  @Get()
  @HealthCheck()
  async live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** One indicator per required gateway, keyed by its name (`gateway` and `ibSession` with one gateway). */
  @Get('ready')
  @HealthCheck()
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.readiness();
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      // Terminus's own 503 body would be reshaped by the one error edge: say what is down, keep its details.
      const result = error.getResponse() as HealthCheckResult;
      const down = Object.entries(result.error ?? {}).map(
        ([key, value]) => `${key} ${typeof value?.['state'] === 'string' ? value['state'] : 'down'}`,
      );
      throw new DomainError('NOT_CONNECTED', `Not ready: ${down.join(', ')}`, {
        info: result.info,
        error: result.error,
        details: result.details,
      });
    }
  }

  private async readiness(): Promise<HealthCheckResult> {
    const single = this.router.units.length === 1;
    return this.health.check(
      this.router.units
        .filter((unit) => unit.required)
        .flatMap((unit) => {
          const key = (part: string) => (single ? part : `${unit.name}.${part}`);
          const connection = unit.get(ConnectionService);
          return [
            () => {
              const indicator = this.indicators.check(key('gateway'));
              const status = unit.gateway.status();
              return unit.gateway.state === 'logged-in'
                ? indicator.up({ state: status.state, since: status.since })
                : indicator.down({ state: status.state, since: status.since, reason: status.reason });
            },
            () => {
              const indicator = this.indicators.check(key('ibSession'));
              const status = connection.status();
              return connection.isConnected
                ? indicator.up({ since: status.since, clientId: status.clientId })
                : indicator.down({ state: status.state, since: status.since });
            },
          ];
        }),
    );
  }
}
