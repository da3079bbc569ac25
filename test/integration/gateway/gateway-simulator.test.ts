import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RunningService } from '../../../src/main';
import { connectMcpClient, startTestService } from '../service/service-harness';

/** The gateway operations in simulator mode (no credentials): the in-process simulator is the gateway. */

interface GatewayStatusBody {
  mode: string;
  state: string;
  reason: string;
  loginBlocked: boolean;
  image: string | null;
  container: unknown;
  restartCount: number;
  ports: { api: number | null; vnc: number | null };
  lastError: { message: string } | null;
}

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('gateway operations against the in-process simulator', () => {
  let service: RunningService;
  let mcp: Client;

  beforeAll(async () => {
    service = await startTestService();
    mcp = await connectMcpClient(service);
  });

  afterAll(async () => {
    await mcp.close();
    await service.close();
  });

  const simulator = () => {
    if (!service.simulator) throw new Error('simulator mode expected');
    return service.simulator;
  };
  const post = async (path: string, body: unknown = {}) =>
    fetch(`${service.urls.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const status = async () =>
    (await (await fetch(`${service.urls.base}/gateway/status`)).json()) as GatewayStatusBody;

  it('reports the simulator as the gateway, logged in, on its API port', async () => {
    expect(await status()).toMatchObject({
      mode: 'simulator',
      state: 'logged-in',
      loginBlocked: false,
      image: null,
      container: null,
      ports: { api: simulator().port },
    });
    expect(service.gateway.apiTarget()).toEqual({
      host: '127.0.0.1',
      port: simulator().port,
      clientId: CONFIG_DEFAULTS.ib.clientId,
    });
  });

  it('declares honest safety hints on the gateway tools', async () => {
    const { tools } = await mcp.listTools();
    const hints = Object.fromEntries(
      tools
        .filter((tool) => tool.name.endsWith('_gateway') || tool.name.startsWith('get_gateway'))
        .map((tool) => [
          tool.name,
          [
            tool.annotations?.readOnlyHint,
            tool.annotations?.destructiveHint,
            tool.annotations?.idempotentHint,
          ],
        ]),
    );
    expect(hints).toEqual({
      get_gateway_status: [true, false, true],
      get_gateway_logs: [true, false, true],
      start_gateway: [false, false, true],
      stop_gateway: [false, true, true],
      restart_gateway: [false, true, false],
    });
  });

  it('restart_gateway: the simulator drops the session, refuses connections, logs in again', async () => {
    const states: string[] = [];
    const subscription = service.gateway.states.subscribe((change) => states.push(change.to));
    const before = simulator().stats().connectedClients.length;
    expect(before).toBe(1);
    let sawRefusal = false;
    const watcher = (async () => {
      for (let i = 0; i < 40 && !sawRefusal; i++) {
        if (!simulator().stats().listening) sawRefusal = true;
        await sleep(50);
      }
    })();
    const result = await mcp.callTool({
      name: 'restart_gateway',
      arguments: { reason: 'test restart', waitSeconds: 10 },
    });
    await watcher;
    subscription.unsubscribe();
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ state: 'logged-in', restartCount: 1 });
    expect(sawRefusal).toBe(true);
    expect(states).toEqual(expect.arrayContaining(['starting', 'logging-in', 'logged-in']));
    expect(states.at(-1)).toBe('logged-in');
    // The service's own IB session comes back by itself.
    for (let i = 0; i < 100 && simulator().stats().connectedClients.length === 0; i++) await sleep(100);
    expect(simulator().stats().connectedClients).toHaveLength(1);
  });

  it('a failed login blocks automatic restarts until a human starts the gateway', async () => {
    simulator().login.set('login-failed');
    for (let i = 0; i < 20 && service.gateway.state !== 'login-failed'; i++) await sleep(50);
    expect(await status()).toMatchObject({ state: 'login-failed', loginBlocked: true });
    expect((await status()).lastError?.message).toMatch(/unrecognized username or password/i);
    const refused = await service.gateway.requestAutomaticRestart('watchdog');
    expect(refused).toMatchObject({ outcome: 'refused', reason: 'login-blocked' });
    expect(refused.outcome === 'refused' && refused.message).toMatch(/Automatic restarts are stopped/);

    const started = await post('/gateway/start', { waitSeconds: 10 });
    expect(started.status).toBe(200);
    expect(await started.json()).toMatchObject({ state: 'logged-in', loginBlocked: false });
  });

  it('stop_gateway then start_gateway; logs show the login lines', async () => {
    const stopped = await post('/gateway/stop');
    expect(await stopped.json()).toMatchObject({ state: 'stopped' });
    expect(simulator().login.state).toBe('starting');
    expect(service.gateway.apiTarget()).toBeUndefined();
    const started = await post('/gateway/start', { waitSeconds: 10 });
    expect(await started.json()).toMatchObject({ state: 'logged-in' });
    const logs = (await (await fetch(`${service.urls.base}/gateway/logs?lines=50`)).json()) as {
      mode: string;
      lines: string[];
    };
    expect(logs.mode).toBe('simulator');
    expect(logs.lines.some((line) => line.endsWith('IBC: Login has completed'))).toBe(true);
  });

  it('rejects bad input naming the field', async () => {
    const response = await fetch(`${service.urls.base}/gateway/logs?lines=0`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain('lines');
  });
});
