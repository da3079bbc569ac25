import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerLockPath, dataDirLockPath } from '../../../src/gateway/supervisor-lock';
import { CliProcess, containerStartArgs } from '../../support/cli-process';
import { assertDockerAvailable, docker, run } from '../../support/docker';

/**
 * One supervisor per gateway (issue 14): a second `start` of the same command (same container name) is refused
 * before it touches Docker, names the running supervisor, and the first one's container keeps running untouched:
 * same container id, same run, no restart counted by Docker or by the supervisor.
 */

const IMAGE = 'ib-gateway-simulator:local';
const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface GatewayStatusBody {
  state: string;
  restartCount: number;
  loginAttempts: number;
  container: { id: string; name: string; state: string } | null;
}

describe('a second supervisor for the same gateway', () => {
  const containerName = `ibgs-test-second-supervisor-${process.pid}`;
  const directory = mkdtempSync(join(tmpdir(), 'ibgs-second-'));
  const dataDir = join(directory, 'data');
  const passwordFile = join(directory, 'ib-password');
  let first: CliProcess | undefined;
  const others: CliProcess[] = [];

  const args = (overrides: { port?: string; dataDir?: string } = {}) =>
    containerStartArgs({
      image: IMAGE,
      containerName,
      dataDir: overrides.dataDir ?? dataDir,
      ...(overrides.port === undefined ? {} : { port: overrides.port }),
    });
  const env = () => ({ IBGS_PASSWORD_FILE: passwordFile });

  beforeAll(async () => {
    await assertDockerAvailable();
    await docker(['rm', '-f', containerName]).catch(() => undefined);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    // The simulator image's account accepts "demo" by default.
    writeFileSync(passwordFile, 'demo\n', { mode: 0o600 });
  }, 300_000);

  afterAll(async () => {
    for (const cli of [...others, ...(first ? [first] : [])]) {
      if (cli.child.exitCode === null && cli.child.signalCode === null) {
        cli.child.kill('SIGTERM');
        await cli.exited;
      }
    }
    await docker(['rm', '-f', containerName]).catch(() => undefined);
  }, 60_000);

  async function status(base: string): Promise<GatewayStatusBody> {
    const response = await fetch(`${base}/gateway/status`);
    expect(response.status).toBe(200);
    return (await response.json()) as GatewayStatusBody;
  }

  async function dockerFacts(): Promise<{
    id: string;
    startedAt: string;
    restarts: string;
    running: string;
  }> {
    const [id = '', startedAt = '', restarts = '', running = ''] = (
      await docker([
        'inspect',
        '-f',
        '{{.Id}} {{.State.StartedAt}} {{.RestartCount}} {{.State.Running}}',
        containerName,
      ])
    )
      .trim()
      .split(' ');
    return { id, startedAt, restarts, running };
  }

  /** Runs a second `start` to its end: it must be refused quickly, before any Docker call. */
  async function refusedStart(overrides: { port?: string; dataDir?: string }): Promise<CliProcess> {
    const second = new CliProcess(args(overrides), env());
    others.push(second);
    const timeout = setTimeout(() => second.child.kill('SIGKILL'), 30_000);
    try {
      expect(await second.exited).toBe(3);
    } finally {
      clearTimeout(timeout);
    }
    return second;
  }

  it('is refused, names the running one, and leaves its container running untouched', async () => {
    first = new CliProcess(args(), env());
    const [, base = ''] = await first.waitFor(/Health\s+(http:\/\/\S+)\/health\n/);
    const firstPort = new URL(base).port;
    const firstPid = first.child.pid ?? 0;
    let before: GatewayStatusBody | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(200)) {
      before = await status(base);
      if (before.state === 'logged-in') break;
    }
    expect(before).toMatchObject({
      state: 'logged-in',
      container: { name: containerName, state: 'running' },
    });
    const facts = await dockerFacts();
    expect(facts).toMatchObject({ restarts: '0', running: 'true' });
    expect(facts.id.startsWith(before?.container?.id ?? '-')).toBe(true);
    expect(existsSync(dataDirLockPath(dataDir))).toBe(true);

    // The same command again: refused by the data dir's lock, before Docker.
    const same = await refusedStart({});
    expect(same.output).toContain(`pid ${firstPid}, HTTP API on 127.0.0.1:${firstPort}`);
    expect(same.output).toMatch(/Another ib-gateway-supervisor is running with the data dir/);
    expect(same.output).not.toMatch(/Adopting|Removing|Started the gateway container|Stopping/i);

    // Another data dir, the same container name: refused by the container's lock.
    const otherDataDir = await refusedStart({ dataDir: join(directory, 'other-data') });
    expect(otherDataDir.output).toContain(`The gateway container ${containerName} is supervised by another`);
    expect(otherDataDir.output).toContain(`pid ${firstPid}, HTTP API on 127.0.0.1:${firstPort}`);

    // The same HTTP port: refused on the port, naming the supervisor that listens there.
    const samePort = await refusedStart({ port: firstPort });
    expect(samePort.output).toContain(
      `Port ${firstPort} on 127.0.0.1 is already taken by another ib-gateway-supervisor (pid ${firstPid}`,
    );
    expect(samePort.output).toContain('--port');

    // Had a refusal touched the container, the first supervisor would notice its exit within moments.
    await sleep(3_000);
    expect(await dockerFacts()).toEqual(facts);
    const after = await status(base);
    expect(after).toMatchObject({
      state: 'logged-in',
      restartCount: before?.restartCount,
      loginAttempts: before?.loginAttempts,
      container: { id: before?.container?.id, state: 'running' },
    });
    expect(first.child.exitCode).toBeNull();
    expect(existsSync(containerLockPath(containerName))).toBe(true);

    // The first one stops cleanly and gives both locks back.
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(dataDirLockPath(dataDir))).toBe(false);
    expect(existsSync(containerLockPath(containerName))).toBe(false);
  }, 180_000);
});
