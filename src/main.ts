import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger, type DynamicModule, type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { MCP_STRATEGY, type McpStrategy } from '@rekog/mcp-nest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { AppModule } from './app.module';
import { SERVICE_VERSION } from './config/config.tokens';
import { systemClock } from './common/clock';
import { serveFastRoutes, type FastRoute } from './common/fast-route';
import { MetricsRegistry } from './common/metrics';
import { QuietStartupLogger } from './common/quiet-startup-logger';
import { Redactor, REDACTOR } from './common/redactor';
import { gatewayKind, usesSimulator, type AppConfig } from './config/config.schema';
import { installHttpSecurity } from './security/http-security';
import { MAX_URL_LENGTH } from './security/request-shape';
import { createGatewayService } from './gateway/gateway.module';
import { claimSupervisor } from './gateway/supervisor-lock';
import type { GatewayLog, GatewayService } from './gateway/gateway.service';
import { QuoteRoute } from './market-data/quote.route';
import { IbGatewaySimulator } from './simulator/simulator';

export interface RunningService {
  mode: 'simulator' | 'gateway';
  urls: { base: string; docs: string; mcp: string; vnc: string | undefined; health: string; metrics: string };
  app: INestApplication;
  /** The in-process simulator, when running without credentials. */
  simulator: IbGatewaySimulator | undefined;
  /** The gateway's lifecycle: the container with credentials, else the simulator. */
  gateway: GatewayService;
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
   * A simulator that is already running (tests: a supervisor restart against the same simulator). It is
   * left running on close; without it, simulator mode starts and stops its own.
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
    ignore: 'pid,hostname,context',
    messageFormat: '[{context}] {msg}',
    translateTime: 'SYS:HH:MM:ss.l',
  });
}

/** The service's own log lines before (and beside) the Nest app: pino, same level, destination and scrubbing. */
function gatewayLog(config: AppConfig, destination: DestinationStream | undefined): GatewayLog {
  const redactor = Redactor.fromConfig(config);
  const logger = pino(
    { level: config.logLevel, hooks: { streamWrite: (line) => redactor.redact(line) } },
    destination ?? pino.destination(1),
  ).child({ context: 'GatewayService' });
  return {
    info: (message) => logger.info(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error(message),
    debug: (message) => logger.debug(message),
  };
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
  const log = gatewayLog(config, logDestination);
  const simulatorMode = usesSimulator(config);
  // One supervisor per HTTP port, data dir and gateway container: settled before Docker, IB or the data dir's
  // state is touched, so that a second start is refused without side effects (naming the one that runs).
  const claim = await claimSupervisor({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    containerName: gatewayKind(config) === 'container' ? config.gateway.containerName : undefined,
  });
  const ownsSimulator = simulatorMode && options.simulator === undefined;
  let simulator: IbGatewaySimulator | undefined;
  // Until the app listens, a failed start stops only a container this run started, never an adopted one.
  const startup = { complete: false };
  let gateway: GatewayService | undefined;
  let app: INestApplication;
  try {
    simulator = simulatorMode
      ? (options.simulator ??
        new IbGatewaySimulator({
          port: config.simulator.port,
          seed: config.simulator.seed,
          vnc: { port: 0, password: config.gateway.vncPassword },
        }))
      : undefined;
    if (simulator && ownsSimulator) await simulator.start();
    // One clock for the gateway (restart budget, backoff) and the app (watchdog, ladder, pacing, orders).
    const clock = systemClock;
    gateway = createGatewayService(config, {
      simulator,
      log,
      clock,
      containerLabels: options.gatewayContainer?.labels,
      containerEnv: options.gatewayContainer?.env,
      startup,
    });
    await gateway.start();
    const endpoint = gateway.apiEndpoint();
    if (!endpoint) throw new Error('The gateway started without an API port');
    const appModule = AppModule.forRoot({
      config,
      gateway,
      clock,
      // Until the connection follows gateway.apiTarget(), it connects here and retries until the gateway logs in.
      ibApiTarget: { ...endpoint, clientId: config.ib.clientId },
      ...(logDestination ? { logDestination } : {}),
    });
    // The app binds the port just reserved (the same one when 0 was asked).
    await claim.releasePort();
    app = await listenWithBothFaces(appModule, { ...config, port: claim.port }, (nest) => [
      nest.get(QuoteRoute, { strict: false }),
    ]);
    startup.complete = true;
  } catch (error) {
    await gateway?.shutdown().catch(() => undefined);
    if (simulator && ownsSimulator) await simulator.stop().catch(() => undefined);
    await claim.release();
    throw error;
  }
  const started = gateway;
  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`;
  const running = app;
  return {
    mode: simulatorMode ? 'simulator' : 'gateway',
    urls: {
      base,
      docs: `${base}/docs`,
      mcp: `${base}/mcp`,
      vnc: simulatorMode || config.gateway.vncPassword !== undefined ? `${base}/vnc` : undefined,
      health: `${base}/health`,
      metrics: `${base}/metrics`,
    },
    app: running,
    simulator,
    gateway: started,
    close: async () => {
      try {
        await running.close(); // GatewayService stops (or, with keepRunning, leaves) the gateway on shutdown
        await started.shutdown();
        if (simulator && ownsSimulator) await simulator.stop();
      } finally {
        await claim.release();
      }
    },
  };
}
