import { WebSocket } from 'ws';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { RfbClient, RfbHandshakeError } from '../../support/rfb-client';
import { upgradeStatus, websocketUrl } from '../security/security-harness';
import { startTestService, testConfig } from '../service/service-harness';
import { WebsocketTcpBridge } from './websocket-tcp-bridge';

const VNC_PASSWORD = 'vnc-pw-7';
const API_TOKEN = 'vnc-test-token-0123456789';
const READ_ONLY_TOKEN = 'vnc-test-read-only-0123456789';

/** The first bytes the proxy sends a viewer after the version exchange: the security types it offers. */
async function offeredSecurityTypes(url: string, headers: Record<string, string>): Promise<number[]> {
  const websocket = new WebSocket(url, { headers });
  const received: Buffer[] = [];
  let versionAnswered = false;
  try {
    return await new Promise<number[]>((resolve, reject) => {
      websocket.on('error', reject);
      websocket.on('message', (data: Buffer) => {
        received.push(data);
        const bytes = Buffer.concat(received);
        if (!versionAnswered && bytes.length >= 12) {
          versionAnswered = true;
          websocket.send(Buffer.from('RFB 003.008\n'));
        }
        const count = bytes[12];
        if (count !== undefined && bytes.length >= 13 + count) resolve([...bytes.subarray(13, 13 + count)]);
      });
    });
  } finally {
    websocket.terminate();
  }
}

function differingPixels(a: Buffer, b: Buffer): number {
  let count = 0;
  for (let at = 0; at < a.length; at += 4) if (a.readUInt32LE(at) !== b.readUInt32LE(at)) count++;
  return count;
}

function distinctColours(framebuffer: Buffer): number {
  const colours = new Set<number>();
  for (let at = 0; at < framebuffer.length; at += 4) colours.add(framebuffer.readUInt32LE(at));
  return colours.size;
}

