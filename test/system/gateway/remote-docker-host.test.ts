import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess, containerStartArgs } from '../../support/cli-process';
import { assertDockerAvailable, docker, run } from '../../support/docker';
import { filesHolding, secretFileInContainer } from '../../support/secret-files';

/**
 * The gateway on a Docker daemon reached over TCP (DOCKER_HOST=tcp://...), as a remote Docker host is: the
 * supervisor cannot bind-mount a file of its own machine there, so the secret files are put into the created
 * container through the API. The second endpoint is this machine's daemon behind a TCP forwarder that this
 * test opens on 127.0.0.1 (node:net, in front of the daemon's unix socket): that works however the developer's
 * or CI's dockerd was started, and opens no unauthenticated Docker port beyond the test's own life (a
 * `dockerd -H tcp://127.0.0.1:2375` would give root to every local user for as long as it runs).
 *
 * The daemon's host is 127.0.0.1 here, so the published API port is on this machine; with a daemon on another
 * machine the supervisor connects to DOCKER_HOST's host instead (unit-tested in test/unit/gateway).
 */

const IMAGE = 'ib-gateway-simulator:local';
const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where this machine's daemon listens, as the docker CLI and dockerode find it. */
function localDaemon(): NetConnectOpts {
  const configured = process.env.DOCKER_HOST;
  if (configured?.startsWith('tcp://')) {
    const url = new URL(configured);
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  if (configured?.startsWith('unix://') && configured.length > 'unix://'.length) {
    return { path: configured.slice('unix://'.length) };
  }
  const desktop = join(homedir(), '.docker', 'run', 'docker.sock');
  return { path: existsSync(desktop) ? desktop : '/var/run/docker.sock' };
}

/** A TCP endpoint on 127.0.0.1 that forwards every connection, byte for byte, to the local daemon. */
class DockerTcpForwarder {
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async open(target: NetConnectOpts): Promise<DockerTcpForwarder> {
    const server = createServer({ allowHalfOpen: true });
    const forwarder = new DockerTcpForwarder(server);
    server.on('connection', (client) => {
      forwarder.connections++;
      const upstream = connect({ ...target, allowHalfOpen: true });
      for (const socket of [client, upstream]) {
        forwarder.sockets.add(socket);
        socket.on('close', () => forwarder.sockets.delete(socket));
      }
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return forwarder;
  }

  get url(): string {
    return `tcp://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface GatewayStatusBody {
  state: string;
  restartCount: number;
  container: { id: string; name: string; state: string } | null;
  ports: { api: number | null; vnc: number | null };
}

interface InspectedContainer {
  Id: string;
  Mounts: unknown[];
  Config: { Env: string[]; Cmd: string[] | null; Labels: Record<string, string> };
  HostConfig: { Binds: string[] | null; Mounts?: unknown[] | null };
}

describe('the gateway on a Docker daemon reached over TCP (a remote Docker host)', () => {
  const containerName = `ibgs-test-remote-docker-${process.pid}`;
  const directory = mkdtempSync(join(tmpdir(), 'ibgs-remote-docker-'));
  const dataDir = join(directory, 'data');
  const passwordFile = join(directory, 'ib-password');
  const vncPasswordFile = join(directory, 'vnc-password');
  // The simulator image's account accepts "demo"; the VNC password is random, so a copy of it is a leak.
  const password = 'demo';
  const vncPassword = randomBytes(4).toString('hex');
  let forwarder: DockerTcpForwarder;
  let cli: CliProcess | undefined;

  /** The docker CLI through the TCP endpoint, as for a daemon on another machine. */
  const remoteDocker = async (args: string[]) => docker(['-H', forwarder.url, ...args]);

  /** How often the container's log (stdout and stderr) says IBC logged in. */
  async function logins(): Promise<number> {
    const { stdout, stderr } = await run('docker', ['-H', forwarder.url, 'logs', containerName]);
    return (stdout + stderr).split('IBC: Login has completed').length - 1;
  }

  async function inspect(): Promise<{ text: string; details: InspectedContainer }> {
    const text = await remoteDocker(['inspect', containerName]);
    const [details] = JSON.parse(text) as [InspectedContainer];
    return { text, details };
  }

  /** Polls `probe` until it gives a value; gives up early when the supervisor exits meanwhile, if it runs. */
  async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000) {
    const running = cli !== undefined && cli.child.exitCode === null;
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline || (running && cli?.child.exitCode !== null)) {
        throw new Error(`Timed out waiting for ${what}${last ? ` (${last})` : ''}; output:\n${cli?.output}`);
      }
      await sleep(200);
    }
  }

  async function json<T>(url: string, init?: RequestInit): Promise<T> {
    const response = await fetch(url, init);
    if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  const HEALTHY = ['api-connected', 'data-flowing', 'market-closed'];

  beforeAll(async () => {
    await assertDockerAvailable();
    await docker(['rm', '-f', containerName]).catch(() => undefined);
    // Builds dist/ (npm run build) when src changed, then the image.
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    writeFileSync(vncPasswordFile, `${vncPassword}\n`, { mode: 0o600 });
    forwarder = await DockerTcpForwarder.open(localDaemon());
  }, 300_000);

  afterAll(async () => {
    if (cli && cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    await docker(['rm', '-f', containerName]).catch(() => undefined);
    await forwarder?.close();
    rmSync(directory, { recursive: true, force: true });
  }, 60_000);

  it('logs in with its secrets put into the container: no bind mount, no secret in docker inspect or on disk', async () => {
    cli = new CliProcess(containerStartArgs({ image: IMAGE, containerName, dataDir }), {
      DOCKER_HOST: forwarder.url,
      IBGS_PASSWORD_FILE: passwordFile,
      IBGS_VNC_PASSWORD_FILE: vncPasswordFile,
    });
    const [, base = ''] = await cli.waitFor(/Health\s+(http:\/\/\S+)\/health\n/);
    // The data dir is the supervisor's alone: gone, nothing the container needs goes with it.
    rmSync(dataDir, { recursive: true, force: true });
    expect(forwarder.connections).toBeGreaterThan(0); // the supervisor talked to Docker through the endpoint

    const health = await eventually(async () => {
      const status = await json<{ state: string }>(`${base}/health/status`);
      return HEALTHY.includes(status.state) ? status : undefined;
    }, 'the gateway to log in and the API session to connect');
    expect(HEALTHY).toContain(health.state);

    const { text, details } = await inspect();
    expect(details.Mounts).toEqual([]);
    expect(details.HostConfig.Binds ?? []).toEqual([]);
    expect(details.HostConfig.Mounts ?? []).toEqual([]);
    expect(text).not.toContain(vncPassword);
    expect(details.Config.Env.filter((entry) => entry.includes(password))).toEqual([]);
    expect(details.Config.Env).toEqual(
      expect.arrayContaining([
        'TWS_PASSWORD_FILE=/run/secrets/tws_password',
        'VNC_SERVER_PASSWORD_FILE=/run/secrets/vnc_password',
      ]),
    );
    const names = details.Config.Env.map((entry) => entry.split('=')[0]);
    expect(names).not.toContain('TWS_PASSWORD');
    expect(names).not.toContain('VNC_SERVER_PASSWORD');
    expect(JSON.stringify([details.Config.Cmd, details.Config.Labels])).not.toMatch(
      new RegExp(`${password}|${vncPassword}`),
    );

    const remote = ['-H', forwarder.url];
    expect(await secretFileInContainer(details.Id, '/run/secrets/tws_password', remote)).toEqual({
      content: password,
      mode: 0o400,
      uid: 1000,
      gid: 1000,
      readBy: 1000,
    });
    expect(await secretFileInContainer(details.Id, '/run/secrets/vnc_password', remote)).toMatchObject({
      content: vncPassword,
      mode: 0o400,
    });

    // The supervisor reaches the API where the daemon published it: 127.0.0.1, this daemon's host.
    const gateway = await json<GatewayStatusBody>(`${base}/gateway/status`);
    expect(gateway.container?.name).toBe(containerName);
    const published = await remoteDocker(['port', containerName, '4004/tcp']);
    expect(published.trim()).toBe(`127.0.0.1:${gateway.ports.api}`);
    const connection = await json<{ state: string; host: string; port: number }>(`${base}/connection/status`);
    expect(connection).toMatchObject({ state: 'connected', host: '127.0.0.1', port: gateway.ports.api });
    expect(existsSync(dataDir) ? filesHolding(dataDir, [vncPassword]) : []).toEqual([]);
    expect(existsSync(join(dataDir, 'gateway-secrets'))).toBe(false);
  }, 180_000);

  it('restarts the same container without the data dir, and a plain docker start keeps its files too', async () => {
    if (!cli) throw new Error('the first test did not start the supervisor');
    const base = (cli.output.match(/Health\s+(http:\/\/\S+)\/health\n/) ?? [])[1] ?? '';
    const before = await inspect();
    const restarted = await json<GatewayStatusBody>(`${base}/gateway/restart`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(restarted.container?.id).toBe(before.details.Id.slice(0, 12));
    await eventually(async () => {
      const status = await json<GatewayStatusBody>(`${base}/gateway/status`);
      return status.state === 'logged-in' ? status : undefined;
    }, 'the restarted gateway to log in again');
    expect((await inspect()).details.Id).toBe(before.details.Id);
    expect(existsSync(join(dataDir, 'gateway-secrets'))).toBe(false);

    // The supervisor stops its container on exit; started by hand, it logs in from the files it holds.
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(await remoteDocker(['inspect', '-f', '{{.State.Running}}', containerName])).toBe('false\n');
    const loginsBefore = await logins();
    expect(loginsBefore).toBeGreaterThanOrEqual(2); // the first start and the supervisor's restart
    await remoteDocker(['start', containerName]);
    await eventually(
      async () => ((await logins()) > loginsBefore ? true : undefined),
      'the container started by hand to log in again',
    );
    const after = await secretFileInContainer(before.details.Id, '/run/secrets/tws_password', [
      '-H',
      forwarder.url,
    ]);
    expect(after).toMatchObject({ content: password, mode: 0o400, uid: 1000 });
  }, 120_000);
});
