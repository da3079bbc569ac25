import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import {
  Logger,
  type DynamicModule,
  type INestApplication,
  type LoggerService,
  type Type,
} from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { redactingLoggerOptions } from './common/redacting-logger';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { MCP_STRATEGY, type McpStrategy } from '@rekog/mcp-nest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { AppModule } from './app.module';
import { SERVICE_VERSION } from './config/config.tokens';
import { systemClock, type Clock } from './common/clock';
import { serveFastRoutes, type FastRoute } from './common/fast-route';
import { MetricsRegistry } from './common/metrics';
import { QuietStartupLogger } from './common/quiet-startup-logger';
import { Redactor, REDACTOR } from './common/redactor';
import { gatewayKind, usesSimulator, type AppConfig } from './config/config.schema';
import { installHttpSecurity } from './security/http-security';
import { MAX_URL_LENGTH } from './security/request-shape';
import { createGatewayService } from './gateway/gateway.module';
import { GatewayRouter, type GatewayUnit } from './gateway/gateway-router';
import { dataGatewayName, gatewayPlans, type GatewayPlan } from './config/gateway-plans';
import { startGatewayUnit } from './gateway-unit.module';
import type { StartupPhase } from './gateway/container-gateway-runtime';
import { claimSupervisor } from './gateway/supervisor-lock';
import type { GatewayLog, GatewayService } from './gateway/gateway.service';
import { EventHub } from './events/event-hub';
import { QuoteRoute } from './market-data/quote.route';
import { AccountReadRoutes } from './account/account-reads.route';
import { IbGatewaySimulator } from './simulator/simulator';

export interface RunningService {
  mode: 'simulator' | 'gateway';
  urls: { base: string; docs: string; mcp: string; vnc: string | undefined; health: string; metrics: string };
  app: INestApplication;
  /** The first gateway's in-process simulator, when it is one. */
  simulator: IbGatewaySimulator | undefined;
  /** The first gateway's lifecycle: the container with credentials, the address, else the simulator. */
  gateway: GatewayService;
  /** Every gateway, in the order of the configuration. */
  gateways: RunningGateway[];
  /** One of a gateway's own services (its IbSession, OrdersService, ...): the first gateway's unless named. */
  get<T>(type: Type<T>, gateway?: string): T;
  close(): Promise<void>;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('ib-gateway-supervisor')
    .setDescription(
      'IB Gateway kept healthy, as a REST API. Every operation here is also an MCP tool of the same name at /mcp. ' +
        "The gateway's screen (login dialogs, 2FA prompts) is at [/vnc](/vnc). When an API token is configured, " +
        'send it as `Authorization: Bearer <token>` (the Authorize button), or open `/docs?token=<token>` once in a browser.',
    )
    .setVersion(SERVICE_VERSION)
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'security.apiToken or security.readOnlyToken',
    })
    .addSecurityRequirements('bearer')
    .build();
  return SwaggerModule.createDocument(app, config);
}

const DEBUG_LEVELS = new Set(['debug', 'trace']);

/**
 * Creates the Nest app for `rootModule` and serves it on one port with both faces: REST (+ Swagger at
 * /docs, /docs-json) and MCP (streamable HTTP at /mcp), with `fastRoutes` answering from memory in front.
 */
