import { createServer } from 'node:net';
import { Subject, type Observable } from 'rxjs';
import { DomainError } from '../common/domain-error';
import { IMAGE_PORTS } from './ibc-log-vocabulary';
import type { ContainerFacts, DockerRepository, LogFollower } from './docker.repository';
import { SECRETS_DIR, type GatewaySecretFiles } from './gateway-secret-files';
import type { GatewayMode, GatewayRuntime, RuntimeEvent, RuntimeStatus } from './gateway-runtime';
import { IbcLogStateReader } from './ibc-log-states';

/** Labels every supervised container carries; the instance label is how a restarted supervisor finds it. */
export const INSTANCE_LABEL = 'ib-gateway-supervisor.instance';
export const MANAGED_BY_LABEL = 'ib-gateway-supervisor.managed-by';
export const MANAGED_BY = 'ib-gateway-supervisor';

/** Inside the container (the gnzsnz/ib-gateway image's interface, which the simulator image copies). */
const VNC_PORT = 5900;
/** IBC needs a moment to log out cleanly on SIGTERM; Docker kills the container after this. */
const STOP_TIMEOUT_SECONDS = 15;

/** Everything the container runtime needs to know, already validated by the config schema. */
export interface ContainerGatewaySettings {
  image: string;
  containerName: string;
  tradingMode: 'paper' | 'live';
  username: string;
  password: string;
  vncPassword: string | undefined;
  /** Host ports on 127.0.0.1; 0 picks a free one when the container is created (kept across its restarts). */
  apiPort: number;
  vncPort: number;
  readOnlyApi: boolean;
  twoFactorTimeoutAction: 'restart' | 'exit';
  reloginAfterTwoFactorTimeout: boolean;
  autoRestartTime: string | undefined;
  timeZone: string | undefined;
  javaHeapSizeMb: number | undefined;
  /** Extra labels (tests mark their containers) and extra image settings; never a secret. */
  extraLabels: Record<string, string>;
  extraEnv: Record<string, string>;
}

/**
 * Whether the supervisor has finished starting. Until it has, the runtime never stops a container it adopted
 * (it belongs to whoever started it); only one it created or started itself in this run.
 */
export interface StartupPhase {
  readonly complete: boolean;
}

export interface ContainerRuntimeLog {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

/** A free TCP port on 127.0.0.1, chosen once so that the container keeps it across restarts. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The gateway as a Docker container (gnzsnz/ib-gateway or an image with the same interface). */
export class ContainerGatewayRuntime implements GatewayRuntime {
  readonly mode: GatewayMode = 'container';
  private readonly eventSubject = new Subject<RuntimeEvent>();
  private container: ContainerFacts | undefined;
  private follower: LogFollower | undefined;
  private exitWatch: AbortController | undefined;
  private reader = new IbcLogStateReader();
  /** Bumped whenever the supervisor itself stops/restarts/detaches, so the old run's exit is not "unexpected". */
  private generation = 0;
  /** True once this run created or (re)started the container; false while it only adopted one. */
  private startedThisRun = false;

  constructor(
    private readonly settings: ContainerGatewaySettings,
    private readonly docker: DockerRepository,
    private readonly secrets: GatewaySecretFiles,
    private readonly log: ContainerRuntimeLog,
    private readonly progress: (line: string) => void,
    /** Without one, the supervisor counts as started (an app built directly, tests). */
    private readonly startup: StartupPhase = { complete: true },
  ) {}

  get events(): Observable<RuntimeEvent> {
    return this.eventSubject.asObservable();
  }

  get isRunning(): boolean {
    return this.container?.state === 'running';
  }

  private get apiContainerPort(): number {
    return IMAGE_PORTS[this.settings.tradingMode].socatPort;
  }

