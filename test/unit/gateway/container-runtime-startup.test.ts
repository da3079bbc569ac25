import {
  ContainerGatewayRuntime,
  INSTANCE_LABEL,
  type ContainerGatewaySettings,
} from '../../../src/gateway/container-gateway-runtime';
import type { ContainerFacts, ContainerSpec, DockerRepository } from '../../../src/gateway/docker.repository';
import type { GatewaySecretFiles } from '../../../src/gateway/gateway-secret-files';

/**
 * A supervisor whose start fails stops only a container it started itself in this run, never one it adopted
 * (another supervisor's, or one left running): the runtime's side of "one supervisor per gateway". And the
 * secrets reach the container only as an archive put into it, never as a file of this machine.
 */

const settings: ContainerGatewaySettings = {
  image: 'ib-gateway-simulator:local',
  containerName: 'ib-gateway',
  tradingMode: 'paper',
  username: 'trader1',
  password: 'pw-unit-3f1a',
  vncPassword: undefined,
  apiPort: 4102,
  vncPort: 5901,
  readOnlyApi: false,
  twoFactorTimeoutAction: 'restart',
  reloginAfterTwoFactorTimeout: false,
  autoRestartTime: undefined,
  timeZone: undefined,
  javaHeapSizeMb: undefined,
  extraLabels: {},
  extraEnv: {},
};

const running: ContainerFacts = {
  id: 'a'.repeat(64),
  name: 'ib-gateway',
  image: settings.image,
  state: 'running',
  startedAt: new Date('2026-12-07T10:00:00Z'),
  exitCode: 0,
  labels: { [INSTANCE_LABEL]: 'ib-gateway' },
  env: { TRADING_MODE: 'paper' },
  publishedPorts: { 4004: 4102 },
  mountsHostFiles: false,
};

