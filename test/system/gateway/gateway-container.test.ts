import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { AppConfig } from '../../../src/config/config.schema';
import { INSTANCE_LABEL } from '../../../src/gateway/container-gateway-runtime';
import { startService, type RunningService, type StartOptions } from '../../../src/main';
import {
  assertDockerAvailable,
  containerLogs,
  docker,
  inspectContainer,
  removeTestContainers,
  run,
  TEST_CONTAINER_LABEL,
} from '../../support/docker';
import { connectMcpClient, startTestService, testConfig } from '../../integration/service/service-harness';
import { rfbGreeting } from '../../support/rfb-client';
import { filesHolding, secretFileInContainer } from '../../support/secret-files';

/**
 * The supervisor against a real Docker daemon running the simulator image, which has the interface of the
 * real gnzsnz/ib-gateway image (environment, password file, ports, IBC's log lines). Nothing is mocked: the
 * supervisor creates, follows, adopts, restarts and stops real containers.
 */

const IMAGE = 'ib-gateway-simulator:local';
/** This run's containers, so that other engineers' docker tests running at the same time are left alone. */
const LABEL = `gateway-container-${process.pid}`;
const SECRET_INSIDE = '/run/secrets/tws_password';
const LOGIN_ATTEMPT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} IBC: Login attempt: \d+$/gm;

let containerCount = 0;
const uniqueName = (what: string) => `ibgs-test-${what}-${process.pid}-${++containerCount}`;
const randomPassword = () => `pw-${randomBytes(12).toString('hex')}`;
const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface GatewayStatusBody {
  mode: string;
  state: string;
  reason: string;
  loginBlocked: boolean;
  loginAttempts: number;
  image: string | null;
  container: { id: string; name: string; state: string } | null;
  uptimeSeconds: number | null;
  restartCount: number;
  ports: { api: number | null; vnc: number | null };
  lastError: { message: string; at: string } | null;
}

function gatewayConfig(
  containerName: string,
  password: string,
  gateway: Partial<AppConfig['gateway']> = {},
): AppConfig {
  const base = testConfig();
  return testConfig({
    ib: { ...base.ib, username: 'trader1', password },
    gateway: {
      ...base.gateway,
      image: IMAGE,
      containerName,
      apiPort: 0,
      vncPort: 0,
      startTimeoutSeconds: 60,
      ...gateway,
    },
    watchdog: { ...base.watchdog, backoffInitialSeconds: 1, backoffMaxSeconds: 2 },
  });
}

/** Marks the container for cleanup and sets the simulator image's knobs (none of them a secret). */
function containerOptions(env: Record<string, string> = {}): StartOptions {
  return {
    gatewayContainer: {
      labels: { [TEST_CONTAINER_LABEL]: LABEL },
      env: { SIM_LOGIN_DELAY_MS: '300', ...env },
    },
  };
}

/** The simulated account accepts exactly the password the supervisor hands over, wherever it reads it from. */
const ACCEPT_MOUNTED_PASSWORD = { SIM_ACCEPTED_PASSWORD_FILE: SECRET_INSIDE };

async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(200);
  }
}

async function gatewayStatus(service: RunningService): Promise<GatewayStatusBody> {
  const response = await fetch(`${service.urls.base}/gateway/status`);
  expect(response.status).toBe(200);
  return (await response.json()) as GatewayStatusBody;
}

async function untilState(
  service: RunningService,
  state: string,
  timeoutMs?: number,
): Promise<GatewayStatusBody> {
  return eventually(
    async () => {
      const status = await gatewayStatus(service);
      return status.state === state ? status : undefined;
    },
    `gateway state ${state}`,
    timeoutMs,
  );
}

/** Ids of this instance's containers, running or not, as Docker lists them. */
async function instanceContainers(name: string): Promise<string[]> {
  const output = await docker(['ps', '-aq', '--no-trunc', '--filter', `label=${INSTANCE_LABEL}=${name}`]);
  return output.split('\n').filter(Boolean);
}

async function containerField(id: string, template: string): Promise<string> {
  return (await docker(['inspect', '-f', template, id])).trim();
}

