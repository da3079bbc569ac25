import Docker from 'dockerode';
import { PassThrough, Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { DomainError } from '../common/domain-error';
import { mountsHostFiles, parseEnv, parsePorts, publishedHostOf } from './docker-facts';

/** What the supervisor asks Docker to run: one container, ports on 127.0.0.1 only, nothing mounted. */
export interface ContainerSpec {
  name: string;
  image: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Container port (e.g. 4004) → host port on 127.0.0.1; 0 lets Docker pick. */
  ports: Record<number, number>;
  /**
   * A tar archive unpacked at "/" in the created container before it first starts (the secret files): it
   * lives in the container's writable layer, so restarts keep it, and the daemon may be on another machine.
   */
  files: Buffer;
}

export type ContainerRunState =
  'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerFacts {
  id: string;
  name: string;
  image: string;
  state: ContainerRunState;
  /** When the current (or last) run started; undefined if it never ran. */
  startedAt: Date | undefined;
  exitCode: number;
  labels: Record<string, string>;
  env: Record<string, string>;
  /** Container port → host port on 127.0.0.1, for the ports that are published. */
  publishedPorts: Record<number, number>;
  /** True for a container that mounts files of the daemon's machine (earlier versions mounted its secrets). */
  mountsHostFiles: boolean;
}

export interface LogFollower {
  /** Resolves when the stream ends (the container stopped) or {@link close} was called. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Layer progress is reported at most this often per layer, so a pull does not flood the terminal. */
const PROGRESS_INTERVAL_MS = 1000;

const HOW_TO_START_DOCKER =
  'Start the Docker daemon (Docker Desktop, `sudo systemctl start docker`, or `dockerd &`) and check that ' +
  '`docker info` works for this user (or set DOCKER_HOST)';

interface DockerApiError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
}

function asDockerError(error: unknown): DockerApiError {
  return typeof error === 'object' && error !== null ? error : { message: String(error) };
}

function dockerMessage(error: unknown): string {
  const details = asDockerError(error);
  return details.json?.message ?? details.message ?? String(error);
}

/** Errors of the socket itself (no daemon, no permission), as opposed to answers of the daemon. */
function unreachable(error: unknown): DomainError | undefined {
  const { code, statusCode } = asDockerError(error);
  if (statusCode !== undefined) return undefined;
  if (code === 'EACCES' || code === 'EPERM') {
    return new DomainError(
      'NOT_CONNECTED',
      'Docker is running but this user may not use it (permission denied on the Docker socket): add the user to the "docker" group or run the supervisor as a user that can run `docker info`',
      { dependency: 'docker' },
    );
  }
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') {
    return new DomainError('NOT_CONNECTED', `Docker is not reachable (${code}). ${HOW_TO_START_DOCKER}`, {
      dependency: 'docker',
    });
  }
  return undefined;
}

