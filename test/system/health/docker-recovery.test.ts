import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { INSTANCE_LABEL } from '../../../src/gateway/container-gateway-runtime';
import type { HealthEvents, HealthStatus } from '../../../src/health/health.schemas';
import { startService, type RunningService } from '../../../src/main';
import { connectMcpClient, startTestService, testConfig } from '../../integration/service/service-harness';
import {
  assertDockerAvailable,
  docker,
  removeTestContainers,
  run,
  TEST_CONTAINER_LABEL,
} from '../../support/docker';
import {
  eventually,
  FAST_WATCHDOG,
  FX_CLOSED,
  FX_OPEN,
  sleep,
} from '../../integration/health/health-harness';

/**
 * The watchdog and the recovery ladder against a real Docker daemon running the simulator image: the faults
 * are injected through the container's own control API (port 4010 inside, reached at the container's bridge
 * address), exactly as a test from outside would see a real gateway misbehave.
 */

jest.setTimeout(180_000);

const IMAGE = 'ib-gateway-simulator:local';
const LABEL = `docker-recovery-${process.pid}`;
const STALE_AFTER_SECONDS = 3;
let containerCount = 0;

type Status = z.infer<typeof HealthStatus>;
type Events = z.infer<typeof HealthEvents>;

/** The supervisor with a container; `acceptPassword: false` leaves the simulated account's password at "demo". */
async function startSupervisor({ acceptPassword = true }: { acceptPassword?: boolean } = {}): Promise<{
  service: RunningService;
  containerName: string;
}> {
  const containerName = `ibgs-test-recovery-${process.pid}-${++containerCount}`;
  const base = testConfig();
  // A wrong password never gets the session ready: start without waiting for readiness.
  const start = acceptPassword ? startTestService : startService;
  const service = await start(
    testConfig({
      ib: { ...base.ib, username: 'trader1', password: `pw-${randomBytes(12).toString('hex')}` },
      gateway: {
        ...base.gateway,
        image: IMAGE,
        containerName,
        apiPort: 0,
        vncPort: 0,
        startTimeoutSeconds: 60,
      },
      watchdog: { ...FAST_WATCHDOG, staleAfterSeconds: STALE_AFTER_SECONDS, backoffMaxSeconds: 2 },
    }),
    {
      gatewayContainer: {
        labels: { [TEST_CONTAINER_LABEL]: LABEL },
        env: {
          SIM_LOGIN_DELAY_MS: '300',
          ...(acceptPassword ? { SIM_ACCEPTED_PASSWORD_FILE: '/run/secrets/tws_password' } : {}),
          // An open FX market, also after a container restart (the real clock may be a weekend).
          SIM_CLOCK: new Date(FX_OPEN).toISOString(),
        },
      },
    },
  );
  return { service, containerName };
}

async function instanceContainers(containerName: string): Promise<string[]> {
  const output = await docker(['ps', '-q', '--filter', `label=${INSTANCE_LABEL}=${containerName}`]);
  return output.split('\n').filter(Boolean);
}