export async function listenWithBothFaces(
  rootModule: DynamicModule,
  config: Pick<AppConfig, 'host' | 'port' | 'logLevel'>,
  fastRoutes: (app: INestApplication) => FastRoute[] = () => [],
): Promise<INestApplication> {
  // The body parser is installHttpSecurity's (JSON only, errors answered as 413/415/400), not Nest's.
  const app = await NestFactory.create(rootModule, { bufferLogs: true, bodyParser: false });
  try {
    app.useLogger(app.get(QuietStartupLogger));
    const securityLayers = installHttpSecurity(app); // before Swagger and MCP mount routes: it guards them too
    SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
    const mcp = app.get<McpStrategy>(MCP_STRATEGY);
    mcp.setHttpAdapter(app.getHttpAdapter());
    // inheritAppConfig: the global exception filter and metrics interceptor must also see MCP tool calls.
    app.connectMicroservice({ strategy: mcp }, { inheritAppConfig: true });
    await app.startAllMicroservices(); // mounts /mcp; must precede listen()
    const routes = fastRoutes(app);
    if (routes.length > 0) {
      serveFastRoutes(app.getHttpServer() as Server, {
        layers: securityLayers,
        routes,
        metrics: app.get(MetricsRegistry, { strict: false }),
        logger: new Logger('FastRoutes'),
        debug: DEBUG_LEVELS.has(config.logLevel),
        redactor: app.get<Redactor>(REDACTOR, { strict: false }),
        maxUrlLength: MAX_URL_LENGTH,
      });
    }
    await app.listen(config.port, config.host);
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

/** How startService runs; every field is optional. */
export interface StartOptions {
  /** Where log lines go; stdout unless given. */
  logDestination?: DestinationStream;
  /**
   * A simulator that is already running, for the first gateway (tests: a supervisor restart against the same
   * simulator). It is left running on close; without it, simulator mode starts and stops its own.
   */
  simulator?: IbGatewaySimulator;
  /** Gateway mode: extra container labels (tests mark their containers) and extra image settings (no secrets). */
  gatewayContainer?: { labels?: Record<string, string>; env?: Record<string, string> };
}

/** Human-readable log lines for an interactive terminal (secrets are scrubbed before they reach it). */
function terminalLogStream(): DestinationStream {
  return pretty({
    colorize: true,
    sync: true,
    messageFormat: '{if gateway}[{gateway}] {end}[{context}] {msg}',
    // The gateway is in the message already.
    ignore: 'pid,hostname,context,gateway',
    translateTime: 'SYS:HH:MM:ss.l',
  });
}

/**
 * The gateway's own log lines before (and beside) the Nest app: pino, same level, destination and scrubbing;
 * with several gateways, each line names its gateway.
 */
function gatewayLog(
  config: AppConfig,
  destination: DestinationStream | undefined,
  named: boolean,
): GatewayLog {
  const redactor = Redactor.fromConfig(config);
  const logger = pino(
    { level: config.logLevel, hooks: { streamWrite: (line) => redactor.redact(line) } },
    destination ?? pino.destination(1),
  ).child({ context: 'GatewayService', ...(named ? { gateway: config.gateway.name } : {}) });
  return {
    info: (message) => logger.info(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error(message),
    debug: (message) => logger.debug(message),
  };
}

/** One gateway as it runs: its services, and the in-process simulator when it is one. */
export interface RunningGateway {
  name: string;
  gateway: GatewayService;
  simulator: IbGatewaySimulator | undefined;
  unit: GatewayUnit;
}

/** Accounts of an in-process simulator in a gateways list: each its own, so that routing by account works. */
function simulatorAccounts(plan: GatewayPlan, index: number, listed: boolean): string[] | undefined {
  if (!listed) return undefined; // the simulator's own default
  return [`${plan.config.ib.tradingMode === 'live' ? 'U' : 'DU'}${1234567 + index}`];
}

/**
 * Starts one gateway (its simulator, container or address) and then its services. `cleanup` collects what
 * to undo when the start fails.
 */
async function startGateway(
  plan: GatewayPlan,
  index: number,
  context: {
    config: AppConfig;
    options: StartOptions;
    logDestination: DestinationStream | undefined;
    clock: Clock;
    metrics: MetricsRegistry;
    events: EventHub;
    logger: LoggerService;
    startup: StartupPhase;
    cleanup: Array<() => Promise<void>>;
  },
): Promise<RunningGateway> {
  const { options, clock, startup, cleanup } = context;
  const listed = context.config.gateways.length > 0;
  const given = index === 0 ? options.simulator : undefined;
  let simulator: IbGatewaySimulator | undefined;
  if (gatewayKind(plan.config) === 'simulator') {
    const accounts = simulatorAccounts(plan, index, listed);
    simulator =
      given ??
      new IbGatewaySimulator({
        port: plan.config.simulator.port,
        seed: plan.config.simulator.seed,
        vnc: { port: 0, password: plan.config.gateway.vncPassword },
        ...(accounts ? { accounts } : {}),
      });
    if (simulator !== given) {
      const owned = simulator;
      await owned.start();
      cleanup.push(async () => owned.stop());
    }
  }
  const gateway = createGatewayService(plan.config, {
    simulator,
    log: gatewayLog(plan.config, context.logDestination, listed),
    clock,
    containerLabels: options.gatewayContainer?.labels,
    containerEnv: options.gatewayContainer?.env,
    startup,
  });
  cleanup.push(async () => gateway.shutdown());
  await gateway.start();
  const endpoint = gateway.apiEndpoint();
  if (!endpoint) throw new Error(`The gateway ${plan.name} started without an API port`);
  const unit = await startGatewayUnit(plan, {
    config: plan.config,
    // Until the connection follows gateway.apiTarget(), it connects here and retries until the gateway logs in.
    ibApiTarget: { ...endpoint, clientId: plan.config.ib.clientId },
    gateway,
    clock,
    metrics: context.metrics,
    events: context.events,
    namedInLogs: listed,
    logger: context.logger,
  });
  // Closing the services first: GatewayService stops (or, with keepRunning, leaves) the gateway on shutdown.
  cleanup.push(async () => unit.close());
  return { name: plan.name, gateway, simulator, unit };
}

/**
 * Starts the service. Without credentials: the in-process simulator is the gateway. With credentials: the
 * gateway container is adopted or created (the image pulled with progress if missing) before the app, so that
 * Docker, image and port problems stop the start with a clear message. Then the Nest app with REST, Swagger
 * and MCP. Before any of that, the HTTP port is bound and the data dir (and container name) locked: a second
 * supervisor is refused (SupervisorConflictError, naming the one that runs) without touching anything.
 */
export async function startService(config: AppConfig, options: StartOptions = {}): Promise<RunningService> {
  // A person at a terminal reads lines, a log collector reads JSON.
  const logDestination = options.logDestination ?? (process.stdout.isTTY ? terminalLogStream() : undefined);
  const plans = gatewayPlans(config);
  // One supervisor per HTTP port, data dir and gateway container: settled before Docker, IB or the data dir's
  // state is touched, so that a second start is refused without side effects (naming the one that runs).
  const claim = await claimSupervisor({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    containerNames: plans
      .filter((plan) => gatewayKind(plan.config) === 'container')
      .map((plan) => plan.config.gateway.containerName),
  });
  // Until the app listens, a failed start stops only a container this run started, never an adopted one.
  const startup = { complete: false };
  // What a failed start (or close) undoes, newest first.
  const cleanup: Array<() => Promise<void>> = [];
  const undo = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  };
  // One clock for the gateways (restart budget, backoff) and their services (watchdog, ladder, pacing, orders).
  const clock = systemClock;
  const metrics = new MetricsRegistry();
  // One hub for every gateway's events: a client subscribes once, whichever gateway they come from.
  const events = new EventHub(clock);
  let gateways: RunningGateway[];
  let app: INestApplication;
  try {
    // The app's logger, made before the gateways' services so that they log through it from the start.
    const loggerParams = redactingLoggerOptions(config.logLevel, Redactor.fromConfig(config), logDestination);
    const logger = new QuietStartupLogger(new PinoLogger(loggerParams), loggerParams);
    const starting = { config, options, logDestination, clock, metrics, events, logger, startup, cleanup };
    // The gateways start side by side: a container's start must not wait for another's.
    const results = await Promise.allSettled(
      plans.map(async (plan, index) => startGateway(plan, index, starting)),
    );
    const failed = results.findIndex((result) => result.status === 'rejected');
    if (failed >= 0) {
      const reason = (results[failed] as PromiseRejectedResult).reason as unknown;
      if (plans.length > 1 && reason instanceof Error)
        reason.message = `gateway ${plans[failed]?.name}: ${reason.message}`;
      throw reason;
    }
    gateways = results.map((result) => (result as PromiseFulfilledResult<RunningGateway>).value);
    const router = new GatewayRouter(
      gateways.map((each) => each.unit),
      dataGatewayName(config, plans),
    );
    const appModule = AppModule.forRoot({
      config,
      router,
      metrics,
      clock,
      events,
      ...(logDestination ? { logDestination } : {}),
    });
    // The app binds the port just reserved (the same one when 0 was asked).
    await claim.releasePort();
    app = await listenWithBothFaces(appModule, { ...config, port: claim.port }, (nest) => [
      nest.get(QuoteRoute, { strict: false }),
      ...nest.get(AccountReadRoutes, { strict: false }).routes,
    ]);
    startup.complete = true;
  } catch (error) {
    await undo();
    await claim.release();
    throw error;
  }
  const [first] = gateways;
  if (first === undefined) throw new Error('No gateway to supervise');
  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`;
  const running = app;
  const screens = plans.some(
    (plan) => gatewayKind(plan.config) === 'simulator' || plan.config.gateway.vncPassword !== undefined,
  );
  return {
    mode: plans.every((plan) => usesSimulator(plan.config)) ? 'simulator' : 'gateway',
    urls: {
      base,
      docs: `${base}/docs`,
      mcp: `${base}/mcp`,
      vnc: screens ? `${base}/vnc` : undefined,
      health: `${base}/health`,
      metrics: `${base}/metrics`,
    },
    app: running,
    simulator: first.simulator,
    gateway: first.gateway,
    gateways,
    get: (type, gateway) => {
      const unit = gateway === undefined ? first.unit : gateways.find((each) => each.name === gateway)?.unit;
      if (unit === undefined) throw new Error(`No gateway is named ${gateway ?? ''}`);
      return unit.get(type);
    },
    close: async () => {
      try {
        await running.close();
        await undo(); // each gateway's services (which stop or leave its gateway), then its simulator
      } finally {
        await claim.release();
      }
    },
  };
}
