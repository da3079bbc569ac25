import { AppConfigSchema, CONFIG_DEFAULTS, LOG_LEVELS, type AppConfig } from './config.schema';
import { DEFAULT_DATA_DIR_TEXT } from './state-directory';

/** Dotted path of one leaf of AppConfig, e.g. 'ib.password'. */
export type SettingPath<T = AppConfig> = {
  [K in keyof T & string]-?: NonNullable<T[K]> extends readonly unknown[]
    ? K
    : NonNullable<T[K]> extends object
      ? `${K}.${SettingPath<NonNullable<T[K]>>}`
      : K;
}[keyof T & string];

/**
 * How a raw flag or environment string becomes a value. `switch` flags take no value: a boolean setting
 * becomes true, any other the row's `switchValue`; their environment variable takes the setting's own value.
 */
export type SettingType = 'string' | 'integer' | 'number' | 'boolean' | 'list';

export interface Setting {
  path: SettingPath;
  /** Commander flag syntax: '--port <port>' takes a value, '--live' is a switch. */
  flag: string;
  env: string;
  type: SettingType;
  /** The value a switch flag sets on a non-boolean setting ('--live' sets 'live'). */
  switchValue?: string;
  /** The values a string setting accepts (the schema's enum). */
  choices?: readonly string[];
  description: string;
  /**
   * A secret: `flag`/`env` name a FILE holding it; `plainFlag`/`plainEnv` carry the value itself (the flag
   * with a warning, since other processes can read a process's arguments).
   */
  secret?: { plainFlag: string; plainEnv: string };
  /** How the default reads when it depends on the machine (a path in the user's home). */
  defaultText?: string;
}

const tradingModes = AppConfigSchema.shape.ib.shape.tradingMode.options;
const twoFactorTimeoutActions = AppConfigSchema.shape.gateway.shape.twoFactorTimeoutAction.options;

