import { ApiTags } from '@nestjs/swagger';
import { McpController } from '@rekog/mcp-nest';
import type { z } from 'zod';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from './gateway-router';
import {
  GatewayList,
  GatewayLogs,
  GatewayLogsInput,
  ListGatewaysInput,
  GatewayStatus,
  NoGatewayInput,
  RestartGatewayInput,
  StartGatewayInput,
} from './gateway.schemas';
import { GatewayService } from './gateway.service';

@ApiTags('gateway')
@McpController('gateway')
export class GatewayController {
  constructor(private readonly router: GatewayRouter) {}

  private gateway(input: GatewayChoice): GatewayService {
    return this.router.named(input).gateway;
  }

  @Operation({
    name: 'list_gateways',
    summary: 'List the gateways this supervisor runs',
    description:
      'Every gateway with its name, kind (container, address, simulator), state, health, accounts and trading mode. The name is the gateway argument every other operation takes; orders and account reads also find their gateway by account.',
    path: 'list',
    input: ListGatewaysInput,
    output: GatewayList,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  async list(
    @Input(ListGatewaysInput) _input: z.infer<typeof ListGatewaysInput>,
  ): Promise<z.infer<typeof GatewayList>> {
    const gateways = await Promise.all(
      this.router.units.map(async (unit) => ({
        name: unit.name,
        kind: unit.gateway.status().mode,
        state: unit.gateway.state,
        ...unit.condition(),
        tradingMode: unit.config.ib.tradingMode,
        accounts: [...(await unit.accounts())],
        orderAccounts: unit.config.orders.accounts,
        required: unit.required,
        forData: this.router.isDataGateway(unit),
      })),
    );
    return { gateways };
  }

  @Operation({
    name: 'get_gateway_status',
    summary: 'Get the IB Gateway status',
    description:
      'Whether IB Gateway runs (Docker container or simulator), its login state and why, image, uptime, restarts, ports and the last error. Never shows a credential.',
    path: 'status',
    input: NoGatewayInput,
    output: GatewayStatus,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  getStatus(@Input(NoGatewayInput) input: z.infer<typeof NoGatewayInput>): z.infer<typeof GatewayStatus> {
    return this.gateway(input).status();
  }

  @Operation({
    name: 'get_gateway_logs',
    summary: "Get IB Gateway's recent log lines",
    description:
      "The last lines of the gateway container's log (IBC's login messages and the image's scripts), with credentials redacted.",
    path: 'logs',
    input: GatewayLogsInput,
    output: GatewayLogs,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  async getLogs(
    @Input(GatewayLogsInput) input: z.infer<typeof GatewayLogsInput>,
  ): Promise<z.infer<typeof GatewayLogs>> {
    return this.gateway(input).logs(input.lines);
  }

  @Operation({
    name: 'start_gateway',
    summary: 'Start IB Gateway',
    description:
      'Starts the gateway (or adopts its running container) and logs in to IB. Also lifts the block that a rejected login puts on automatic restarts: fix the credentials first. Does nothing if the gateway already runs.',
    path: 'start',
    input: StartGatewayInput,
    output: GatewayStatus,
    safety: { readOnly: false, destructive: false, idempotent: true, openWorld: true },
  })
  async start(
    @Input(StartGatewayInput) input: z.infer<typeof StartGatewayInput>,
  ): Promise<z.infer<typeof GatewayStatus>> {
    await this.gateway(input).start();
    await this.gateway(input).waitForOutcome(input.waitSeconds);
    return this.gateway(input).status();
  }

  @Operation({
    name: 'stop_gateway',
    summary: 'Stop IB Gateway',
    description:
      'Stops the gateway container (the IB API session, its subscriptions and open requests end). Nothing restarts it until start_gateway.',
    path: 'stop',
    input: NoGatewayInput,
    output: GatewayStatus,
    safety: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
  })
  async stop(
    @Input(NoGatewayInput) input: z.infer<typeof NoGatewayInput>,
  ): Promise<z.infer<typeof GatewayStatus>> {
    await this.gateway(input).stop();
    return this.gateway(input).status();
  }

  @Operation({
    name: 'restart_gateway',
    summary: 'Restart IB Gateway',
    description:
      'Stops and starts the gateway: a new login to IB (a real account may ask for 2FA again). The IB API session drops meanwhile. Also lifts a login block.',
    path: 'restart',
    input: RestartGatewayInput,
    output: GatewayStatus,
    safety: { readOnly: false, destructive: true, idempotent: false, openWorld: true },
  })
  async restart(
    @Input(RestartGatewayInput) input: z.infer<typeof RestartGatewayInput>,
  ): Promise<z.infer<typeof GatewayStatus>> {
    await this.gateway(input).restart(input.reason);
    await this.gateway(input).waitForOutcome(input.waitSeconds);
    return this.gateway(input).status();
  }
}