describe('the gateway supervisor with a real Docker container', () => {
  const services: RunningService[] = [];
  const clients: Client[] = [];

  async function track(service: Promise<RunningService>): Promise<RunningService> {
    const started = await service;
    services.push(started);
    return started;
  }

  async function closeService(service: RunningService): Promise<void> {
    services.splice(services.indexOf(service), 1);
    await service.close();
  }

  beforeAll(async () => {
    await assertDockerAvailable();
    await removeTestContainers(LABEL);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
  }, 300_000);

  afterAll(async () => {
    await Promise.all(clients.map(async (client) => client.close()));
    await Promise.all(services.map(async (service) => service.close()));
    await removeTestContainers(LABEL);
  }, 60_000);

  describe('with the right credentials (one container, kept across a supervisor restart)', () => {
    const name = uniqueName('login');
    const password = randomPassword();
    const vncPassword = randomBytes(4).toString('hex');
    const config = gatewayConfig(name, password, { keepRunning: true, vncPassword });
    /** Where earlier versions kept the secret files, to be bind-mounted: cleared on start. */
    const legacySecrets = join(config.dataDir, 'gateway-secrets', name);
    let service: RunningService;

    beforeAll(async () => {
      mkdirSync(legacySecrets, { recursive: true, mode: 0o700 });
      writeFileSync(join(legacySecrets, 'tws_password'), password, { mode: 0o600 });
      service = await track(startTestService(config, containerOptions(ACCEPT_MOUNTED_PASSWORD)));
    }, 60_000);

    it('starts the container, reaches logged-in, and serves REST and MCP calls through it', async () => {
      expect(service.mode).toBe('gateway');
      const status = await gatewayStatus(service);
      expect(status).toMatchObject({
        mode: 'container',
        state: 'logged-in',
        image: IMAGE,
        loginBlocked: false,
      });
      expect(status.container).toMatchObject({ name, state: 'running' });
      expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0);
      // With a VNC password the image serves VNC; the supervisor publishes it on 127.0.0.1 too.
      expect(await rfbGreeting(status.ports.vnc ?? 0)).toMatch(/^RFB 003\.00\d\n$/);

      // The IB session goes to the container's published API port.
      const [id] = await instanceContainers(name);
      const published = await docker(['port', id ?? '', '4004/tcp']);
      expect(published.trim()).toBe(`127.0.0.1:${status.ports.api}`);
      const connection = (await (await fetch(`${service.urls.base}/connection/status`)).json()) as {
        state: string;
        port: number;
      };
      expect(connection).toMatchObject({ state: 'connected', port: status.ports.api });

      const before = Math.floor(Date.now() / 1000);
      const time = (await (await fetch(`${service.urls.base}/connection/server-time`)).json()) as {
        epochSeconds: number;
      };
      expect(Math.abs(time.epochSeconds - before)).toBeLessThanOrEqual(5);

      const mcp = await connectMcpClient(service);
      clients.push(mcp);
      const result = await mcp.callTool({ name: 'get_server_time', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(
        Math.abs((result.structuredContent as { epochSeconds: number }).epochSeconds - before),
      ).toBeLessThanOrEqual(5);
      const overMcp = await mcp.callTool({ name: 'get_gateway_status', arguments: {} });
      expect(overMcp.structuredContent).toMatchObject({ state: 'logged-in', container: { name } });
    });

    it('shows no password in docker inspect, the status, or the logs; ports are on 127.0.0.1 only', async () => {
      const [id] = await instanceContainers(name);
      const inspected = await inspectContainer(id ?? '');
      expect(inspected).not.toContain(password);
      expect(inspected).not.toContain(vncPassword);
      const [details] = JSON.parse(inspected) as [
        {
          Config: { Env: string[]; Labels: Record<string, string>; Cmd: string[] | null };
          HostConfig: {
            PortBindings: Record<string, { HostIp: string }[]>;
            RestartPolicy: { Name: string };
            Binds: string[] | null;
            Mounts?: unknown[] | null;
          };
          Mounts: unknown[];
        },
      ];
      // Nothing of this machine is mounted: the secret files were put into the container before it started.
      expect(details.Mounts).toEqual([]);
      expect(details.HostConfig.Binds ?? []).toEqual([]);
      expect(details.HostConfig.Mounts ?? []).toEqual([]);
      const names = details.Config.Env.map((entry) => entry.split('=')[0]);
      expect(names).toEqual(expect.arrayContaining(['TWS_USERID', 'TWS_PASSWORD_FILE', 'TRADING_MODE']));
      expect(names).not.toContain('TWS_PASSWORD');
      expect(details.Config.Env).toContain(`TWS_PASSWORD_FILE=${SECRET_INSIDE}`);
      expect(details.Config.Env).toContain('VNC_SERVER_PASSWORD_FILE=/run/secrets/vnc_password');
      expect(names).not.toContain('VNC_SERVER_PASSWORD');
      expect(details.Config.Labels[INSTANCE_LABEL]).toBe(name);
      const bindings = Object.values(details.HostConfig.PortBindings).flat();
      expect(bindings.length).toBeGreaterThan(0);
      expect(bindings.every((binding) => binding.HostIp === '127.0.0.1')).toBe(true);
      // Docker must not retry logins on its own.
      expect(details.HostConfig.RestartPolicy.Name).toBe('no');

      expect(JSON.stringify(await gatewayStatus(service))).not.toContain(password);
      const logs = (await (await fetch(`${service.urls.base}/gateway/logs?lines=500`)).json()) as {
        lines: string[];
      };
      expect(logs.lines.join('\n')).toContain('IBC: Login has completed');
      expect(logs.lines.join('\n')).not.toContain(password);
      expect(logs.lines.join('\n')).not.toContain(vncPassword);
      expect(await containerLogs(id ?? '')).not.toContain(password);
    });

    it('puts the secret files into the container (0400, the image user 1000), none on this machine', async () => {
      const [id = ''] = await instanceContainers(name);
      expect(await secretFileInContainer(id, SECRET_INSIDE)).toEqual({
        content: password,
        mode: 0o400,
        uid: 1000,
        gid: 1000,
        readBy: 1000,
      });
      expect(await secretFileInContainer(id, '/run/secrets/vnc_password')).toMatchObject({
        content: vncPassword,
        mode: 0o400,
        uid: 1000,
      });
      // The directory an earlier version kept them in was cleared; no copy of a secret is in the data dir.
      expect(existsSync(legacySecrets)).toBe(false);
      expect(existsSync(join(config.dataDir, 'gateway-secrets'))).toBe(false);
      expect(filesHolding(config.dataDir, [password, vncPassword])).toEqual([]);
    });

    it('brings a killed container back, then the IB session works again', async () => {
      const [id] = await instanceContainers(name);
      const startedBefore = await containerField(id ?? '', '{{.State.StartedAt}}');
      await docker(['kill', id ?? '']);

      const back = await eventually(
        async () => {
          const status = await gatewayStatus(service);
          return status.state === 'logged-in' && status.restartCount >= 1 ? status : undefined;
        },
        'the gateway to come back after docker kill',
        30_000,
      );
      expect(back.lastError?.message).toContain('exited unexpectedly');
      expect(await containerField(id ?? '', '{{.State.Running}}')).toBe('true');
      expect(await containerField(id ?? '', '{{.State.StartedAt}}')).not.toBe(startedBefore);
      expect(await instanceContainers(name)).toEqual([id]);

      const time = await eventually(async () => {
        const response = await fetch(`${service.urls.base}/connection/server-time`);
        return response.status === 200 ? ((await response.json()) as { epochSeconds: number }) : undefined;
      }, 'the IB session to reconnect');
      expect(time.epochSeconds).toBeGreaterThan(0);
      // Started again in place: the files it was created with, and still none on this machine.
      expect(await secretFileInContainer(id ?? '', SECRET_INSIDE)).toMatchObject({
        content: password,
        mode: 0o400,
      });
      expect(filesHolding(config.dataDir, [password, vncPassword])).toEqual([]);
    }, 45_000);

    it('a restarted supervisor adopts the running container instead of starting a second login', async () => {
      const [id] = await instanceContainers(name);
      const startedBefore = await containerField(id ?? '', '{{.State.StartedAt}}');
      const attemptsBefore = (await containerLogs(id ?? '')).match(LOGIN_ATTEMPT)?.length ?? 0;
      await closeService(service); // keepRunning: the container stays up
      expect(await containerField(id ?? '', '{{.State.Running}}')).toBe('true');

      const second = await track(
        startTestService(gatewayConfig(name, password), containerOptions(ACCEPT_MOUNTED_PASSWORD)),
      );
      const status = await untilState(second, 'logged-in');
      expect(status.container?.id).toBe(id?.slice(0, 12));
      expect(await instanceContainers(name)).toEqual([id]);
      expect(await containerField(id ?? '', '{{.State.StartedAt}}')).toBe(startedBefore);
      expect((await containerLogs(id ?? '')).match(LOGIN_ATTEMPT)?.length ?? 0).toBe(attemptsBefore);
      const time = await fetch(`${second.urls.base}/connection/server-time`);
      expect(time.status).toBe(200);

      await closeService(second); // keepRunning off now: the container is stopped
      expect(await containerField(id ?? '', '{{.State.Running}}')).toBe('false');
    }, 45_000);
  });

  describe('with a wrong password', () => {
    const name = uniqueName('wrong-password');
    let service: RunningService;

    beforeAll(async () => {
      // The simulated account's password stays the image's default ("demo"); this one is wrong.
      service = await track(startService(gatewayConfig(name, randomPassword()), containerOptions()));
    }, 60_000);

    it('stops at login-failed after exactly one attempt, restarts nothing, and says why', async () => {
      const failed = await untilState(service, 'login-failed');
      expect(failed.loginBlocked).toBe(true);
      expect(failed.reason).toMatch(/unrecognized username or password/i);
      expect(failed.lastError?.message).toMatch(/unrecognized username or password/i);

      const [id] = await instanceContainers(name);
      const startedAt = await containerField(id ?? '', '{{.State.StartedAt}}');
      await sleep(5000); // long enough for a backoff restart (1 s) or a retrying gateway to show
      const status = await gatewayStatus(service);
      expect(status).toMatchObject({ state: 'login-failed', loginBlocked: true, restartCount: 0 });
      expect(status.container?.state).toBe('exited'); // halted, so IBC cannot retry either
      expect(await instanceContainers(name)).toEqual([id]);
      expect(await containerField(id ?? '', '{{.State.StartedAt}}')).toBe(startedAt);
      expect((await containerLogs(id ?? '')).match(LOGIN_ATTEMPT)).toEqual([
        expect.stringContaining('Login attempt: 1'),
      ]);

      const mcp = await connectMcpClient(service);
      clients.push(mcp);
      const overMcp = await mcp.callTool({ name: 'get_gateway_status', arguments: {} });
      expect(overMcp.structuredContent).toMatchObject({ state: 'login-failed', loginBlocked: true });
    }, 40_000);

    it('tries again only when a human starts it, and then exactly once', async () => {
      const response = await fetch(`${service.urls.base}/gateway/start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ waitSeconds: 20 }),
      });
      expect(response.status).toBe(200);
      const status = (await response.json()) as GatewayStatusBody;
      expect(status).toMatchObject({ state: 'login-failed', loginBlocked: true, loginAttempts: 1 });
      const ids = await instanceContainers(name);
      expect(ids).toHaveLength(1);
      // The halted container was started again (its settings are today's): its log holds the first run's
      // attempt and exactly one more.
      expect((await containerLogs(ids[0] ?? '')).match(LOGIN_ATTEMPT)).toHaveLength(2);
    }, 40_000);
  });

  it('too many failed logins: blocked and halted, with IB’s wait in the reason', async () => {
    const name = uniqueName('too-many');
    const service = await track(
      startService(
        gatewayConfig(name, randomPassword()),
        containerOptions({ ...ACCEPT_MOUNTED_PASSWORD, SIM_LOGIN_FAULT: 'too-many-failed-logins' }),
      ),
    );
    const status = await untilState(service, 'too-many-failed-logins');
    expect(status.loginBlocked).toBe(true);
    expect(status.reason).toContain('Too many failed login attempts. Please wait 4 minutes & 47 seconds');
    await eventually(
      async () => ((await gatewayStatus(service)).container?.state === 'exited' ? true : undefined),
      'the halt',
    );
    await closeService(service);
  }, 40_000);

  it('an existing session a human must resolve: reported, not logged in, not restarted', async () => {
    const name = uniqueName('existing-session');
    const service = await track(
      startService(
        gatewayConfig(name, randomPassword()),
        containerOptions({
          ...ACCEPT_MOUNTED_PASSWORD,
          SIM_LOGIN_FAULT: 'existing-session',
          EXISTING_SESSION_DETECTED_ACTION: 'manual',
        }),
      ),
    );
    const status = await untilState(service, 'existing-session');
    expect(status.reason).toContain('a human must choose');
    expect(status.loginBlocked).toBe(false);
    expect(status.container?.state).toBe('running');
    await closeService(service);
    expect(await instanceContainers(name)).toHaveLength(1);
  }, 40_000);

  it('refuses to start on a port that is already taken, naming the port, and leaves no container', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const name = uniqueName('port-taken');
    try {
      await expect(
        startService(gatewayConfig(name, randomPassword(), { apiPort: port }), containerOptions()),
      ).rejects.toThrow(new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already taken`));
      expect(await instanceContainers(name)).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 30_000);
});