/** Every setting of the service: its flag, environment variable, default and meaning. */
export const SETTINGS: readonly Setting[] = [
  {
    path: 'host',
    flag: '--host <address>',
    env: 'IBGS_HOST',
    type: 'string',
    description: 'address the HTTP server listens on; a non-loopback address requires an API token',
  },
  {
    path: 'port',
    flag: '--port <port>',
    env: 'IBGS_PORT',
    type: 'integer',
    description:
      'HTTP port of REST (/docs), MCP (/mcp), noVNC (/vnc), /health and /metrics; 0 picks a free one',
  },
  {
    path: 'logLevel',
    flag: '--log-level <level>',
    env: 'IBGS_LOG_LEVEL',
    type: 'string',
    choices: LOG_LEVELS,
    description: `log level: ${LOG_LEVELS.join(' | ')}; debug adds a line per answered HTTP request`,
  },
  {
    path: 'ib.username',
    flag: '--username <name>',
    env: 'IBGS_USERNAME',
    type: 'string',
    description: 'IB user name; without one the service runs against the built-in IB Gateway simulator',
  },
  {
    path: 'ib.password',
    flag: '--password-file <path>',
    env: 'IBGS_PASSWORD_FILE',
    type: 'string',
    description: 'file holding the IB password',
    secret: { plainFlag: '--password <password>', plainEnv: 'IBGS_PASSWORD' },
  },
  {
    path: 'ib.tradingMode',
    flag: '--live',
    env: 'IBGS_TRADING_MODE',
    type: 'string',
    switchValue: 'live',
    choices: tradingModes,
    description: `log into the live account instead of paper (IBGS_TRADING_MODE: ${tradingModes.join(' | ')}); live orders also need --allow-live-orders`,
  },
  {
    path: 'ib.clientId',
    flag: '--client-id <id>',
    env: 'IBGS_CLIENT_ID',
    type: 'integer',
    description: "API client id of the service's own IB session",
  },
  {
    path: 'gateway.name',
    flag: '--gateway-name <name>',
    env: 'IBGS_GATEWAY_NAME',
    type: 'string',
    description:
      "the gateway's name, as operations' gateway argument, events, metrics and /vnc?gateway= call it",
  },
  {
    path: 'gateway.address',
    flag: '--gateway-address <host:port>',
    env: 'IBGS_GATEWAY_ADDRESS',
    type: 'string',
    description:
      'attach to a TWS or IB Gateway that runs elsewhere (e.g. 127.0.0.1:7497 for TWS paper); nothing is started or stopped, and a restart it needs is left to a human',
  },
  {
    path: 'gateway.image',
    flag: '--image <image>',
    env: 'IBGS_IMAGE',
    type: 'string',
    description: 'IB Gateway Docker image',
  },
  {
    path: 'gateway.containerName',
    flag: '--container-name <name>',
    env: 'IBGS_CONTAINER_NAME',
    type: 'string',
    description:
      'name of the gateway container; a restarted supervisor adopts the running container of this name',
  },
  {
    path: 'gateway.keepRunning',
    flag: '--keep-gateway',
    env: 'IBGS_KEEP_GATEWAY',
    type: 'boolean',
    description: 'leave the gateway container running when the supervisor exits (the next start adopts it)',
  },
  {
    path: 'gateway.apiPort',
    flag: '--gateway-api-port <port>',
    env: 'IBGS_GATEWAY_API_PORT',
    type: 'integer',
    description: "host port (127.0.0.1 only) published for the gateway's TWS API; 0 lets Docker pick",
  },
  {
    path: 'gateway.vncPort',
    flag: '--gateway-vnc-port <port>',
    env: 'IBGS_GATEWAY_VNC_PORT',
    type: 'integer',
    description: "host port (127.0.0.1 only) published for the gateway's VNC server; 0 lets Docker pick",
  },
  {
    path: 'gateway.readOnlyApi',
    flag: '--read-only-api',
    env: 'IBGS_READ_ONLY_API',
    type: 'boolean',
    description: "set the gateway's own Read-Only API setting (IB then rejects every order)",
  },
  {
    path: 'gateway.twoFactorTimeoutAction',
    flag: '--two-factor-timeout-action <action>',
    env: 'IBGS_TWO_FACTOR_TIMEOUT_ACTION',
    type: 'string',
    choices: twoFactorTimeoutActions,
    description: `what IBC does when a 2FA prompt times out: ${twoFactorTimeoutActions.join(' | ')}`,
  },
  {
    path: 'gateway.reloginAfterTwoFactorTimeout',
    flag: '--relogin-after-two-factor-timeout',
    env: 'IBGS_RELOGIN_AFTER_TWO_FACTOR_TIMEOUT',
    type: 'boolean',
    description: 'let IBC log in again after a 2FA timeout',
  },
  {
    path: 'gateway.autoRestartTime',
    flag: '--auto-restart-time <time>',
    env: 'IBGS_AUTO_RESTART_TIME',
    type: 'string',
    description: 'time of IBC\'s daily gateway restart, e.g. "11:59 PM"',
  },
  {
    path: 'gateway.timeZone',
    flag: '--time-zone <zone>',
    env: 'IBGS_TIME_ZONE',
    type: 'string',
    description: "the gateway's time zone, e.g. America/New_York",
  },
  {
    path: 'gateway.javaHeapSizeMb',
    flag: '--java-heap-mb <mb>',
    env: 'IBGS_JAVA_HEAP_MB',
    type: 'integer',
    description: "the gateway's Java heap size in MB (256-16384)",
  },
  {
    path: 'gateway.vncPassword',
    flag: '--vnc-password-file <path>',
    env: 'IBGS_VNC_PASSWORD_FILE',
    type: 'string',
    description: "file holding the password of the gateway's VNC server",
    secret: { plainFlag: '--vnc-password <password>', plainEnv: 'IBGS_VNC_PASSWORD' },
  },
  {
    path: 'gateway.startTimeoutSeconds',
    flag: '--gateway-start-timeout <seconds>',
    env: 'IBGS_GATEWAY_START_TIMEOUT',
    type: 'number',
    description: 'how long the gateway may take from container start to logged in before it counts as failed',
  },
  {
    path: 'watchdog.probeSymbol',
    flag: '--probe-symbol <symbol>',
    env: 'IBGS_PROBE_SYMBOL',
    type: 'string',
    description: 'always-on probe subscription that shows whether data flows: SYMBOL, or BASE.QUOTE for FX',
  },
  {
    path: 'watchdog.staleAfterSeconds',
    flag: '--stale-after <seconds>',
    env: 'IBGS_STALE_AFTER',
    type: 'number',
    description: 'no tick for this long while the market is open counts as stale data',
  },
  {
    path: 'watchdog.backoffInitialSeconds',
    flag: '--backoff-initial <seconds>',
    env: 'IBGS_BACKOFF_INITIAL',
    type: 'number',
    description: 'first wait of the recovery ladder, doubled after each failed attempt',
  },
  {
    path: 'watchdog.backoffMaxSeconds',
    flag: '--backoff-max <seconds>',
    env: 'IBGS_BACKOFF_MAX',
    type: 'number',
    description: 'longest wait of the recovery ladder',
  },
  {
    path: 'watchdog.maxRestartsPerHour',
    flag: '--max-restarts-per-hour <n>',
    env: 'IBGS_MAX_RESTARTS_PER_HOUR',
    type: 'integer',
    description: 'circuit breaker: gateway container restarts allowed per rolling hour',
  },
  {
    path: 'orders.allowLive',
    flag: '--allow-live-orders',
    env: 'IBGS_ALLOW_LIVE_ORDERS',
    type: 'boolean',
    description: 'allow orders against a live account (refused otherwise)',
  },
  {
    path: 'orders.readOnly',
    flag: '--read-only',
    env: 'IBGS_READ_ONLY',
    type: 'boolean',
    description: 'refuse every order operation (place, modify, cancel)',
  },
  {
    path: 'orders.maxQuantity',
    flag: '--max-order-quantity <n>',
    env: 'IBGS_MAX_ORDER_QUANTITY',
    type: 'number',
    description: 'refuse orders for more than this quantity',
  },
  {
    path: 'orders.maxNotional',
    flag: '--max-order-notional <amount>',
    env: 'IBGS_MAX_ORDER_NOTIONAL',
    type: 'number',
    description: 'refuse orders worth more than this (quantity x price, in the contract currency)',
  },
  {
    path: 'orders.accounts',
    flag: '--order-account <account>',
    env: 'IBGS_ORDER_ACCOUNTS',
    type: 'list',
    description:
      'an account orders may go to; repeat for more (env: comma-separated); none given: every managed account',
  },
  {
    path: 'orders.confirmOrders',
    flag: '--confirm-orders',
    env: 'IBGS_CONFIRM_ORDERS',
    type: 'boolean',
    description:
      'place, modify, transmit and cancel orders only after a human says yes (MCP: asked in the tool result; REST and 2025 MCP clients: an approval ticket approved over REST)',
  },
  {
    path: 'orders.approvalTimeoutSeconds',
    flag: '--approval-timeout <seconds>',
    env: 'IBGS_APPROVAL_TIMEOUT_SECONDS',
    type: 'number',
    description: 'with --confirm-orders: how long a confirmation or approval ticket waits for the answer',
  },
  {
    path: 'dataGateway',
    flag: '--data-gateway <name>',
    env: 'IBGS_DATA_GATEWAY',
    type: 'string',
    description:
      'with a gateways list: the gateway market data, contracts and the scanner use unless an operation names one; default the first',
  },
  {
    path: 'dataDir',
    flag: '--data-dir <path>',
    env: 'IBGS_DATA_DIR',
    type: 'string',
    description:
      'directory of durable state (created 0700): the order audit journal and the idempotency keys',
    defaultText: DEFAULT_DATA_DIR_TEXT,
  },
  {
    path: 'security.apiToken',
    flag: '--api-token-file <path>',
    env: 'IBGS_API_TOKEN_FILE',
    type: 'string',
    description: 'file holding the bearer token with full access (at least 16 characters)',
    secret: { plainFlag: '--api-token <token>', plainEnv: 'IBGS_API_TOKEN' },
  },
  {
    path: 'security.readOnlyToken',
    flag: '--read-only-token-file <path>',
    env: 'IBGS_READ_ONLY_TOKEN_FILE',
    type: 'string',
    description:
      'file holding a bearer token that may only call read-only operations (at least 16 characters)',
    secret: { plainFlag: '--read-only-token <token>', plainEnv: 'IBGS_READ_ONLY_TOKEN' },
  },
  {
    path: 'security.corsOrigins',
    flag: '--cors-origin <origin>',
    env: 'IBGS_CORS_ORIGINS',
    type: 'list',
    description:
      'an origin allowed by CORS; repeat the flag for more (env: comma-separated); none by default',
  },
  {
    path: 'security.rateLimitPerMinute',
    flag: '--rate-limit <per-minute>',
    env: 'IBGS_RATE_LIMIT',
    type: 'integer',
    description: 'HTTP requests per minute per client address',
  },
  {
    path: 'simulator.port',
    flag: '--simulator-port <port>',
    env: 'IBGS_SIMULATOR_PORT',
    type: 'integer',
    description: 'TWS API port of the built-in simulator (no credentials); 0 picks a free one',
  },
  {
    path: 'simulator.seed',
    flag: '--seed <n>',
    env: 'IBGS_SEED',
    type: 'integer',
    description: "seed of the built-in simulator's market",
  },
];

