import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';

/** Operations without parameters still reject unknown ones: a typo should not pass silently. */
export const NoInput = z.strictObject({ ...gatewayArgument });

export const ReconnectInput = z.strictObject({
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(120)
    .default(10)
    .describe('How long to wait for the new session to connect before answering'),
  ...gatewayArgument,
});

export const ConnectionStatus = z.object({
  state: z.enum(['connected', 'connecting', 'disconnected']).describe('State of the IB API session'),
  host: z.string().nullable().describe('Host the IB API session connects to (null until the gateway is up)'),
  port: z.number().int().nullable().describe('TWS API port the session connects to'),
  clientId: z
    .number()
    .int()
    .nullable()
    .describe('API client id actually in use (or being tried); differs from configuredClientId after a 326'),
  configuredClientId: z
    .number()
    .int()
    .nullable()
    .describe('API client id from the configuration (ib.clientId)'),
  clientIdCollisions: z
    .number()
    .int()
    .describe('How often IB refused a client id as already in use (326), so the next one was tried'),
  since: z.string().describe('When the session entered its current state (ISO 8601)'),
  reconnects: z.number().int().describe('How many times the session reconnected since the service started'),
  failedAttempts: z
    .number()
    .int()
    .describe('Failed connection attempts since the session was last connected'),
  backoffSeconds: z
    .number()
    .nullable()
    .describe('Wait before the next attempt (doubles per failure, up to 30 s); null when none is scheduled'),
  nextAttemptAt: z.string().nullable().describe('When the next connection attempt happens (ISO 8601)'),
  waitingFor: z
    .string()
    .nullable()
    .describe('Why the session is not trying to connect (e.g. the gateway is not logged in yet)'),
  lastError: z
    .object({ code: z.number().int(), message: z.string(), at: z.string() })
    .nullable()
    .describe('The last error IB or the client reported, if any'),
});

export const ServerTime = z.object({
  epochSeconds: z.number().int().describe("The gateway's clock, seconds since 1970-01-01 UTC"),
  iso: z.string().describe("The gateway's clock as an ISO 8601 string"),
});
