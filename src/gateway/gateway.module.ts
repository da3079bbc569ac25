import { Global, Logger, Module, type DynamicModule } from '@nestjs/common';
import { systemClock, type Clock } from '../common/clock';
import { addressOf, gatewayKind, type AppConfig } from '../config/config.schema';
import { IbGatewaySimulator } from '../simulator/simulator';
import { AddressGatewayRuntime } from './address-gateway-runtime';
import { ContainerGatewayRuntime, type StartupPhase } from './container-gateway-runtime';
import { DockerRepository } from './docker.repository';
import { GatewaySecretFiles } from './gateway-secret-files';
import { GatewayService, type GatewayLog } from './gateway.service';
import { SimulatorGatewayRuntime, type SimulatorRuntimeTimings } from './simulator-gateway-runtime';

export interface GatewayServiceOptions {
  /** Simulator mode: the in-process simulator the gateway is. Required when the config has no credentials. */
  simulator?: IbGatewaySimulator;
  simulatorTimings?: SimulatorRuntimeTimings;
  log?: GatewayLog;
  /** Image pull progress lines; the log unless given. */
  progress?: (line: string) => void;
  /** Container mode: extra labels (e.g. tests mark their containers) and extra image settings; never a secret. */
  containerLabels?: Record<string, string>;
  containerEnv?: Record<string, string>;
  docker?: DockerRepository;
  /** The service's time (restart backoff and budget, start timeout); the system clock unless given. */
  clock?: Clock;
  /**
   * Container mode: until `complete`, a failed start leaves an adopted container running (it stops only one it
   * started itself). Without it the supervisor counts as started.
   */
  startup?: StartupPhase;
}

function nestLog(): GatewayLog {
  const logger = new Logger('GatewayService');
  return {
    info: (message) => logger.log(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error(message),
    debug: (message) => logger.debug(message),
  };
}

/**
 * The gateway service for a config: attached to an address, the container runtime with credentials, else the
 * simulator runtime.
 */
export function createGatewayService(config: AppConfig, options: GatewayServiceOptions = {}): GatewayService {
  const log = options.log ?? nestLog();
  const clock = options.clock ?? systemClock;
  const kind = gatewayKind(config);
  if (kind === 'address' && config.gateway.address !== undefined) {
    return new GatewayService(
      config,
      new AddressGatewayRuntime(addressOf(config.gateway.address)),
      log,
      clock,
    );
  }
  if (kind === 'simulator') {
    // Without a simulator of its own (an app built directly), an idle one stands in; it is never started.
    const simulator = options.simulator ?? new IbGatewaySimulator({ initialState: 'starting' });
    return new GatewayService(
      config,
      new SimulatorGatewayRuntime(simulator, options.simulatorTimings),
      log,
      clock,
    );
  }
  const { ib, gateway } = config;
  if (ib.username === undefined || ib.password === undefined)
    throw new Error('Container mode needs credentials');
  const runtime = new ContainerGatewayRuntime(
    {
      image: gateway.image,
      containerName: gateway.containerName,
      tradingMode: ib.tradingMode,
      username: ib.username,
      password: ib.password,
      vncPassword: gateway.vncPassword,
      apiPort: gateway.apiPort,
      vncPort: gateway.vncPort,
      readOnlyApi: gateway.readOnlyApi,
      twoFactorTimeoutAction: gateway.twoFactorTimeoutAction,
      reloginAfterTwoFactorTimeout: gateway.reloginAfterTwoFactorTimeout,
      autoRestartTime: gateway.autoRestartTime,
      timeZone: gateway.timeZone,
      javaHeapSizeMb: gateway.javaHeapSizeMb,
      extraLabels: options.containerLabels ?? {},
      extraEnv: options.containerEnv ?? {},
    },
    options.docker ?? new DockerRepository(),
    new GatewaySecretFiles(config.dataDir, gateway.containerName),
    log,
    options.progress ?? ((line) => log.info(line)),
    options.startup,
  );
  return new GatewayService(config, runtime, log, clock);
}

/**
 * One gateway's lifecycle, for its services. Global, so that connection and health can inject GatewayService.
 * main.ts builds and starts the gateway before its services (the container must exist to know its API port).
 */
@Global()
@Module({})
export class GatewayModule {
  static forRoot(gateway: GatewayService): DynamicModule {
    return {
      module: GatewayModule,
      providers: [{ provide: GatewayService, useValue: gateway }],
      exports: [GatewayService],
    };
  }
}