  async start(): Promise<'adopted' | 'started'> {
    // No secret is kept on this machine: clear what an earlier version left under the data dir. A container
    // of that version still running keeps its mounted copies (and is replaced on its next restart).
    this.secrets.removeLegacyFiles();
    await this.docker.ping();
    const mine = await this.docker.findContainers({ [INSTANCE_LABEL]: this.settings.containerName });
    const [running, ...extraRunning] = mine.filter((container) => container.state === 'running');
    for (const extra of extraRunning) {
      // Two gateways of one user would kick each other's session; keep the newest.
      this.log.warn(`Removing a second running gateway container ${extra.name} (${extra.id.slice(0, 12)})`);
      await this.docker.remove(extra.id);
    }
    if (running) {
      this.adopt(running);
      await this.watch(running);
      return 'adopted';
    }
    const env = this.containerEnv();
    const reusable = mine.find((stale) => this.isReusable(stale, env));
    for (const stale of mine) {
      if (stale === reusable) continue;
      this.log.info(
        `Removing the stopped gateway container ${stale.name} (${stale.id.slice(0, 12)}) to create it afresh`,
      );
      await this.docker.remove(stale.id);
    }
    if (reusable && (await this.startAgain(reusable))) return 'started';
    const pulled = await this.docker.ensureImage(this.settings.image, this.progress);
    if (pulled === 'pulled') this.log.info(`Pulled ${this.settings.image}`);
    const spec = await this.containerSpec();
    let container: ContainerFacts;
    try {
      container = await this.docker.createAndStart(spec);
    } finally {
      spec.files.fill(0); // the only copy of the secrets outside the container, in memory
    }
    this.startedThisRun = true;
    this.log.info(
      `Started the gateway container ${container.name} (${container.id.slice(0, 12)}) from ${container.image}; API on ${this.docker.publishedHost()}:${container.publishedPorts[this.apiContainerPort] ?? '?'}`,
    );
    await this.watch(container);
    return 'started';
  }

  /**
   * A stopped container of ours with today's settings starts again rather than being replaced: what it keeps
   * in its writable layer (the gateway's settings and, for the simulator, its broker's book) survives. False
   * when it would not start (e.g. its fixed port is taken now): it is removed and a new one created.
   */
  private async startAgain(stopped: ContainerFacts): Promise<boolean> {
    try {
      await this.putSecrets(stopped.id);
      await this.docker.start(stopped.id);
    } catch (error) {
      this.log.warn(
        `The stopped gateway container ${stopped.name} (${stopped.id.slice(0, 12)}) did not start again (${error instanceof Error ? error.message : String(error)}); creating it afresh`,
      );
      await this.docker.remove(stopped.id);
      return false;
    }
    const started = await this.docker.inspect(stopped.id);
    if (!started) return false;
    this.startedThisRun = true;
    this.log.info(
      `Started the stopped gateway container ${started.name} (${started.id.slice(0, 12)}) again: it has today's settings; API on ${this.docker.publishedHost()}:${started.publishedPorts[this.apiContainerPort] ?? '?'}`,
    );
    await this.watch(started);
    return true;
  }

  /** Same image, same settings in its environment, the fixed ports asked for, and secrets put in (not mounted). */
  private isReusable(stale: ContainerFacts, env: Record<string, string>): boolean {
    const settings = this.settings;
    if (stale.state === 'running' || stale.mountsHostFiles || stale.image !== settings.image) return false;
    const wantsVnc = settings.vncPassword !== undefined;
    if ('VNC_SERVER_PASSWORD_FILE' in stale.env !== wantsVnc) return false;
    if (Object.entries(env).some(([name, value]) => stale.env[name] !== value)) return false;
    const api = stale.publishedPorts[this.apiContainerPort];
    const vnc = stale.publishedPorts[VNC_PORT];
    if (api === undefined || (settings.apiPort !== 0 && api !== settings.apiPort)) return false;
    return !wantsVnc || (vnc !== undefined && (settings.vncPort === 0 || vnc === settings.vncPort));
  }

  async stop(): Promise<void> {
    this.unwatch();
    const container = this.container;
    if (container && !this.startedThisRun && !this.startup.complete) {
      // A failed start never stops what it only adopted (e.g. another supervisor's, or one left running).
      this.log.info(
        `Leaving the adopted gateway container ${container.name} (${container.id.slice(0, 12)}) running: this supervisor did not finish starting, and stops only containers it started itself`,
      );
      return;
    }
    if (container) {
      await this.docker.stop(container.id, STOP_TIMEOUT_SECONDS);
      this.container = (await this.docker.inspect(container.id)) ?? undefined;
    }
  }

