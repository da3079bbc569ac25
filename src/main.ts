import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { MCP_STRATEGY, type McpStrategy } from '@rekog/mcp-nest';
import { Logger } from 'nestjs-pino';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { AppModule, SERVICE_VERSION } from './app.module';
import { usesSimulator, type AppConfig } from './config/config.schema';
import { IbGatewaySimulator } from './simulator/simulator';

export interface RunningService {
  mode: 'simulator' | 'gateway';
  urls: { base: string; docs: string; mcp: string; vnc: string | undefined; health: string; metrics: string };
  app: INestApplication;
  /** The in-process simulator, when running without credentials. */
  simulator: IbGatewaySimulator | undefined;
  close(): Promise<void>;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('ib-gateway-supervisor')
    .setDescription(
      'IB Gateway kept healthy, as a REST API. Every operation here is also an MCP tool of the same name at /mcp.',
    )
    .setVersion(SERVICE_VERSION)
    .build();
  return SwaggerModule.createDocument(app, config);
}

/**
 * Creates the Nest app for `rootModule` and serves it on one port with both faces: REST (+ Swagger at
 * /docs, /docs-json) and MCP (streamable HTTP at /mcp).
 */
export async function listenWithBothFaces(
  rootModule: DynamicModule,
  config: Pick<AppConfig, 'host' | 'port'>,
): Promise<INestApplication> {
  const app = await NestFactory.create(rootModule, { bufferLogs: true });
  try {
    app.useLogger(app.get(Logger));
    SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
    const mcp = app.get<McpStrategy>(MCP_STRATEGY);
    mcp.setHttpAdapter(app.getHttpAdapter());
    // inheritAppConfig: the global exception filter and metrics interceptor must also see MCP tool calls.
    app.connectMicroservice({ strategy: mcp }, { inheritAppConfig: true });
    await app.startAllMicroservices(); // mounts /mcp; must precede listen()
    await app.listen(config.port, config.host);
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

/** Starts the service: the IB session target (simulator for now), the Nest app, Swagger, MCP. */
export interface StartOptions {
  /** Where log lines go; stdout unless given. */
  logDestination?: DestinationStream;
  /**
   * A simulator that is already running (tests: a supervisor restart against the same simulator). It is
   * left running on close; without it, simulator mode starts and stops its own.
   */
  simulator?: IbGatewaySimulator;
}

export async function startService(config: AppConfig, options: StartOptions = {}): Promise<RunningService> {
  if (!usesSimulator(config)) {
    throw new Error(
      'Supervising a real IB Gateway container is not available in this version yet; start without credentials to use the simulator.',
    );
  }
  const ownsSimulator = options.simulator === undefined;
  const simulator =
    options.simulator ?? new IbGatewaySimulator({ port: config.simulator.port, seed: config.simulator.seed });
  const simulatorPort = ownsSimulator ? await simulator.start() : simulator.port;
  let app: INestApplication;
  try {
    app = await listenWithBothFaces(
      AppModule.forRoot({
        config,
        ibApiTarget: { host: '127.0.0.1', port: simulatorPort, clientId: config.ib.clientId },
        ...(options.logDestination ? { logDestination: options.logDestination } : {}),
      }),
      config,
    );
  } catch (error) {
    if (ownsSimulator) await simulator.stop();
    throw error;
  }
  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`;
  const running = app;
  return {
    mode: 'simulator',
    urls: {
      base,
      docs: `${base}/docs`,
      mcp: `${base}/mcp`,
      vnc: undefined,
      health: `${base}/health`,
      metrics: `${base}/metrics`,
    },
    app: running,
    simulator,
    close: async () => {
      await running.close();
      if (ownsSimulator) await simulator.stop();
    },
  };
}
