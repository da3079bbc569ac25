import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';
import { HEALTH_EVENT_CAPACITY, HEALTH_EVENT_SOURCES } from './health-events';

/** What is true about the whole chain (gateway -> API session -> market data), most important first. */
export const HEALTH_STATES = [
  'gateway-stopped',
  'starting',
  'logging-in',
  'awaiting-2fa',
  'existing-session',
  'gateway-error',
  'logged-in',
  'api-connected',
  'data-flowing',
  'stale',
  'recovering',
  'market-closed',
  'login-failed',
  'circuit-open',
  'needs-human',
] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export const GetHealthStatusInput = z.strictObject({ ...gatewayArgument });

const isoTime = z.string().describe('ISO 8601 time');

export const HealthStatus = z.object({
  state: z
    .enum(HEALTH_STATES)
    .describe(
      'The health state: gateway-stopped, starting, logging-in, awaiting-2fa (approve the IB Key prompt), existing-session, gateway-error, logged-in (API session not connected yet), api-connected (no tick yet), data-flowing, stale, recovering (the recovery ladder is acting), market-closed (no ticks expected), login-failed (no automatic restart until a human acts), circuit-open (a restart is needed but the hourly cap is spent), needs-human (a gateway attached by address needs a restart or does not answer: the supervisor cannot start it, a human must)',
    ),
  reason: z.string().describe('Why, in words'),
  since: isoTime.describe('When the service entered this state'),
  gateway: z.object({
    state: z.string().describe("The gateway's state (from the container's log or the simulator)"),
    loginBlocked: z
      .boolean()
      .describe('IB rejected the login: nothing restarts the gateway until a human does'),
  }),
  connection: z.object({
    state: z.enum(['connected', 'connecting', 'disconnected']).describe('The IB API session'),
    clientId: z.number().int().nullable().describe('API client id in use (or being tried)'),
  }),
  market: z.object({
    symbol: z.string().describe('The probe whose trading hours say whether ticks are expected'),
    open: z
      .boolean()
      .nullable()
      .describe("Open per the probe's trading hours on the gateway's clock; null if not known yet"),
    nextOpen: isoTime.nullable().describe('Start of the next trading session, when the hours list one'),
    timeZoneId: z.string().nullable().describe("The trading hours' time zone, as IB names it"),
    gatewayTime: isoTime.describe("The gateway's clock (trading hours are judged on it)"),
  }),
  probe: z.object({
    symbol: z.string().describe('The watchdog probe subscription (watchdog.probeSymbol)'),
    conId: z.number().int().nullable().describe("The probe's IB contract id, once resolved"),
    subscribed: z.boolean().describe('Whether the probe subscription is open'),
    lastTickAt: isoTime.nullable().describe('When the probe last ticked'),
    error: z.string().nullable().describe('Why the probe is not subscribed, if IB refused it'),
  }),
  lastTickAgeSeconds: z
    .number()
    .nullable()
    .describe('Seconds since the probe last ticked (null before the first tick)'),
  staleAfterSeconds: z.number().describe('No tick for this long while the market is open means stale'),
  clientStreams: z.object({
    total: z.number().int().describe('Market data streams clients hold'),
    stale: z
      .array(z.string())
      .describe('Symbols of open-market streams without a tick for staleAfterSeconds'),
  }),
  ladder: z.object({
    rung: z
      .enum(['idle', 'resubscribe', 'reconnect', 'restart', 'halted'])
      .describe('The recovery ladder: idle, the rung it last took, or halted after a rejected login'),
    since: isoTime,
    reason: z.string(),
    actions: z.number().int().describe('Actions in the current recovery episode'),
    nextStepAt: isoTime.nullable().describe('When the ladder climbs if no ticks come back'),
  }),
  restarts: z.object({
    lastHour: z.number().int().describe('Automatic gateway restarts in the last hour'),
    maxPerHour: z.number().int().describe('The cap (watchdog.maxRestartsPerHour)'),
    breaker: z.enum(['closed', 'open']).describe('open: the cap is spent and no automatic restart happens'),
    nextAllowedAt: isoTime
      .nullable()
      .describe('While open: when the next automatic restart is allowed (null when restarts are disabled)'),
  }),
});

export const GetHealthEventsInput = z.strictObject({
  limit: z
    .number()
    .int()
    .min(1)
    .max(HEALTH_EVENT_CAPACITY)
    .default(100)
    .describe(`How many of the most recent events to return (1-${HEALTH_EVENT_CAPACITY})`),
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Only events at or after this time (ISO 8601, e.g. 2026-01-05T14:00:00Z)'),
  source: z
    .enum(HEALTH_EVENT_SOURCES)
    .optional()
    .describe('Only events of this source: gateway, connection, health, ladder or breaker'),
  ...gatewayArgument,
});

export const HealthEventSchema = z.object({
  at: isoTime,
  source: z.enum(HEALTH_EVENT_SOURCES).describe('What changed state'),
  from: z.string().describe('The state before'),
  to: z.string().describe('The state after'),
  reason: z.string().describe('Why, in words'),
});

export const HealthEvents = z.object({
  events: z.array(HealthEventSchema).describe('Transitions, oldest first'),
  kept: z.number().int().describe(`Events the history holds (at most ${HEALTH_EVENT_CAPACITY})`),
  dropped: z.number().int().describe('Older events the bounded history has let go'),
});