/** The container's control API, at its address on Docker's bridge network. */
async function control(containerName: string, path: string, body: unknown = {}): Promise<void> {
  const address = (
    await docker(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', containerName])
  ).trim();
  const response = await fetch(`http://${address}:4010${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

async function status(service: RunningService): Promise<Status> {
  return (await (await fetch(`${service.urls.base}/health/status`)).json()) as Status;
}

async function events(service: RunningService, source?: string): Promise<Events> {
  const query = source === undefined ? '' : `?source=${source}`;
  return (await (await fetch(`${service.urls.base}/health/events${query}`)).json()) as Events;
}

describe('stale-data recovery against the simulator image on a real Docker daemon', () => {
  let running: RunningService | undefined;
  let mcp: Client | undefined;

  beforeAll(async () => {
    await assertDockerAvailable();
    await removeTestContainers(LABEL);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
  }, 300_000);

  afterEach(async () => {
    await mcp?.close();
    mcp = undefined;
    await running?.close();
    running = undefined;
    await removeTestContainers(LABEL);
  });

  it('frozen data in the container: detected within the threshold, the ladder restarts the container, data flows again', async () => {
    const { service, containerName } = await startSupervisor();
    running = service;
    await eventually(
      'data-flowing',
      async () => ((await status(service)).state === 'data-flowing' ? true : undefined),
      60_000,
    );
    const [containerBefore] = await instanceContainers(containerName);

    const frozenAt = Date.now();
    await control(containerName, '/market-data/freeze', { scope: 'gateway' });
    const first = await eventually(
      'the first ladder action',
      async () => (await events(service, 'ladder')).events[0],
    );
    expect(first).toMatchObject({ from: 'idle', to: 'resubscribe' });
    expect(Date.parse(first.at) - frozenAt).toBeLessThanOrEqual((STALE_AFTER_SECONDS + 1.5) * 1000);

    // Nobody unfreezes: only a restart of the container brings a fresh gateway.
    await eventually(
      'data flowing again after the ladder',
      async () => {
        const current = await status(service);
        return current.state === 'data-flowing' && current.ladder.rung === 'idle' ? current : undefined;
      },
      120_000,
    );
    const rungs = (await events(service, 'ladder')).events.map((event) => [event.from, event.to]);
    expect(rungs).toEqual([
      ['idle', 'resubscribe'],
      ['resubscribe', 'reconnect'],
      ['reconnect', 'restart'],
      ['restart', 'idle'],
    ]);
    const gateway = (await (await fetch(`${service.urls.base}/gateway/status`)).json()) as {
      restartCount: number;
    };
    expect(gateway.restartCount).toBe(1);
    // The same container, restarted: exactly one exists.
    expect(await instanceContainers(containerName)).toEqual([containerBefore]);

    // MCP reads the same history.
    mcp = await connectMcpClient(service);
    const result = await mcp.callTool({ name: 'get_health_events', arguments: { source: 'ladder' } });
    expect(result.isError).not.toBe(true);
    const viaMcp = (result.structuredContent as Events).events.map((event) => [event.from, event.to]);
    expect(viaMcp).toEqual(rungs);
  });

  it('the clock moved to a Saturday in a data-flowing container: market-closed, no ladder action, no restart', async () => {
    const { service, containerName } = await startSupervisor();
    running = service;
    await eventually(
      'data-flowing',
      async () => ((await status(service)).state === 'data-flowing' ? true : undefined),
      60_000,
    );

    // The ticks stop because the market closes, not because anything broke.
    await control(containerName, '/clock', { time: new Date(FX_CLOSED).toISOString() });
    await eventually(
      'market-closed',
      async () => ((await status(service)).state === 'market-closed' ? true : undefined),
      (STALE_AFTER_SECONDS + 5) * 1000,
    );
    await sleep((STALE_AFTER_SECONDS * 3 + 2) * 1000);
    const current = await status(service);
    expect(current.state).toBe('market-closed');
    expect(current.market.open).toBe(false);
    expect((await events(service, 'ladder')).events).toEqual([]);
    const healthStates = (await events(service, 'health')).events.map((event) => event.to);
    expect(healthStates).not.toContain('stale');
    expect(healthStates).not.toContain('recovering');
    const gateway = (await (await fetch(`${service.urls.base}/gateway/status`)).json()) as {
      restartCount: number;
    };
    expect(gateway.restartCount).toBe(0);
    expect(await instanceContainers(containerName)).toHaveLength(1);
  });

  it('a wrong password: the ladder halts, never restarts the container, and status says why', async () => {
    const { service, containerName } = await startSupervisor({ acceptPassword: false });
    running = service;
    const blocked = await eventually(
      'login-failed',
      async () => {
        const current = await status(service);
        return current.state === 'login-failed' ? current : undefined;
      },
      60_000,
    );
    expect(blocked.gateway).toEqual({ state: 'login-failed', loginBlocked: true });
    expect(blocked.reason).toMatch(/password/i);
    // Long enough for the whole ladder, had it acted on the missing market data.
    await sleep((STALE_AFTER_SECONDS + 3 * FAST_WATCHDOG.backoffMaxSeconds) * 1000);

    const ladder = (await events(service, 'ladder')).events;
    expect(ladder.map((event) => event.to)).toEqual(['halted']);
    expect(ladder[0]?.reason).toContain('until a human');
    expect((await events(service, 'gateway')).events.map((event) => event.to)).not.toContain('starting');
    const gateway = (await (await fetch(`${service.urls.base}/gateway/status`)).json()) as {
      restartCount: number;
      loginAttempts: number;
    };
    expect(gateway).toMatchObject({ restartCount: 0, loginAttempts: 1 });
    // Stopped (so IBC cannot retry the login) and kept for its log: one container, never started again.
    expect(await instanceContainers(containerName)).toEqual([]);
    const all = await docker(['ps', '-aq', '--filter', `label=${INSTANCE_LABEL}=${containerName}`]);
    expect(all.split('\n').filter(Boolean)).toHaveLength(1);
    expect((await status(service)).state).toBe('login-failed');
  });
});