/** '--port <port>' → '--port'. */
export function flagName(flag: string): string {
  return flag.split(' ')[0] ?? flag;
}

/** '--port / IBGS_PORT': how messages name a setting. */
export function settingLabel(setting: Setting): string {
  return `${flagName(setting.flag)} / ${setting.env}`;
}

/** The value at a dotted path of a config-shaped object, or undefined. */
export function valueAtPath(source: object, path: string): unknown {
  let node: unknown = source;
  for (const key of path.split('.')) {
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

/** Sets the value at a dotted path of a config-shaped object, creating the mappings on the way. */
export function setAtPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop();
  if (last === undefined) return;
  let node = target;
  for (const key of keys) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[last] = value;
}

/** The default of a setting (CONFIG_DEFAULTS), or undefined when it has none. */
export function settingDefault(setting: Setting): unknown {
  return valueAtPath(CONFIG_DEFAULTS, setting.path);
}

/** How a default reads in --help and the README; undefined when there is nothing to show. */
export function formatDefault(setting: Setting): string | undefined {
  if (setting.secret) return undefined;
  if (setting.defaultText !== undefined) return setting.defaultText;
  const value = settingDefault(setting);
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return undefined;
  return formatValue(value);
}

/** A setting's value as text: lists comma-separated. */
export function formatValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(formatValue).join(',');
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value) ?? '';
}

/** The settings as a markdown table (flag | environment variable | default | meaning), for the README. */
export function settingsMarkdownTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const rows = SETTINGS.map((setting) => {
    const flags = [setting.flag, setting.secret?.plainFlag].filter((flag) => flag !== undefined);
    const envs = [setting.env, setting.secret?.plainEnv].filter((env) => env !== undefined);
    const fallback = formatDefault(setting);
    return [
      flags.map((flag) => `\`${flag}\``).join(', '),
      envs.map((env) => `\`${env}\``).join(', '),
      fallback === undefined ? '' : `\`${fallback}\``,
      setting.secret
        ? `${setting.description}; secret: ${flagName(setting.flag)} and ${setting.env} name a file, ` +
          `${setting.secret.plainEnv} and ${flagName(setting.secret.plainFlag)} (warns: visible to other processes) take the value`
        : setting.description,
    ]
      .map(cell)
      .join(' | ');
  });
  return [
    '| Flag | Environment variable | Default | Meaning |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n');
}