describe('the /vnc websocket proxy to the simulator gateway screen', () => {
  let service: RunningService;
  let simulator: IbGatewaySimulator;
  const bridges: WebsocketTcpBridge[] = [];
  const clients: RfbClient[] = [];
  const auth = { authorization: `Bearer ${API_TOKEN}` };

  beforeAll(async () => {
    service = await startTestService(
      testConfig({
        gateway: { ...CONFIG_DEFAULTS.gateway, vncPassword: VNC_PASSWORD },
        security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
      }),
    );
    if (!service.simulator) throw new Error('simulator mode expected');
    simulator = service.simulator;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const bridge of bridges.splice(0)) await bridge.close();
  });

  afterAll(async () => {
    await service.close();
  });

  const viewer = async (headers: Record<string, string> = auth): Promise<RfbClient> => {
    const bridge = await WebsocketTcpBridge.open(websocketUrl(service), headers);
    bridges.push(bridge);
    const client = await RfbClient.connect({ port: bridge.port }); // no password: the proxy supplies it
    clients.push(client);
    return client;
  };

  it("offers the browser no authentication, because it answers the gateway's VNC password itself", async () => {
    expect(service.urls.vnc).toBe(`${service.urls.base}/vnc`);
    const direct = await RfbClient.connect({ port: simulator.vncPort ?? 0 }).catch((error: unknown) => error);
    expect(direct).toBeInstanceOf(Error); // the simulator's VNC server itself needs the password
    expect(await offeredSecurityTypes(websocketUrl(service), auth)).toEqual([1]);

    const client = await viewer();
    expect(client.serverInit.name).toBe('IB Gateway (simulator)');
    client.requestUpdate(false);
    await client.nextUpdate();
    expect(distinctColours(client.framebuffer)).toBeGreaterThan(1);
  });

  it("shows exactly the simulator's screen", async () => {
    const proxied = await viewer();
    const direct = await RfbClient.connect({ port: simulator.vncPort ?? 0, password: VNC_PASSWORD });
    clients.push(direct);
    expect([proxied.width, proxied.height]).toEqual([direct.width, direct.height]);
    // The screen shows a clock: compare full updates taken together until both fall in the same second.
    let difference = Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < 5 && difference !== 0; attempt++) {
      proxied.requestUpdate(false);
      direct.requestUpdate(false);
      await Promise.all([proxied.nextUpdate(), direct.nextUpdate()]);
      difference = differingPixels(proxied.framebuffer, direct.framebuffer);
    }
    expect(difference).toBe(0);
  });

  it("follows the gateway's login state", async () => {
    const client = await viewer();
    client.requestUpdate(false);
    await client.nextUpdate();
    const before = Buffer.from(client.framebuffer);
    simulator.login.set('awaiting-2fa');
    try {
      // Incremental updates until the state line has changed (the clock alone changes a few pixels).
      let changed = 0;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        client.requestUpdate(true);
        await client.nextUpdate();
        changed = differingPixels(before, client.framebuffer);
        if (changed > 500) break;
      }
      expect(changed).toBeGreaterThan(500);
    } finally {
      simulator.login.set('logged-in');
    }
  });

  it('speaks the older RFB versions 3.7 and 3.3 to viewers that ask for them', async () => {
    for (const version of ['3.7', '3.3'] as const) {
      const bridge = await WebsocketTcpBridge.open(websocketUrl(service), auth);
      bridges.push(bridge);
      const client = await RfbClient.connect({ port: bridge.port, version });
      clients.push(client);
      expect(client.serverInit.name).toBe('IB Gateway (simulator)');
      client.requestUpdate(false);
      await client.nextUpdate();
      expect(distinctColours(client.framebuffer)).toBeGreaterThan(1);
    }
  });

  it('refuses the websocket without the full API token, or from a foreign page', async () => {
    const url = websocketUrl(service);
    expect(await upgradeStatus(url, {})).toBe(401);
    expect(await upgradeStatus(url, { authorization: 'Bearer wrong-token-0123456789' })).toBe(401);
    expect(await upgradeStatus(url, { authorization: `Bearer ${READ_ONLY_TOKEN}` })).toBe(403);
    expect(await upgradeStatus(url, { ...auth, origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(url, { ...auth, host: 'evil.example' })).toBe(403);
    expect(await upgradeStatus(url, { cookie: `ibgs_token=${API_TOKEN}` })).toBe(101);
    expect(await upgradeStatus(url, { ...auth, origin: service.urls.base })).toBe(101);
  });
});

describe('the /vnc proxy tells the viewer why there is no screen', () => {
  it("says when the service's VNC password is refused, without showing it", async () => {
    const simulator = new IbGatewaySimulator({ vnc: { port: 0, password: 'the-real' } });
    await simulator.start();
    const wrongPassword = 'not-the-pw';
    const service = await startTestService(
      testConfig({ gateway: { ...CONFIG_DEFAULTS.gateway, vncPassword: wrongPassword } }),
      { simulator },
    );
    const bridge = await WebsocketTcpBridge.open(websocketUrl(service));
    try {
      const error = await RfbClient.connect({ port: bridge.port }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RfbHandshakeError);
      const reason = (error as RfbHandshakeError).reason;
      expect(reason).toMatch(/refused the VNC password the service has \(gateway\.vncPassword\)/);
      expect(reason).not.toContain(wrongPassword);
      expect(reason).not.toContain('not-the');
    } finally {
      await bridge.close();
      await service.close();
      await simulator.stop();
    }
  });

  it('says when the gateway has no screen', async () => {
    const simulator = new IbGatewaySimulator(); // no VNC server
    await simulator.start();
    const service = await startTestService(testConfig(), { simulator });
    const bridge = await WebsocketTcpBridge.open(websocketUrl(service));
    try {
      const error = await RfbClient.connect({ port: bridge.port }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RfbHandshakeError);
      expect((error as RfbHandshakeError).reason).toMatch(/screen is not available/);
    } finally {
      await bridge.close();
      await service.close();
      await simulator.stop();
    }
  });
});
