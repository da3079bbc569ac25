import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { ConnectionService } from '../connection/connection.service';
import { GatewayService } from '../gateway/gateway.service';

/**
 * Liveness (the process answers) and readiness (the gateway is logged in and the IB API session is
 * connected), for orchestrators. The full picture is get_health_status.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly connection: ConnectionService,
    private readonly gateway: GatewayService,
  ) {}

  @Get()
  @HealthCheck()
  async live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  async ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => {
        const indicator = this.indicators.check('gateway');
        const status = this.gateway.status();
        return this.gateway.state === 'logged-in'
          ? indicator.up({ state: status.state, since: status.since })
          : indicator.down({ state: status.state, since: status.since, reason: status.reason });
      },
      () => {
        const indicator = this.indicators.check('ibSession');
        const status = this.connection.status();
        return this.connection.isConnected
          ? indicator.up({ since: status.since, clientId: status.clientId })
          : indicator.down({ state: status.state, since: status.since });
      },
    ]);
  }
}