/** A host port Docker could not bind, from its error text ("Bind for 127.0.0.1:4002 failed", "127.0.0.1:4002: bind"). */
function takenPort(message: string): number | undefined {
  if (!/port is already allocated|address already in use/i.test(message)) return undefined;
  const match = /(?:127\.0\.0\.1|0\.0\.0\.0|\[::\]|::):(\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/** Splits a multiplexed (non-TTY) Docker log stream into lines of stdout and stderr. */
async function demuxLines(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onLine: (line: string) => void,
): Promise<void> {
  const out = new PassThrough();
  const err = new PassThrough();
  docker.modem.demuxStream(stream, out, err);
  const done = [out, err].map(
    async (channel) =>
      new Promise<void>((resolve) => {
        const lines = createInterface({ input: channel, crlfDelay: Infinity });
        lines.on('line', onLine);
        lines.on('close', resolve);
      }),
  );
  const finish = () => {
    out.end();
    err.end();
  };
  stream.on('end', finish);
  stream.on('close', finish);
  stream.on('error', finish);
  return Promise.all(done).then(() => undefined);
}

/**
 * The only place that talks to Docker (through dockerode): images, containers, logs. Its errors are
 * DomainErrors that say what to do: Docker not running, image not available, port taken.
 */
export class DockerRepository {
  constructor(private readonly docker: Docker = new Docker()) {}

  /** The daemon's machine, where the published ports are: 127.0.0.1 for a local daemon. */
  publishedHost(): string {
    return publishedHostOf(this.docker.modem as { host?: unknown });
  }

  /** Fails with a clear message when the daemon does not answer. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw (
        unreachable(error) ??
        new DomainError(
          'NOT_CONNECTED',
          `Docker did not answer: ${dockerMessage(error)}. ${HOW_TO_START_DOCKER}`,
          { dependency: 'docker' },
        )
      );
    }
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (asDockerError(error).statusCode === 404) return false;
      throw this.mapError(error, `inspect the image ${image}`);
    }
  }

  /**
   * Pulls `image`, reporting each layer's progress through `progress` (throttled per layer; every status
   * change is reported). Fails with NOT_FOUND naming the image when it cannot be pulled.
   */
  async pullImage(image: string, progress: (line: string) => void): Promise<void> {
    const lastReport = new Map<string, { status: string; at: number }>();
    const onProgress = (event: { id?: string; status?: string; progress?: string; error?: string }) => {
      if (event.error) return; // reported by the finish callback
      const status = event.status ?? '';
      if (!event.id) {
        progress(`${image}: ${status}`);
        return;
      }
      const now = Date.now();
      const previous = lastReport.get(event.id);
      if (previous && previous.status === status && now - previous.at < PROGRESS_INTERVAL_MS) return;
      lastReport.set(event.id, { status, at: now });
      progress(`${image}: layer ${event.id}: ${status}${event.progress ? ` ${event.progress}` : ''}`);
    };
    const cannotPull = (error: unknown) =>
      unreachable(error) ??
      new DomainError(
        'NOT_FOUND',
        `The image ${image} is not on this machine and could not be pulled: ${dockerMessage(error)}. Check the name (--image), your network and registry login (docker login), or build/pull it yourself`,
        { image },
      );
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.pull(image);
    } catch (error) {
      throw cannotPull(error);
    }
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (error: Error | null, events: { error?: string }[]) => {
          const failed = error ?? events.find((event) => event.error)?.error;
          if (failed) reject(cannotPull(failed instanceof Error ? failed : new Error(failed)));
          else resolve();
        },
        onProgress,
      );
    });
  }

  /** The image is there afterwards: present already, or pulled with progress. */
  async ensureImage(image: string, progress: (line: string) => void): Promise<'present' | 'pulled'> {
    if (await this.hasImage(image)) return 'present';
    progress(`Pulling ${image} (not on this machine yet)`);
    await this.pullImage(image, progress);
    return 'pulled';
  }

  /** Containers carrying every given label (running or not), newest first. */
  async findContainers(labels: Record<string, string>): Promise<ContainerFacts[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.docker.listContainers({
        all: true,
        filters: { label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) },
      });
    } catch (error) {
      throw this.mapError(error, 'list containers');
    }
    const facts = await Promise.all(summaries.map(async (summary) => this.inspect(summary.Id)));
    return facts
      .filter((fact): fact is ContainerFacts => fact !== undefined)
      .sort((a, b) => (b.startedAt?.getTime() ?? 0) - (a.startedAt?.getTime() ?? 0));
  }

  /** The container's facts, or undefined when it does not exist (any more). */
  async inspect(idOrName: string): Promise<ContainerFacts | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(idOrName).inspect();
    } catch (error) {
      if (asDockerError(error).statusCode === 404) return undefined;
      throw this.mapError(error, `inspect the container ${idOrName}`);
    }
    const started = info.State.StartedAt;
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config.Image,
      state: info.State.Status as ContainerRunState,
      startedAt: started && !started.startsWith('0001-') ? new Date(started) : undefined,
      exitCode: info.State.ExitCode,
      labels: info.Config.Labels ?? {},
      env: parseEnv(info.Config.Env),
      // A stopped container publishes nothing now; its bindings say what it publishes when it runs.
      publishedPorts:
        info.State.Running || info.HostConfig.PortBindings === undefined
          ? parsePorts(info.NetworkSettings.Ports)
          : parsePorts(
              info.HostConfig.PortBindings as Docker.ContainerInspectInfo['NetworkSettings']['Ports'],
            ),
      mountsHostFiles: mountsHostFiles(info),
    };
  }

  /**
   * Creates the container, puts its files in, then starts it; a port Docker cannot bind is a CONFLICT naming
   * the port. A container that could not be given its files or started is removed.
   */
  async createAndStart(spec: ContainerSpec): Promise<ContainerFacts> {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const [containerPort, hostPort] of Object.entries(spec.ports)) {
      exposed[`${containerPort}/tcp`] = {};
      bindings[`${containerPort}/tcp`] = [
        { HostIp: '127.0.0.1', HostPort: hostPort === 0 ? '' : String(hostPort) },
      ];
    }
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
        Labels: spec.labels,
        ExposedPorts: exposed,
        HostConfig: {
          PortBindings: bindings,
          // The supervisor restarts the container itself: Docker's own policy would retry a failed login forever.
          RestartPolicy: { Name: 'no' },
          // Java in the gateway needs more descriptors than some daemons allow by default.
          Ulimits: [{ Name: 'nofile', Soft: 10000, Hard: 10000 }],
        },
      });
    } catch (error) {
      if (asDockerError(error).statusCode === 409) {
        throw new DomainError(
          'CONFLICT',
          `A container named ${spec.name} already exists; remove it (docker rm -f ${spec.name}) or choose another --container-name`,
          { container: spec.name },
        );
      }
      throw this.mapError(error, `create the container ${spec.name}`);
    }
    let action = `put the secret files into the container ${spec.name}`;
    try {
      await container.putArchive(spec.files, { path: '/' });
      action = `start the container ${spec.name}`;
      await container.start();
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      throw this.mapError(error, action);
    }
    const facts = await this.inspect(container.id);
    if (!facts)
      throw new DomainError('INTERNAL', `The container ${spec.name} vanished right after it started`);
    return facts;
  }

  /** Unpacks a tar archive at "/" in a created or stopped container, whose entrypoint reads the files on start. */
  async putFiles(id: string, archive: Buffer): Promise<void> {
    try {
      await this.docker.getContainer(id).putArchive(archive, { path: '/' });
    } catch (error) {
      throw this.mapError(error, `put the secret files into the container ${id.slice(0, 12)}`);
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      if (asDockerError(error).statusCode === 304) return; // already running
      throw this.mapError(error, `start the container ${id}`);
    }
  }

  /** SIGTERM, then SIGKILL after `timeoutSeconds`. */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (error) {
      const status = asDockerError(error).statusCode;
      if (status === 304 || status === 404) return; // already stopped, or gone
      throw this.mapError(error, `stop the container ${id}`);
    }
  }

  async restart(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).restart({ t: timeoutSeconds });
    } catch (error) {
      throw this.mapError(error, `restart the container ${id}`);
    }
  }

  async kill(id: string, signal = 'SIGKILL'): Promise<void> {
    try {
      await this.docker.getContainer(id).kill({ signal });
    } catch (error) {
      const status = asDockerError(error).statusCode;
      if (status === 409 || status === 404) return; // not running, or gone
      throw this.mapError(error, `kill the container ${id}`);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true });
    } catch (error) {
      if (asDockerError(error).statusCode === 404) return;
      throw this.mapError(error, `remove the container ${id}`);
    }
  }

  /** Resolves with the exit code once the container stops (immediately if it is not running); `signal` gives up. */
  async waitForExit(id: string, signal?: AbortSignal): Promise<number> {
    try {
      const result = (await this.docker.getContainer(id).wait(signal ? { abortSignal: signal } : {})) as {
        StatusCode?: number;
      };
      return result.StatusCode ?? -1;
    } catch (error) {
      throw this.mapError(error, `wait for the container ${id}`);
    }
  }

  /** Follows the container's log (stdout and stderr) from `since` on, one call per line. */
  async followLogs(
    id: string,
    since: Date | undefined,
    onLine: (line: string) => void,
  ): Promise<LogFollower> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.getContainer(id).logs({
        follow: true,
        stdout: true,
        stderr: true,
        since: since ? Math.floor(since.getTime() / 1000) : 0,
      });
    } catch (error) {
      throw this.mapError(error, `read the log of the container ${id}`);
    }
    const ended = demuxLines(this.docker, stream, onLine);
    return {
      ended,
      close: () => (stream as Readable).destroy(),
    };
  }

  /** The last `lines` lines of the container's log (stdout and stderr interleaved as Docker stored them). */
  async tailLogs(id: string, lines: number): Promise<string[]> {
    let buffer: Buffer;
    try {
      buffer = await this.docker.getContainer(id).logs({
        follow: false,
        stdout: true,
        stderr: true,
        tail: lines,
      });
    } catch (error) {
      throw this.mapError(error, `read the log of the container ${id}`);
    }
    const collected: string[] = [];
    await demuxLines(this.docker, Readable.from([buffer]), (line) => collected.push(line));
    return collected.slice(-lines);
  }

  private mapError(error: unknown, action: string): DomainError {
    const socket = unreachable(error);
    if (socket) return socket;
    const message = dockerMessage(error);
    const port = takenPort(message);
    if (port !== undefined) {
      return new DomainError(
        'CONFLICT',
        `Port ${port} on 127.0.0.1 is already taken, so Docker could not publish the gateway on it. Stop what uses it (e.g. \`ss -ltnp 'sport = :${port}'\`) or choose another port (--gateway-api-port / --gateway-vnc-port; 0 picks a free one)`,
        { port },
      );
    }
    if (asDockerError(error).statusCode === 404) {
      return new DomainError('NOT_FOUND', `Docker could not ${action}: ${message}`);
    }
    return new DomainError('INTERNAL', `Docker could not ${action}: ${message}`);
  }
}
