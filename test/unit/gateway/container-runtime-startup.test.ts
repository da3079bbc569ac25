import {
  ContainerGatewayRuntime,
  INSTANCE_LABEL,
  type ContainerGatewaySettings,
} from '../../../src/gateway/container-gateway-runtime';
import type { ContainerFacts, DockerRepository } from '../../../src/gateway/docker.repository';
import type { GatewaySecretFiles } from '../../../src/gateway/gateway-secret-files';

/**
 * A supervisor whose start fails stops only a container it started itself in this run, never one it adopted
 * (another supervisor's, or one left running): the runtime's side of "one supervisor per gateway".
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
};

function fakeDocker(existing: ContainerFacts[]) {
  const docker = {
    ping: jest.fn(async () => Promise.resolve()),
    findContainers: jest.fn(async () => Promise.resolve(existing)),
    ensureImage: jest.fn(async () => Promise.resolve('present' as const)),
    createAndStart: jest.fn(async () => Promise.resolve(running)),
    stop: jest.fn(async () => Promise.resolve()),
    remove: jest.fn(async () => Promise.resolve()),
    inspect: jest.fn(async () => Promise.resolve({ ...running, state: 'exited' as const })),
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
  const secrets = { write: jest.fn((name: string) => `/data/${name}`), removeAll: jest.fn() };
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
  it('leaves an adopted container running (and its secret files in place) until the supervisor has started', async () => {
    const { runtime, docker, secrets, log } = runtimeWith([running], { complete: false });
    expect(await runtime.start()).toBe('adopted');
    await runtime.stop();
    await runtime.detach();
    expect(docker.stop).not.toHaveBeenCalled();
    expect(docker.remove).not.toHaveBeenCalled();
    expect(secrets.removeAll).not.toHaveBeenCalled();
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
    const { runtime, docker, secrets } = runtimeWith([], { complete: false });
    expect(await runtime.start()).toBe('started');
    await runtime.stop();
    expect(docker.createAndStart).toHaveBeenCalledTimes(1);
    expect(docker.stop).toHaveBeenCalledWith(running.id, expect.any(Number));
    expect(secrets.removeAll).toHaveBeenCalled();
  });

  it('clears secret files a dead run left behind before it writes the new container files (none outlive their container)', async () => {
    const stopped: ContainerFacts = { ...running, state: 'exited' };
    const { runtime, docker, secrets } = runtimeWith([stopped], { complete: false });
    expect(await runtime.start()).toBe('started');
    expect(docker.remove).toHaveBeenCalledWith(stopped.id);
    const cleared = secrets.removeAll.mock.invocationCallOrder[0] ?? Infinity;
    const written = secrets.write.mock.invocationCallOrder[0] ?? -Infinity;
    expect(cleared).toBeLessThan(written);
  });

  it('without a startup phase (an app built directly) behaves as before: stop stops the adopted container', async () => {
    const docker = fakeDocker([running]);
    const runtime = new ContainerGatewayRuntime(
      settings,
      docker as unknown as DockerRepository,
      { write: () => '/data/x', removeAll: () => undefined } as unknown as GatewaySecretFiles,
      { info: () => undefined, warn: () => undefined, debug: () => undefined },
      () => undefined,
    );
    await runtime.start();
    await runtime.stop();
    expect(docker.stop).toHaveBeenCalledTimes(1);
  });
});
