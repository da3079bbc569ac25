import type { z } from 'zod';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import { DockerRepository } from '../../../src/gateway/docker.repository';
import type { GatewayStatus } from '../../../src/gateway/gateway.schemas';
import type { HealthEvents, HealthStatus } from '../../../src/health/health.schemas';
import { startService, type RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { FAST_WATCHDOG, FX_OPEN, eventually } from '../health/health-harness';
import { connectMcpClient, testConfig } from '../service/service-harness';
import { callTool, restClient } from '../orders/orders-harness';
import { websocketUrl } from '../security/security-harness';
import { WebsocketTcpBridge } from '../vnc/websocket-tcp-bridge';
import { RfbClient, RfbHandshakeError } from '../../support/rfb-client';

jest.setTimeout(60_000);

/**
 * The address kind: a TWS or IB Gateway someone else runs (here a simulator the test starts on its own, as a
 * user's desktop TWS would be). The supervisor attaches to its API port and never touches its process: no
 * Docker call, no start/stop/restart; when only a restart would cure it, the health state says a human must.
 */
describe('a gateway attached by address (--gateway-address)', () => {
  let gateway: IbGatewaySimulator;
  let service: RunningService | undefined;
  const dockerCalls: string[] = [];

  beforeAll(() => {
    // Any Docker call would be a bug in this mode: every repository method is watched.
    for (const name of Object.getOwnPropertyNames(DockerRepository.prototype)) {
      if (name === 'constructor') continue;
      jest.spyOn(DockerRepository.prototype as never, name as never).mockImplementation(() => {
        dockerCalls.push(name);
        throw new Error(`Docker was called in address mode: ${name}`);
      });
    }
  });

  beforeEach(async () => {
    gateway = new IbGatewaySimulator({ seed: 5 });
    await gateway.start();
    gateway.setClock(FX_OPEN);
    const config = testConfig({
      gateway: { ...CONFIG_DEFAULTS.gateway, address: `127.0.0.1:${gateway.port}` },
      watchdog: FAST_WATCHDOG,
    });
    service = await startService(config);
  });

  afterEach(async () => {
    await service?.close();
    service = undefined;
    await gateway.stop();
  });

  afterAll(() => {
    jest.restoreAllMocks();
    expect(dockerCalls).toEqual([]);
  });

  async function health(): Promise<z.infer<typeof HealthStatus>> {
    const response = await fetch(`${service?.urls.base}/health/status`);
    return (await response.json()) as z.infer<typeof HealthStatus>;
  }

  async function until(state: string, timeoutMs = 20_000): Promise<z.infer<typeof HealthStatus>> {
    return eventually(
      state,
      async () => {
        const status = await health();
        return status.state === state ? status : undefined;
      },
      timeoutMs,
    );
  }

  it('serves every operation through the gateway at the address, and says what it cannot do for it', async () => {
    if (!service) throw new Error('no service');
    const rest = restClient(service);
    await until('data-flowing');
    const status = await rest.get<z.infer<typeof GatewayStatus>>('/gateway/status');
    expect(status.body).toMatchObject({
      mode: 'address',
      address: `127.0.0.1:${gateway.port}`,
      state: 'logged-in',
      container: null,
      controls: { lifecycle: false, logs: false, vnc: false },
    });
    const quote = await rest.get<{ symbol: string }>('/market-data/quote?symbol=AAPL');
    expect(quote.status).toBe(200);
    const placed = await rest.post<{ orderId: number }>('/orders', {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: 1,
      idempotencyKey: 'address-1',
    });
    expect(placed.status).toBe(200);
    expect(gateway.broker.snapshot().orders.map((order) => order.orderRef)).toEqual(['address-1']);

    for (const path of ['/gateway/stop', '/gateway/restart']) {
      const refused = await rest.post<{ code: string; message: string }>(path, {});
      expect([refused.status, refused.body.code]).toEqual([409, 'CONFLICT']);
      expect(refused.body.message).toMatch(/runs outside the supervisor/);
    }
    const mcp = await connectMcpClient(service);
    try {
      const tool = await callTool<{ code: string }>(mcp, 'restart_gateway', {});
      expect([tool.isError, tool.structured.code]).toEqual([true, 'CONFLICT']);
    } finally {
      await mcp.close();
    }
    // /vnc says why there is no screen to show, instead of pretending the gateway is down.
    const bridge = await WebsocketTcpBridge.open(websocketUrl(service));
    try {
      const error = await RfbClient.connect({ port: bridge.port }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RfbHandshakeError);
      expect((error as RfbHandshakeError).reason).toMatch(
        /runs outside the supervisor \(--gateway-address\): the supervisor has no view of its screen/,
      );
    } finally {
      await bridge.close();
    }
    // Still attached, still flowing: nothing was stopped.
    expect((await health()).state).toBe('data-flowing');
  });

  it('climbs resubscribe and reconnect for frozen data, then says a human must restart the gateway', async () => {
    await until('data-flowing');
    gateway.freezeMarketData();
    const needsHuman = await until('needs-human');
    expect(needsHuman.reason).toMatch(/runs outside the supervisor .* a human must restart it/);
    const ladder = (await (
      await fetch(`${service?.urls.base}/health/events?source=ladder`)
    ).json()) as z.infer<typeof HealthEvents>;
    expect(ladder.events.map((event) => event.to)).toEqual(
      expect.arrayContaining(['resubscribe', 'reconnect']),
    );
    expect(ladder.events.some((event) => /a human must restart it/.test(event.reason))).toBe(true);
    const metrics = await (await fetch(service?.urls.metrics ?? '')).text();
    expect(metrics).toMatch(/ibgs_health_state\{state="needs-human",gateway="default"\} 1/);
    expect(service?.gateway.status().restartCount).toBe(0);

    // The human restarts their gateway (here: the freeze ends): data flows again, nothing else needed.
    gateway.freezeMarketData(false);
    await until('data-flowing');
  });

  it('reconnects when the gateway vanishes, and says a human must start it when it keeps not answering', async () => {
    await until('data-flowing');
    await gateway.refuseConnections(60_000);
    gateway.dropConnections();
    const needsHuman = await until('needs-human');
    expect(needsHuman.reason).toMatch(/does not answer its API port .* a human must start or restart it/);
    expect(service?.gateway.status().restartCount).toBe(0);
  });
});
