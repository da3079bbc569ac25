import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../../src/config/config.schema';
import { startService, type RunningService, type StartOptions } from '../../src/main';
import { assertDockerAvailable, docker, removeTestContainers, run, TEST_CONTAINER_LABEL } from '../support/docker';
import { startTestService, testConfig } from '../service/service-harness';
import { eventually, FAST_WATCHDOG, FX_OPEN, sleep } from './health-harness';

/**
 * The ladder against a real Docker daemon running the simulator image: the gateway is a container, the
 * fault is injected through the image's control API (port 4010 inside the container), and the last rung
 * restarts the container for real.
 */

const IMAGE = 'ib-gateway-simulator:local';
const LABEL = `health-docker-${process.pid}`;
const CONTROL_PORT = 4010;
const SECRET_INSIDE = '/run/secrets/tws_password';
let containerCount = 0;

function containerConfig(password: string): AppConfig {
  const base = testConfig();
  return testConfig({
    ib: { ...base.ib, username: 'trader1', password },
    gateway: {
      ...base.gateway,
      image: IMAGE,
      containerName: `ibgs-test-health-${process.pid}-${++containerCount}`,
      apiPort: 0,
      vncPort: 0,
      startTimeoutSeconds: 60,
    },
    watchdog: FAST_WATCHDOG,
  });
}

function containerOptions(env: Record<string, string> = {}): StartOptions {
  return {
    gatewayContainer: { labels: { [TEST_CONTAINER_LABEL]: LABEL }, env: { SIM_LOGIN_DELAY_MS: '300', ...env } },
  };
}

/** The simulator's control API is not published on the host: reach it on the container's bridge address. */
async function controlUrl(containerName: string): Promise<string> {
  const address = (
    await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', containerName])
  ).trim();
  if (!address) throw new Error(`Container ${containerName} has no bridge address`);
  return `http://${address}:${CONTROL_PORT}`;
}

async function control(url: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Tests run on any day; the simulated gateway's clock is set to a weekday afternoon so FX trades. */
async function setWeekdayClock(url: string): Promise<void> {
  await control(url, '/clock', { time: new Date(FX_OPEN).toISOString() });
}

async function health(service: RunningService, path: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${service.urls.base}/health/${path}`)).json()) as Record<string, unknown>;
}

interface Event {
  at: string;
  source: string;
  from: string;
  to: string;
  reason: string;
}

async function events(service: RunningService, source?: string): Promise<Event[]> {
  const body = await health(service, `events${source ? `?source=${source}` : ''}`);
  return body.events as Event[];
}

async function containersOfThisRun(): Promise<string[]> {
  const ids = await docker(['ps', '-aq', '--filter', `label=${TEST_CONTAINER_LABEL}=${LABEL}`]);
  return ids.split('\n').filter(Boolean);
}

describe('recovery ladder with a real gateway container (simulator image)', () => {
  const services: RunningService[] = [];

  beforeAll(async () => {
    await assertDockerAvailable();
    await removeTestContainers(LABEL);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
  }, 300_000);

  afterAll(async () => {
    await Promise.all(services.map(async (service) => service.close()));
    await removeTestContainers(LABEL);
  }, 60_000);

  it('brings frozen market data back without a human: resubscribe, reconnect, then a container restart', async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const config = containerConfig(password);
    const service = await startTestService(config, containerOptions({ SIM_ACCEPTED_PASSWORD_FILE: SECRET_INSIDE }));
    services.push(service);
    const url = await controlUrl(config.gateway.containerName);
    await setWeekdayClock(url);
    await eventually('data-flowing', async () => ((await health(service, 'status')).state === 'data-flowing' ? true : undefined), 30_000);

    await control(url, '/market-data/freeze', {}); // the gateway hangs: socket up, no ticks
    await eventually(
      'the ladder restarting the container',
      async () => ((await events(service, 'ladder')).some((event) => event.to === 'restart') ? true : undefined),
      30_000,
    );
    // The restarted container runs a fresh gateway process (real clock again): back to a weekday for the test.
    await eventually(
      'the gateway logged in again',
      async () => {
        const gateway = await events(service, 'gateway');
        const restarted = gateway.findIndex((event) => event.to === 'starting');
        return restarted >= 0 && gateway.slice(restarted).some((event) => event.to === 'logged-in') ? true : undefined;
      },
      60_000,
    );
    await eventually('the control API after the restart', async () => {
      try {
        await setWeekdayClock(url);
        return true;
      } catch {
        return undefined;
      }
    });

    const status = await eventually(
      'data flowing again',
      async () => {
        const current = await health(service, 'status');
        const ladder = current.ladder as { rung: string };
        return current.state === 'data-flowing' && ladder.rung === 'idle' ? current : undefined;
      },
      40_000,
    );
    expect((await events(service, 'ladder')).map((event) => [event.from, event.to])).toEqual([
      ['idle', 'resubscribe'],
      ['resubscribe', 'reconnect'],
      ['reconnect', 'restart'],
      ['restart', 'idle'],
    ]);
    expect(((await control(url, '/state')) as { marketDataFrozen: boolean }).marketDataFrozen).toBe(false);
    expect(status.restarts).toMatchObject({ lastHour: 1, breaker: 'closed' });
    expect(service.gateway.status()).toMatchObject({ state: 'logged-in', restartCount: 1 });
    expect(await containersOfThisRun()).toHaveLength(1); // restarted, not replaced by a second one
  }, 180_000);

  it('never restarts the container after a wrong password: the ladder halts and status says why', async () => {
    // The simulated account's password stays the image's default ("demo"); this one is wrong.
    const service = await startService(containerConfig(`pw-${randomBytes(12).toString('hex')}`), containerOptions());
    services.push(service);
    const status = await eventually(
      'login-failed',
      async () => {
        const current = await health(service, 'status');
        return current.state === 'login-failed' ? current : undefined;
      },
      30_000,
    );
    expect(status.gateway).toEqual({ state: 'login-failed', loginBlocked: true });
    expect(String(status.reason)).toMatch(/password/i);
    await sleep((FAST_WATCHDOG.staleAfterSeconds + 3 * FAST_WATCHDOG.backoffMaxSeconds) * 1000);

    const ladder = await events(service, 'ladder');
    expect(ladder.map((event) => event.to)).toEqual(['halted']);
    expect(ladder[0]?.reason).toContain('until a human');
    expect((await events(service, 'gateway')).map((event) => event.to)).not.toContain('starting');
    expect(service.gateway.status()).toMatchObject({ state: 'login-failed', restartCount: 0, loginAttempts: 1 });
    expect(await containersOfThisRun()).toHaveLength(2); // this test's one, plus the first test's
    expect((await health(service, 'status')).state).toBe('login-failed');
  }, 120_000);
});
