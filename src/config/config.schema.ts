import { z } from 'zod';
import { defaultDataDir } from './state-directory';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = z.number().int().min(0).max(65535);
const positive = z.number().positive();

/**
 * Every setting of the service, validated once at start-up. Secrets (ib.password, gateway.vncPassword,
 * security.*Token) are never logged or echoed. The CLI's settings table maps each field to a flag and an
 * environment variable.
 */
export const AppConfigSchema = z
  .object({
    host: z.string().min(1),
    port,
    logLevel: z.enum(LOG_LEVELS),
    ib: z.object({
      /** IB user name; absent means "run against the built-in simulator". */
      username: z.string().min(1).optional(),
      /** IB password, read from --password-file / IBGS_PASSWORD_FILE or IBGS_PASSWORD. */
      password: z.string().min(1).optional(),
      /** Which IB account the gateway logs into. Live orders additionally need orders.allowLive. */
      tradingMode: z.enum(['paper', 'live']),
      /** API client id the service uses for its own session. */
      clientId: z.number().int().min(0).max(2147483647),
    }),
    gateway: z.object({
      /**
       * host:port of a TWS or IB Gateway run outside the supervisor (the address kind): attached to, never
       * started, stopped or restarted. Absent: the supervisor runs the gateway (container, or the simulator).
       */
      address: z
        .string()
        .regex(/^(\[[0-9a-fA-F:]+\]|[^\s:/]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7497')
        .optional(),
      image: z.string().min(1),
      /** Container name; also the instance label a restarted supervisor adopts its container by. */
      containerName: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/, 'must be a valid container name'),
      /** Leave the container running when the supervisor exits (the next start adopts it). */
      keepRunning: z.boolean(),
      /** Host ports, published on 127.0.0.1 only; 0 lets Docker pick. */
      apiPort: port,
      vncPort: port,
      readOnlyApi: z.boolean(),
      twoFactorTimeoutAction: z.enum(['restart', 'exit']),
      reloginAfterTwoFactorTimeout: z.boolean(),
      /** IBC's daily auto-restart time, e.g. "11:59 PM". */
      autoRestartTime: z.string().min(1).optional(),
      timeZone: z.string().min(1).optional(),
      javaHeapSizeMb: z.number().int().min(256).max(16384).optional(),
      /** Password of the gateway's VNC server; the service supplies it to /vnc. */
      vncPassword: z.string().min(1).optional(),
      /** How long the container may take from start to "logged in" before it counts as failed. */
      startTimeoutSeconds: positive,
    }),
    watchdog: z.object({
      /** The always-on probe subscription, as SYMBOL or SYMBOL.CURRENCY for FX (IDEALPRO). */
      probeSymbol: z.string().min(1),
      /** No tick for this long while the market is open means stale. */
      staleAfterSeconds: positive,
      /** Recovery ladder backoff: first wait, doubled per failed attempt up to the max. */
      backoffInitialSeconds: positive,
      backoffMaxSeconds: positive,
      /** Circuit breaker: container restarts allowed per rolling hour. */
      maxRestartsPerHour: z.number().int().min(0),
    }),
    orders: z.object({
      /** Orders against a live account are refused unless this is set. */
      allowLive: z.boolean(),
      /** Refuse every order operation (place, modify, cancel). */
      readOnly: z.boolean(),
      maxQuantity: positive.optional(),
      maxNotional: positive.optional(),
    }),
    /** Where durable state lives: the order audit journal and the idempotency keys. */
    dataDir: z.string().min(1),
    security: z.object({
      /** Bearer token with full access; required when host is not a loopback address. */
      apiToken: z.string().min(16, 'must be at least 16 characters').optional(),
      /** Bearer token that may only call read-only operations. */
      readOnlyToken: z.string().min(16, 'must be at least 16 characters').optional(),
      /** Origins allowed by CORS; empty means CORS stays closed. */
      corsOrigins: z.array(z.string().min(1)),
      /** HTTP requests per minute per client address. */
      rateLimitPerMinute: z.number().int().min(1),
    }),
    simulator: z.object({
      /** TWS API port of the in-process simulator; 0 picks a free one. */
      port,
      seed: z.number().int(),
    }),
  })
  .superRefine((config, context) => {
    if (config.ib.username !== undefined && config.ib.password === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['ib', 'password'],
        message: 'a password is required with a username (--password-file or IBGS_PASSWORD_FILE)',
      });
    }
    if (config.ib.password !== undefined && config.ib.username === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['ib', 'username'],
        message: 'a username is required with a password',
      });
    }
    if (config.gateway.address !== undefined && config.ib.username !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['ib', 'username'],
        message:
          'credentials are not used with --gateway-address: the gateway there is logged in by whoever runs it (give one or the other)',
      });
    }
    if (config.watchdog.backoffMaxSeconds < config.watchdog.backoffInitialSeconds) {
      context.addIssue({
        code: 'custom',
        path: ['watchdog', 'backoffMaxSeconds'],
        message: 'must not be less than watchdog.backoffInitialSeconds',
      });
    }
    if (!isLoopback(config.host) && config.security.apiToken === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['security', 'apiToken'],
        message: `an API token is required to listen on the non-loopback address ${config.host} (--api-token-file or IBGS_API_TOKEN)`,
      });
    }
  });

export type AppConfig = z.infer<typeof AppConfigSchema>;

/** The defaults of every non-secret setting; the CLI's settings table shows them in --help. */
export const CONFIG_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  logLevel: 'info',
  // Not 0 or 1: TWS's samples, ib_insync and ib_async default to those, and a user's script would take our id.
  ib: { tradingMode: 'paper', clientId: 1707 },
  gateway: {
    image: 'ghcr.io/gnzsnz/ib-gateway:stable',
    containerName: 'ib-gateway-supervisor-gateway',
    keepRunning: false,
    apiPort: 4002,
    vncPort: 5900,
    readOnlyApi: false,
    twoFactorTimeoutAction: 'restart',
    reloginAfterTwoFactorTimeout: false,
    startTimeoutSeconds: 180,
  },
  watchdog: {
    probeSymbol: 'EUR.USD',
    staleAfterSeconds: 30,
    backoffInitialSeconds: 5,
    backoffMaxSeconds: 300,
    maxRestartsPerHour: 3,
  },
  orders: { allowLive: false, readOnly: false },
  dataDir: defaultDataDir(),
  security: { corsOrigins: [], rateLimitPerMinute: 600 },
  simulator: { port: 0, seed: 42 },
} as const satisfies z.input<typeof AppConfigSchema>;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Which gateway the service supervises: one at an address run by someone else, a container it runs with
 * the user's credentials, or (neither given) the in-process simulator.
 */
export type GatewayKind = 'address' | 'container' | 'simulator';

export function gatewayKind(config: AppConfig): GatewayKind {
  if (config.gateway.address !== undefined) return 'address';
  return config.ib.username === undefined ? 'simulator' : 'container';
}

/** True when the service should run against the in-process simulator instead of a real gateway. */
export function usesSimulator(config: AppConfig): boolean {
  return gatewayKind(config) === 'simulator';
}

/** host and port of gateway.address (validated by the schema). */
export function addressOf(address: string): { host: string; port: number } {
  const split = address.lastIndexOf(':');
  return {
    host: address.slice(0, split).replace(/^\[(.*)\]$/, '$1'),
    port: Number(address.slice(split + 1)),
  };
}
