import { McpController } from '@rekog/mcp-nest';
import { ApiTags } from '@nestjs/swagger';
import { Input, Operation } from '../common/operation.decorator';
import { GatewayRouter, type GatewayChoice } from '../gateway/gateway-router';
import { ConnectionStatus, NoInput, ReconnectInput, ServerTime } from './connection.schemas';
import { ConnectionService } from './connection.service';
import type { z } from 'zod';

@ApiTags('connection')
@McpController('connection')
export class ConnectionController {
  constructor(private readonly router: GatewayRouter) {}

  private connection(input: GatewayChoice): ConnectionService {
    return this.router.named(input).get(ConnectionService);
  }

  @Operation({
    name: 'get_connection_status',
    summary: 'Get the IB API session status',
    description:
      'Whether the service is connected to IB Gateway over the TWS API, since when, and the last error.',
    path: 'status',
    input: NoInput,
    output: ConnectionStatus,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  getStatus(@Input(NoInput) input: z.infer<typeof NoInput>): z.infer<typeof ConnectionStatus> {
    return this.connection(input).status();
  }

  @Operation({
    name: 'reconnect',
    summary: 'Reconnect the IB API session',
    description:
      'Drops the TWS API session and opens a new one, then reports the status. Market data subscriptions are re-established by the session.',
    path: 'reconnect',
    input: ReconnectInput,
    output: ConnectionStatus,
    safety: { readOnly: false, destructive: false, idempotent: true, openWorld: false },
  })
  async reconnect(
    @Input(ReconnectInput) input: z.infer<typeof ReconnectInput>,
  ): Promise<z.infer<typeof ConnectionStatus>> {
    return this.connection(input).reconnect(input.timeoutSeconds);
  }

  @Operation({
    name: 'get_server_time',
    summary: "Get IB Gateway's current time",
    description: 'Asks the gateway for its clock: a cheap round trip that proves the session answers.',
    path: 'server-time',
    input: NoInput,
    output: ServerTime,
    safety: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  })
  async getServerTime(@Input(NoInput) input: z.infer<typeof NoInput>): Promise<z.infer<typeof ServerTime>> {
    return this.connection(input).serverTime();
  }
}