  async restart(): Promise<void> {
    const known = this.container ? await this.docker.inspect(this.container.id) : undefined;
    if (!known) {
      // Nothing to restart (removed behind our back, or never started): create it afresh.
      this.container = undefined;
      await this.start();
      return;
    }
    this.unwatch();
    if (known.state === 'running') await this.docker.stop(known.id, STOP_TIMEOUT_SECONDS);
    if (known.mountsHostFiles) {
      // Made by an earlier version, which mounted the secret files from the data dir: they are gone (see
      // start), so this container cannot start again. A new one gets its files the current way.
      this.log.info(
        `Replacing the gateway container ${known.name}, made by an earlier version, to restart it`,
      );
      await this.docker.remove(known.id);
      this.container = undefined;
      await this.start();
      return;
    }
    // Its secret files are in its writable layer already; put again, so that it logs in with this
    // supervisor's credentials (an adopted container may hold an earlier run's).
    await this.putSecrets(known.id);
    await this.docker.start(known.id);
    this.startedThisRun = true;
    const restarted = await this.docker.inspect(known.id);
    if (!restarted)
      throw new DomainError('INTERNAL', `The gateway container ${known.name} vanished while restarting`);
    await this.watch(restarted);
  }

  async haltLogin(): Promise<void> {
    // IBC retries some failed logins by itself (a cold restart after "Unrecognized Username or Password",
    // a relogin after "Too many failed login attempts"); only a stopped container is sure not to. It is
    // kept, not removed, so its log still says what happened.
    this.unwatch();
    const container = this.container;
    if (!container) return;
    await this.docker.stop(container.id, STOP_TIMEOUT_SECONDS);
    this.container = (await this.docker.inspect(container.id)) ?? undefined;
  }

  async detach(): Promise<void> {
    this.unwatch();
    this.eventSubject.complete();
    return Promise.resolve();
  }

  apiEndpoint(): { host: string; port: number } | undefined {
    const port = this.container?.publishedPorts[this.apiContainerPort];
    // Published on the daemon's machine: this one for a local daemon (unix socket, tcp://127.0.0.1), else
    // DOCKER_HOST's host. Docker publishes on that machine's 127.0.0.1 only, so a truly remote daemon's
    // gateway is reachable from here only through a tunnel to that address (see README, "remote Docker").
    return port === undefined ? undefined : { host: this.docker.publishedHost(), port };
  }

  status(): RuntimeStatus {
    const container = this.container;
    return {
      image: container?.image ?? this.settings.image,
      container: container
        ? { id: container.id, name: container.name, state: container.state, startedAt: container.startedAt }
        : undefined,
      startedAt: container?.state === 'running' ? container.startedAt : undefined,
      ports: {
        api: container?.publishedPorts[this.apiContainerPort],
        vnc: container?.publishedPorts[VNC_PORT],
      },
      loginAttempts: this.reader.loginAttempts,
    };
  }

  async logs(lines: number): Promise<string[]> {
    const container = this.container;
    if (!container) return [];
    return this.docker.tailLogs(container.id, lines);
  }

  private adopt(container: ContainerFacts): void {
    this.log.info(
      `Adopting the running gateway container ${container.name} (${container.id.slice(0, 12)}) instead of starting a second login`,
    );
    if (container.image !== this.settings.image) {
      this.log.warn(
        `The adopted container runs ${container.image}, not the configured ${this.settings.image}; restart the gateway to switch`,
      );
    }
    if (
      container.env.TRADING_MODE !== undefined &&
      container.env.TRADING_MODE !== this.settings.tradingMode
    ) {
      this.log.warn(
        `The adopted container trades in ${container.env.TRADING_MODE} mode, not the configured ${this.settings.tradingMode}`,
      );
    }
  }