function fakeDocker(existing: ContainerFacts[]) {
  const docker = {
    ping: jest.fn(async () => Promise.resolve()),
    findContainers: jest.fn(async () => Promise.resolve(existing)),
    ensureImage: jest.fn(async () => Promise.resolve('present' as const)),
    createAndStart: jest.fn(async (_spec: ContainerSpec) => Promise.resolve(running)),
    putFiles: jest.fn(async (_id: string, _archive: Buffer) => Promise.resolve()),
    start: jest.fn(async () => Promise.resolve()),
    publishedHost: jest.fn(() => '127.0.0.1'),
    stop: jest.fn(async () => Promise.resolve()),
    remove: jest.fn(async () => Promise.resolve()),
    inspect: jest.fn(async (_id: string): Promise<ContainerFacts | undefined> =>
      Promise.resolve({ ...running, state: 'exited' }),
    ),
    followLogs: jest.fn(async () => Promise.resolve({ ended: Promise.resolve(), close: () => undefined })),
    waitForExit: jest.fn(
      async (_id: string, signal?: AbortSignal) =>
        new Promise<number>((_resolve, reject) =>
          signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
    ),
  };
  return docker;
}

function runtimeWith(existing: ContainerFacts[], startup: { complete: boolean }) {
  const docker = fakeDocker(existing);
  const secrets = {
    archive: jest.fn((files: Record<string, string>) => Buffer.from(JSON.stringify(files))),
    removeLegacyFiles: jest.fn(),
  };
  const log = { info: jest.fn(), warn: jest.fn(), debug: jest.fn() };
  const runtime = new ContainerGatewayRuntime(
    settings,
    docker as unknown as DockerRepository,
    secrets as unknown as GatewaySecretFiles,
    log,
    () => undefined,
    startup,
  );
  return { runtime, docker, secrets, log };
}

describe('ContainerGatewayRuntime during a start that fails', () => {
  it('leaves an adopted container running until the supervisor has started', async () => {
    const { runtime, docker, secrets, log } = runtimeWith([running], { complete: false });
    expect(await runtime.start()).toBe('adopted');
    await runtime.stop();
    await runtime.detach();
    expect(docker.stop).not.toHaveBeenCalled();
    expect(docker.remove).not.toHaveBeenCalled();
    expect(docker.putFiles).not.toHaveBeenCalled(); // its secret files are in it already
    expect(secrets.archive).not.toHaveBeenCalled();
    expect(log.info).toHaveBeenCalledWith(
      expect.stringMatching(/Leaving the adopted gateway container ib-gateway/),
    );
  });

  it('stops an adopted container once the supervisor has started (a stop asked for later)', async () => {
    const startup = { complete: false };
    const { runtime, docker } = runtimeWith([running], startup);
    await runtime.start();
    startup.complete = true;
    await runtime.stop();
    expect(docker.stop).toHaveBeenCalledWith(running.id, expect.any(Number));
  });

  it('stops a container it created in this run, even before the supervisor has started', async () => {
    const { runtime, docker } = runtimeWith([], { complete: false });
    expect(await runtime.start()).toBe('started');
    await runtime.stop();
    expect(docker.createAndStart).toHaveBeenCalledTimes(1);
    expect(docker.stop).toHaveBeenCalledWith(running.id, expect.any(Number));
  });

  it('clears the secret directory an earlier version left under the data dir first, adopting or not', async () => {
    for (const existing of [[running], [{ ...running, state: 'exited' as const }], []]) {
      const { runtime, docker, secrets } = runtimeWith(existing, { complete: true });
      await runtime.start();
      expect(secrets.removeLegacyFiles).toHaveBeenCalledTimes(1);
      expect(secrets.removeLegacyFiles.mock.invocationCallOrder[0]).toBeLessThan(
        docker.ping.mock.invocationCallOrder[0] ?? -Infinity,
      );
    }
  });

  it('without a startup phase (an app built directly) behaves as before: stop stops the adopted container', async () => {
    const docker = fakeDocker([running]);
    const runtime = new ContainerGatewayRuntime(
      settings,
      docker as unknown as DockerRepository,
      { archive: () => Buffer.alloc(0), removeLegacyFiles: () => undefined } as unknown as GatewaySecretFiles,
      { info: () => undefined, warn: () => undefined, debug: () => undefined },
      () => undefined,
    );
    await runtime.start();
    await runtime.stop();
    expect(docker.stop).toHaveBeenCalledTimes(1);
  });
});

describe('ContainerGatewayRuntime and the secret files', () => {
  it('creates the container with its secrets as an archive (then zeroed), the env naming only their paths', async () => {
    const { runtime, docker, secrets } = runtimeWith([], { complete: true });
    await runtime.start();
    expect(secrets.archive).toHaveBeenCalledWith({ tws_password: settings.password });
    const [spec] = docker.createAndStart.mock.calls[0] ?? [];
    expect(Buffer.isBuffer(spec?.files)).toBe(true);
    expect(spec?.files.every((byte) => byte === 0)).toBe(true); // the copy in memory is wiped
    expect(spec?.env).toMatchObject({ TWS_PASSWORD_FILE: '/run/secrets/tws_password' });
    expect(JSON.stringify(spec)).not.toContain(settings.password);
    expect(spec?.env).not.toHaveProperty('VNC_SERVER_PASSWORD_FILE');
  });

  it('with a VNC password, hands over both files and names both paths', async () => {
    const docker = fakeDocker([]);
    const secrets = { archive: jest.fn(() => Buffer.alloc(1024)), removeLegacyFiles: jest.fn() };
    const runtime = new ContainerGatewayRuntime(
      { ...settings, vncPassword: 'vnc-3f1a' },
      docker as unknown as DockerRepository,
      secrets as unknown as GatewaySecretFiles,
      { info: () => undefined, warn: () => undefined, debug: () => undefined },
      () => undefined,
    );
    await runtime.start();
    expect(secrets.archive).toHaveBeenCalledWith({
      tws_password: settings.password,
      vnc_password: 'vnc-3f1a',
    });
    const [spec] = docker.createAndStart.mock.calls[0] ?? [];
    expect(spec?.env).toMatchObject({ VNC_SERVER_PASSWORD_FILE: '/run/secrets/vnc_password' });
  });

  it('restarts the same container: its files put again (no file of this machine), then docker start', async () => {
    const { runtime, docker } = runtimeWith([], { complete: true });
    await runtime.start();
    docker.inspect.mockResolvedValue({ ...running });
    await runtime.restart();
    expect(docker.stop).toHaveBeenCalledWith(running.id, expect.any(Number));
    expect(docker.putFiles).toHaveBeenCalledWith(running.id, expect.any(Buffer));
    expect(docker.putFiles.mock.calls[0]?.[1].every((byte) => byte === 0)).toBe(true);
    expect(docker.start).toHaveBeenCalledWith(running.id);
    expect(docker.putFiles.mock.invocationCallOrder[0]).toBeLessThan(
      docker.start.mock.invocationCallOrder[0] ?? -Infinity,
    );
    expect(docker.remove).not.toHaveBeenCalled();
    expect(docker.createAndStart).toHaveBeenCalledTimes(1);
  });

  it('replaces, instead of restarting, a container of an earlier version that mounted its secret files', async () => {
    const legacy: ContainerFacts = { ...running, mountsHostFiles: true };
    const { runtime, docker, log } = runtimeWith([legacy], { complete: true });
    expect(await runtime.start()).toBe('adopted');
    docker.inspect.mockResolvedValueOnce(legacy);
    docker.findContainers.mockResolvedValue([]);
    await runtime.restart();
    expect(docker.stop).toHaveBeenCalledWith(legacy.id, expect.any(Number));
    expect(docker.remove).toHaveBeenCalledWith(legacy.id);
    expect(docker.start).not.toHaveBeenCalled();
    expect(docker.createAndStart).toHaveBeenCalledTimes(1);
    expect(log.info).toHaveBeenCalledWith(expect.stringMatching(/made by an earlier version/));
  });

  it("reports the API where the daemon publishes it: the daemon's host", async () => {
    const { runtime, docker } = runtimeWith([running], { complete: true });
    await runtime.start();
    docker.publishedHost.mockReturnValue('gw.example.net');
    expect(runtime.apiEndpoint()).toEqual({ host: 'gw.example.net', port: 4102 });
  });
});

describe('ContainerGatewayRuntime with a stopped container of its own', () => {
  const stoppedWithTodaysSettings: ContainerFacts = {
    ...running,
    id: 'b'.repeat(64),
    state: 'exited',
    env: {
      PATH: '/usr/bin', // the image's own variables are no difference
      TWS_USERID: 'trader1',
      TWS_PASSWORD_FILE: '/run/secrets/tws_password',
      TRADING_MODE: 'paper',
      READ_ONLY_API: 'no',
      TWOFA_TIMEOUT_ACTION: 'restart',
      RELOGIN_AFTER_TWOFA_TIMEOUT: 'no',
    },
    publishedPorts: { 4004: 4102 },
  };

  it('starts it again, secrets put in first, when it has the same image, settings and ports (its state survives)', async () => {
    const { runtime, docker } = runtimeWith([stoppedWithTodaysSettings], { complete: false });
    expect(await runtime.start()).toBe('started');
    expect(docker.createAndStart).not.toHaveBeenCalled();
    expect(docker.remove).not.toHaveBeenCalled();
    expect(docker.putFiles).toHaveBeenCalledWith(stoppedWithTodaysSettings.id, expect.any(Buffer));
    expect(docker.start).toHaveBeenCalledWith(stoppedWithTodaysSettings.id);
    const put = docker.putFiles.mock.invocationCallOrder[0] ?? Infinity;
    const started = docker.start.mock.invocationCallOrder[0] ?? -Infinity;
    expect(put).toBeLessThan(started);
    // Started by this run: a failed start may stop it again.
    await runtime.stop();
    expect(docker.stop).toHaveBeenCalled();
  });

  it.each([
    ['another trading mode', { env: { ...stoppedWithTodaysSettings.env, TRADING_MODE: 'live' } }],
    ['another image', { image: 'ghcr.io/gnzsnz/ib-gateway:stable' }],
    ['another fixed API port', { publishedPorts: { 4004: 4999 } }],
    ['secret files mounted by an earlier version', { mountsHostFiles: true }],
  ])('replaces it when it differs (%s)', async (_why, difference: Partial<ContainerFacts>) => {
    const stale = { ...stoppedWithTodaysSettings, ...difference };
    const { runtime, docker } = runtimeWith([stale], { complete: false });
    expect(await runtime.start()).toBe('started');
    expect(docker.remove).toHaveBeenCalledWith(stale.id);
    expect(docker.start).not.toHaveBeenCalled();
    expect(docker.createAndStart).toHaveBeenCalledTimes(1);
  });

  it('replaces it when it will not start again (e.g. its port is taken now)', async () => {
    const { runtime, docker, log } = runtimeWith([stoppedWithTodaysSettings], { complete: false });
    docker.start.mockRejectedValueOnce(new Error('port is already allocated'));
    expect(await runtime.start()).toBe('started');
    expect(docker.remove).toHaveBeenCalledWith(stoppedWithTodaysSettings.id);
    expect(docker.createAndStart).toHaveBeenCalledTimes(1);
    expect(log.warn).toHaveBeenCalledWith(
      expect.stringMatching(/did not start again \(port is already allocated\)/),
    );
  });
});
