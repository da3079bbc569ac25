import { z } from 'zod';
import { defaultDataDir } from './state-directory';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = z.number().int().min(0).max(65535);
const positive = z.number().positive();

const gatewayName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,31}$/, 'must be 1 to 32 letters, digits, - or _ (e.g. paper, live)');
const accountId = z.string().regex(/^[A-Za-z0-9]{1,20}$/, 'must be an IB account id such as DU1234567');

const IbSection = z.object({
  /** IB user name; absent means "run against the built-in simulator". */
  username: z.string().min(1).optional(),
  /** IB password, read from --password-file / IBGS_PASSWORD_FILE or IBGS_PASSWORD. */
  password: z.string().min(1).optional(),
  /** Which IB account the gateway logs into. Live orders additionally need orders.allowLive. */
  tradingMode: z.enum(['paper', 'live']),
  /** API client id the service uses for its own session. */
  clientId: z.number().int().min(0).max(2147483647),
});

const GatewaySection = z.object({
  /** The gateway's name: how operations (their `gateway` argument), events, metrics and /vnc tell it apart. */
  name: gatewayName,
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
});

const WatchdogSection = z.object({
  /** The always-on probe subscription, as SYMBOL or SYMBOL.CURRENCY for FX (IDEALPRO). */
  probeSymbol: z.string().min(1),
  /** No tick for this long while the market is open means stale. */
  staleAfterSeconds: positive,
  /** Recovery ladder backoff: first wait, doubled per failed attempt up to the max. */
  backoffInitialSeconds: positive,
  backoffMaxSeconds: positive,
  /** Circuit breaker: container restarts allowed per rolling hour. */
  maxRestartsPerHour: z.number().int().min(0),
});

const OrdersSection = z.object({
  /** Orders against a live account are refused unless this is set. */
  allowLive: z.boolean(),
  /** Refuse every order operation (place, modify, cancel). */
  readOnly: z.boolean(),
  maxQuantity: positive.optional(),
  maxNotional: positive.optional(),
  /** Only these accounts may receive orders through this gateway; empty: every account it manages. */
  accounts: z.array(accountId),
  /**
   * Place, modify, transmit and cancel only after a human's yes (MCP elicitation or an approval ticket).
   * Optional rather than defaulted: a gateway entry without it keeps the top-level value.
   */
  confirmOrders: z.boolean().optional(),
  /** How long a question or an approval ticket waits for the human's answer; default 300. */
  approvalTimeoutSeconds: positive.max(86_400).optional(),
});

/**
 * One gateway of a `gateways:` list (configuration file only): its name, whether /health/ready waits for it,
 * and its own values of the per-gateway sections; what it leaves out comes from the top-level settings.
 */
export const GatewayEntrySchema = z.strictObject({
  name: gatewayName,
  /** /health/ready is ready only when every required gateway is; default true. */
  required: z.boolean().default(true),
  ib: IbSection.partial().strict().optional(),
  gateway: GatewaySection.omit({ name: true }).partial().strict().optional(),
  watchdog: WatchdogSection.partial().strict().optional(),
  orders: OrdersSection.partial().strict().optional(),
});
export type GatewayEntry = z.infer<typeof GatewayEntrySchema>;

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
    ib: IbSection,
    gateway: GatewaySection,
    watchdog: WatchdogSection,
    orders: OrdersSection,
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
    /**
     * Several gateways in one supervisor (configuration file only): each entry's values over the top-level
     * ones. Empty: the top-level settings describe one gateway, named gateway.name.
     */
    gateways: z.array(GatewayEntrySchema),
    /** The gateway market data, contracts and the scanner go to unless an operation names one; default the first. */
    dataGateway: gatewayName.optional(),
  })
  .superRefine((config, context) => {
    checkGatewayList(config, context);
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

/**
 * The list's own rules: unique names, a data gateway that exists, and nothing at the top level that can only
 * describe one gateway (credentials, an address) beside a list.
 */
function checkGatewayList(
  config: Pick<AppConfig, 'gateways' | 'dataGateway' | 'ib' | 'gateway'>,
  context: z.RefinementCtx,
): void {
  const names = config.gateways.map((entry) => entry.name);
  names.forEach((name, index) => {
    if (names.indexOf(name) !== index) {
      context.addIssue({
        code: 'custom',
        path: ['gateways', index, 'name'],
        message: `${name} is named twice`,
      });
    }
  });
  if (config.dataGateway !== undefined && names.length > 0 && !names.includes(config.dataGateway)) {
    context.addIssue({
      code: 'custom',
      path: ['dataGateway'],
      message: `names no gateway of the list (${names.join(', ')})`,
    });
  }
  if (names.length === 0) return;
  const singleOnly = [
    ['ib', 'username', config.ib.username],
    ['gateway', 'address', config.gateway.address],
  ] as const;
  for (const [section, key, value] of singleOnly) {
    if (value === undefined) continue;
    context.addIssue({
      code: 'custom',
      path: [section, key],
      message: `describes one gateway: with a gateways list, give it in each gateway's entry instead`,
    });
  }
}

/** The defaults of every non-secret setting; the CLI's settings table shows them in --help. */
export const CONFIG_DEFAULTS = {
  host: '127.0.0.1',
  port: 8000,
  logLevel: 'info',
  // Not 0 or 1: TWS's samples, ib_insync and ib_async default to those, and a user's script would take our id.
  ib: { tradingMode: 'paper', clientId: 1707 },
  gateway: {
    name: 'default',
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
  orders: {
    allowLive: false,
    readOnly: false,
    accounts: [],
    confirmOrders: false,
    approvalTimeoutSeconds: 300,
  },
  dataDir: defaultDataDir(),
  security: { corsOrigins: [], rateLimitPerMinute: 600 },
  simulator: { port: 0, seed: 42 },
  gateways: [],
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