  /** Follows the current run's log (from its start, so an adopted gateway's state is rebuilt) and its exit. */
  private async watch(container: ContainerFacts): Promise<void> {
    this.unwatch();
    this.container = container;
    this.reader = new IbcLogStateReader();
    const generation = ++this.generation;
    this.follower = await this.docker.followLogs(container.id, container.startedAt, (line) => {
      this.log.debug(`[gateway] ${line}`);
      const observation = this.reader.read(line);
      if (observation && generation === this.generation)
        this.eventSubject.next({ kind: 'observed', observation });
    });
    const exitWatch = new AbortController();
    this.exitWatch = exitWatch;
    this.docker
      .waitForExit(container.id, exitWatch.signal)
      .then(async (exitCode) => {
        if (generation !== this.generation) return;
        this.container = (await this.docker.inspect(container.id)) ?? undefined;
        this.log.warn(`The gateway container ${container.name} exited with code ${exitCode}`);
        this.eventSubject.next({ kind: 'exited', exitCode });
      })
      .catch((error: unknown) => {
        if (generation === this.generation && !exitWatch.signal.aborted) {
          this.log.warn(`Lost track of the gateway container ${container.name}: ${String(error)}`);
        }
      });
  }

  private unwatch(): void {
    this.generation++;
    this.follower?.close();
    this.follower = undefined;
    this.exitWatch?.abort();
    this.exitWatch = undefined;
  }

  /** The secret files, as a tar archive for Docker (zero it once Docker has it). */
  private secretsArchive(): Buffer {
    const { password, vncPassword } = this.settings;
    return this.secrets.archive({
      tws_password: password,
      ...(vncPassword === undefined ? {} : { vnc_password: vncPassword }),
    });
  }

  private async putSecrets(id: string): Promise<void> {
    const archive = this.secretsArchive();
    try {
      await this.docker.putFiles(id, archive);
    } finally {
      archive.fill(0);
    }
  }

  /** The container's environment: settings and the paths of the secret files, never a secret. */
  private containerEnv(): Record<string, string> {
    const settings = this.settings;
    const env: Record<string, string> = {
      ...settings.extraEnv,
      TWS_USERID: settings.username,
      // The password only ever travels as a file put into the container: `docker inspect` shows this path.
      TWS_PASSWORD_FILE: `${SECRETS_DIR}/tws_password`,
      TRADING_MODE: settings.tradingMode,
      READ_ONLY_API: yesNo(settings.readOnlyApi),
      TWOFA_TIMEOUT_ACTION: settings.twoFactorTimeoutAction,
      RELOGIN_AFTER_TWOFA_TIMEOUT: yesNo(settings.reloginAfterTwoFactorTimeout),
    };
    if (settings.autoRestartTime !== undefined) env.AUTO_RESTART_TIME = settings.autoRestartTime;
    if (settings.timeZone !== undefined) {
      env.TIME_ZONE = settings.timeZone;
      env.TZ = settings.timeZone;
    }
    if (settings.javaHeapSizeMb !== undefined) env.JAVA_HEAP_SIZE = String(settings.javaHeapSizeMb);
    if (settings.vncPassword !== undefined) env.VNC_SERVER_PASSWORD_FILE = `${SECRETS_DIR}/vnc_password`;
    delete env.TWS_PASSWORD;
    delete env.VNC_SERVER_PASSWORD;
    return env;
  }

  private async containerSpec() {
    const settings = this.settings;
    const env = this.containerEnv();
    const ports: Record<number, number> = {
      [this.apiContainerPort]: settings.apiPort === 0 ? await freeLoopbackPort() : settings.apiPort,
    };
    if (settings.vncPassword !== undefined) {
      // The image starts its VNC server only with a password; without one there is nothing to publish.
      ports[VNC_PORT] = settings.vncPort === 0 ? await freeLoopbackPort() : settings.vncPort;
    }
    return {
      name: settings.containerName,
      image: settings.image,
      env,
      labels: {
        ...settings.extraLabels,
        [INSTANCE_LABEL]: settings.containerName,
        [MANAGED_BY_LABEL]: MANAGED_BY,
      },
      ports,
      files: this.secretsArchive(),
    };
  }
}
