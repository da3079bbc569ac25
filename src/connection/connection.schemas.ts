import { z } from 'zod';

/** Operations without parameters still reject unknown ones: a typo should not pass silently. */
export const NoInput = z.strictObject({});

export const ReconnectInput = z.strictObject({
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(120)
    .default(10)
    .describe('How long to wait for the new session to connect before answering'),
});

export const ConnectionStatus = z.object({
  state: z.enum(['connected', 'connecting', 'disconnected']).describe('State of the IB API session'),
  host: z.string().describe('Host the IB API session connects to'),
  port: z.number().int().describe('TWS API port the session connects to'),
  clientId: z.number().int().describe('API client id of the session'),
  since: z.string().describe('When the session entered its current state (ISO 8601)'),
  reconnects: z.number().int().describe('How many times the session reconnected since the service started'),
  lastError: z
    .object({ code: z.number().int(), message: z.string(), at: z.string() })
    .nullable()
    .describe('The last error IB or the client reported, if any'),
});

export const ServerTime = z.object({
  epochSeconds: z.number().int().describe("The gateway's clock, seconds since 1970-01-01 UTC"),
  iso: z.string().describe("The gateway's clock as an ISO 8601 string"),
});
