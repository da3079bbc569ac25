import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '../../../src/config/config.schema';
import {
  SupervisorConflictError,
  SupervisorLock,
  containerLockPath,
  dataDirLockPath,
  type SupervisorLockHolder,
} from '../../../src/gateway/supervisor-lock';
import { startService } from '../../../src/main';
import { testConfig } from '../service/service-harness';

/**
 * One supervisor per HTTP port, data dir and container, settled before Docker is asked anything: the lock file
 * (stale taken over, live refused) and the HTTP port (taken: a clear error, and no request reached Docker).
 */

const directory = mkdtempSync(join(tmpdir(), 'ibgs-lock-'));
let count = 0;
const fresh = (what: string) => join(directory, `${what}-${++count}`);

function holder(overrides: Partial<SupervisorLockHolder> = {}): SupervisorLockHolder {
  return {
    pid: process.pid,
    hostname: hostname(),
    host: '127.0.0.1',
    port: 3000,
    containerName: 'ib-gateway',
    dataDir: '/data',
    startedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** Writes a lock file as another supervisor would have. */
function writeLock(path: string, overrides: Partial<SupervisorLockHolder>): void {
  writeFileSync(path, JSON.stringify({ ...holder(overrides), nonce: 'someone-else' }));
}

const refuse = (held: SupervisorLockHolder) => `held by pid ${held.pid} on port ${held.port}`;

/** A process that stays alive until killed (a stand-in for a running supervisor). */
function liveProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
}

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? 999_999;
}

describe('SupervisorLock', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((child) => child.kill('SIGKILL')));

  it('creates the lock with who holds it, refuses a second holder, and is gone after release', () => {
    const path = fresh('lock');
    const lock = SupervisorLock.acquire(path, holder({ port: 4321 }), refuse);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, port: 4321 });
    expect(() => SupervisorLock.acquire(path, holder(), refuse)).toThrow(
      new SupervisorConflictError(`held by pid ${process.pid} on port 4321`, undefined),
    );
    lock.release();
    expect(existsSync(path)).toBe(false);
    SupervisorLock.acquire(path, holder(), refuse).release();
    expect(readdirSync(directory).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a lock whose process is alive, naming its pid and port, and leaves the file as it was', () => {
    const child = liveProcess();
    children.push(child);
    const path = fresh('lock');
    writeLock(path, { pid: child.pid ?? 0, port: 5555 });
    const before = readFileSync(path, 'utf8');
    let refusal: unknown;
    try {
      SupervisorLock.acquire(path, holder(), refuse);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(SupervisorConflictError);
    expect((refusal as Error).message).toBe(`held by pid ${child.pid} on port 5555`);
    expect((refusal as SupervisorConflictError).exitCode).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('takes over a lock whose process is gone, one left by an earlier life of this pid, and an unreadable one', async () => {
    const stale = fresh('lock');
    writeLock(stale, { pid: await deadPid(), port: 1111 });
    const taken = SupervisorLock.acquire(stale, holder({ port: 2222 }), refuse);
    expect(JSON.parse(readFileSync(stale, 'utf8'))).toMatchObject({ pid: process.pid, port: 2222 });
    taken.release();

    // pid 1 in a container restarts as pid 1: a lock with our pid that this process does not hold is stale.
    const ownPid = fresh('lock');
    writeLock(ownPid, { pid: process.pid });
    SupervisorLock.acquire(ownPid, holder(), refuse).release();

    const junk = fresh('lock');
    writeFileSync(junk, '');
    SupervisorLock.acquire(junk, holder(), refuse).release();
    expect(existsSync(junk)).toBe(false);
  });

  it('treats a lock written on another host as held (its pid cannot be checked)', () => {
    const path = fresh('lock');
    writeLock(path, { pid: foreignPid(), hostname: `${hostname()}-elsewhere` });
    expect(() => SupervisorLock.acquire(path, holder(), refuse)).toThrow(SupervisorConflictError);
  });
});

/** A pid that surely does not run here (only the hostname matters for this case). */
function foreignPid(): number {
  return 2 ** 22 + 17;
}

/** A Docker API on a unix socket that answers nothing useful and counts what it is asked. */
async function fakeDocker(): Promise<{ server: HttpServer; socket: string; requests: string[] }> {
  const socket = join(directory, `docker-${++count}.sock`);
  const requests: string[] = [];
  const server = createHttpServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(500, { 'content-type': 'application/json' });
    response.end('{"message":"fake docker: no"}');
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { server, socket, requests };
}

function containerConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  const base = testConfig();
  return testConfig({
    ib: { ...base.ib, username: 'trader1', password: 'not-used-7c1e' },
    gateway: {
      ...base.gateway,
      image: 'ib-gateway-simulator:local',
      containerName: `ibgs-lock-${process.pid}`,
    },
    ...overrides,
  });
}

describe('startService refuses before Docker is asked anything', () => {
  let docker: Awaited<ReturnType<typeof fakeDocker>>;
  const savedDockerHost = process.env.DOCKER_HOST;
  const servers: Server[] = [];

  beforeAll(async () => {
    docker = await fakeDocker();
    process.env.DOCKER_HOST = `unix://${docker.socket}`;
  });

  afterAll(async () => {
    if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedDockerHost;
    await new Promise((resolve) => docker.server.close(resolve));
    await Promise.all(servers.map(async (server) => new Promise((resolve) => server.close(resolve))));
  });

  beforeEach(() => {
    docker.requests.length = 0;
  });

  async function takenPort(): Promise<number> {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  it('the control: with the port free, the start reaches Docker (and fails there)', async () => {
    const config = containerConfig();
    await expect(startService(config, { logDestination: { write: () => undefined } })).rejects.toThrow();
    expect(docker.requests.length).toBeGreaterThan(0);
    // A failed start leaves no lock behind.
    expect(existsSync(dataDirLockPath(config.dataDir))).toBe(false);
    expect(existsSync(containerLockPath(config.gateway.containerName))).toBe(false);
  });

  it('a taken HTTP port: a message naming the port and --port, exit code 3, and Docker never asked', async () => {
    const port = await takenPort();
    const config = containerConfig({ port });
    const start = startService(config, { logDestination: { write: () => undefined } });
    await expect(start).rejects.toThrow(SupervisorConflictError);
    await expect(start).rejects.toMatchObject({ exitCode: 3 });
    await expect(start).rejects.toThrow(
      new RegExp(
        `^Port ${port} on 127\\.0\\.0\\.1 is already taken, so the service cannot listen on it.*--port`,
      ),
    );
    expect(docker.requests).toEqual([]);
    expect(existsSync(dataDirLockPath(config.dataDir))).toBe(false);
  });

  it('a taken HTTP port held by a live supervisor: the message names its pid', async () => {
    const child = liveProcess();
    try {
      const port = await takenPort();
      const config = containerConfig({ port });
      writeLock(dataDirLockPath(config.dataDir), { pid: child.pid ?? 0, port, dataDir: config.dataDir });
      await expect(startService(config, { logDestination: { write: () => undefined } })).rejects.toThrow(
        `Port ${port} on 127.0.0.1 is already taken by another ib-gateway-supervisor (pid ${child.pid}, HTTP API on 127.0.0.1:${port}`,
      );
      expect(docker.requests).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a data dir or a container name held by a live supervisor: refused naming its pid and port, Docker never asked', async () => {
    const child = liveProcess();
    try {
      const config = containerConfig();
      writeLock(dataDirLockPath(config.dataDir), { pid: child.pid ?? 0, port: 6001 });
      await expect(startService(config, { logDestination: { write: () => undefined } })).rejects.toThrow(
        new RegExp(
          `^Another ib-gateway-supervisor is running with the data dir .*\\(pid ${child.pid}, HTTP API on 127\\.0\\.0\\.1:6001, .*--data-dir$`,
        ),
      );

      const other = containerConfig(); // another data dir, the same container name
      const containerLock = containerLockPath(other.gateway.containerName);
      writeLock(containerLock, { pid: child.pid ?? 0, port: 6002 });
      try {
        await expect(startService(other, { logDestination: { write: () => undefined } })).rejects.toThrow(
          new RegExp(
            `^The gateway container ibgs-lock-${process.pid} is supervised by another ib-gateway-supervisor \\(pid ${child.pid}, HTTP API on 127\\.0\\.0\\.1:6002, .*--container-name$`,
          ),
        );
        // Its own data dir lock was not kept either.
        expect(existsSync(dataDirLockPath(other.dataDir))).toBe(false);
      } finally {
        rmSync(containerLock, { force: true });
      }
      expect(docker.requests).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('in simulator mode too: a second service on the same data dir is refused while the first runs', async () => {
    const config = testConfig();
    const first = await startService(config, { logDestination: { write: () => undefined } });
    try {
      await expect(startService(config, { logDestination: { write: () => undefined } })).rejects.toThrow(
        `(pid ${process.pid}, HTTP API on 127.0.0.1:${new URL(first.urls.base).port}`,
      );
    } finally {
      await first.close();
    }
    expect(existsSync(dataDirLockPath(config.dataDir))).toBe(false);
    const again = await startService(config, { logDestination: { write: () => undefined } });
    await again.close();
  });
});
