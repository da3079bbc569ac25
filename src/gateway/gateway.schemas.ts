import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';
import { GATEWAY_STATES } from './gateway-state';

/** Operations without parameters still reject unknown ones: a typo should not pass silently. */
export const NoGatewayInput = z.strictObject({ ...gatewayArgument });

const waitSeconds = z
  .number()
  .int()
  .min(0)
  .max(600)
  .default(0)
  .describe(
    'How long to wait for the gateway to log in (or for the login to fail) before answering; 0 answers as soon as it runs',
  );

export const StartGatewayInput = z.strictObject({ waitSeconds, ...gatewayArgument });

export const RestartGatewayInput = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .default('requested through the API')
    .describe('Why the gateway is restarted; kept in the state history'),
  waitSeconds,
  ...gatewayArgument,
});

export const GatewayLogsInput = z.strictObject({
  lines: z
    .number()
    .int()
    .min(1)
    .max(5000)
    .default(100)
    .describe('How many of the most recent log lines to return'),
  ...gatewayArgument,
});

export const GatewayStatus = z.object({
  name: z.string().describe("The gateway's name (the gateway argument of every operation)"),
  mode: z
    .enum(['simulator', 'container', 'address'])
    .describe(
      'container: IB Gateway runs in Docker, run by the supervisor; simulator: the built-in IB Gateway simulator; address: a TWS or IB Gateway run by someone else, attached to by --gateway-address',
    ),
  address: z
    .string()
    .nullable()
    .describe('host:port of the gateway the supervisor attached to (address mode), else null'),
  controls: z
    .object({
      lifecycle: z
        .boolean()
        .describe(
          'Whether start_gateway, stop_gateway and restart_gateway (and automatic restarts) act on it',
        ),
      logs: z.boolean().describe('Whether get_gateway_logs has its log'),
      vnc: z.boolean().describe('Whether /vnc can show its screen'),
    })
    .describe(
      'What the supervisor can do for this gateway: everything for its own container or the simulator; for a gateway at an address only the API session (reconnects), never its process, log or screen',
    ),
  state: z
    .enum(GATEWAY_STATES)
    .describe('What the gateway is doing, from the container state and its login log'),
  since: z.string().describe('When the gateway entered this state (ISO 8601)'),
  reason: z.string().describe('Why the gateway is in this state, in words'),
  loginBlocked: z
    .boolean()
    .describe(
      'True after IB rejected a login: the supervisor restarts nothing by itself until a human starts or restarts the gateway',
    ),
  loginAttempts: z.number().int().describe('Logins the gateway started since it last started'),
  image: z.string().nullable().describe('Docker image of the gateway container; null for the simulator'),
  container: z
    .object({
      id: z.string().describe('Container id (short form)'),
      name: z.string().describe('Container name'),
      state: z.string().describe("Docker's state of the container: running, exited, ..."),
    })
    .nullable()
    .describe('The gateway container; null for the simulator or before one exists'),
  uptimeSeconds: z
    .number()
    .int()
    .nullable()
    .describe('Seconds since the gateway last started; null when it is not running'),
  restartCount: z.number().int().describe('Restarts since the supervisor started (requested and automatic)'),
  automaticRestartsLastHour: z
    .number()
    .int()
    .describe('Restarts the supervisor did by itself in the last hour'),
  nextAutomaticRestartAt: z
    .string()
    .nullable()
    .describe('When the supervisor will restart the gateway by itself (ISO 8601); null if none is planned'),
  ports: z
    .object({
      api: z.number().int().nullable().describe('TWS API port on 127.0.0.1'),
      vnc: z.number().int().nullable().describe('VNC port on 127.0.0.1 (only with a VNC password)'),
    })
    .describe('Where the gateway listens on this machine'),
  lastError: z
    .object({ message: z.string(), at: z.string() })
    .nullable()
    .describe('The last thing that went wrong with the gateway, if anything'),
});

export const GatewayLogs = z.object({
  mode: z
    .enum(['simulator', 'container', 'address'])
    .describe('Where the lines come from (none in address mode)'),
  container: z
    .string()
    .nullable()
    .describe('Name of the container whose log this is; null for the simulator'),
  lines: z
    .array(z.string())
    .describe('The most recent log lines, oldest first, with every credential redacted'),
});

export const ListGatewaysInput = z.strictObject({});

export const GatewayListEntry = z.object({
  name: z.string().describe('What the gateway argument of every operation calls it'),
  kind: GatewayStatus.shape.mode,
  state: GatewayStatus.shape.state,
  health: z.string().describe('Its health state, as get_health_status says it'),
  connected: z.boolean().describe('Whether its IB API session is connected'),
  tradingMode: z.enum(['paper', 'live']).describe('The trading mode it is configured for'),
  accounts: z
    .array(z.string())
    .describe('The accounts it manages, as last learned from IB (empty before its first session)'),
  orderAccounts: z
    .array(z.string())
    .describe('The accounts orders may go to through it (orders.accounts); empty: every account it manages'),
  required: z.boolean().describe('Whether /health/ready waits for it'),
  forData: z
    .boolean()
    .describe('Whether market data, contracts and the scanner go to it when an operation names no gateway'),
});

export const GatewayList = z.object({
  gateways: z.array(GatewayListEntry).describe('Every gateway of this supervisor, in the configured order'),
});
