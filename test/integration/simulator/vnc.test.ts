import { connect } from 'node:net';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { renderStatusScreen } from '../../../src/simulator/vnc/status-screen';
import { VncServer } from '../../../src/simulator/vnc/vnc-server';
import { connectClient, decodeErrors, disconnectAllClients } from '../../support/ib-client';
import {
  NOVNC_PIXEL_FORMAT,
  RGB565_BIG_ENDIAN,
  RfbClient,
  RfbHandshakeError,
  type RfbClientOptions,
} from '../../support/rfb-client';
import { recordWire } from '../../support/wire-recorder';

const TITLE = 'Test Gateway';
const openClients = new Set<RfbClient>();

async function connectRfb(options: RfbClientOptions): Promise<RfbClient> {
  const client = await RfbClient.connect(options);
  openClients.add(client);
  return client;
}

function closeAllRfbClients(): void {
  for (const client of openClients) client.close();
  openClients.clear();
}

async function fullFrame(client: RfbClient): Promise<Buffer> {
  client.requestUpdate(false);
  await client.nextUpdate();
  return Buffer.from(client.framebuffer);
}

function distinctColours(framebuffer: Buffer): number {
  const colours = new Set<number>();
  for (let at = 0; at < framebuffer.length; at += 4) colours.add(framebuffer.readUInt32BE(at));
  return colours.size;
}

/** Pixels that differ from the top-left corner's colour (the background). */
function nonBackgroundPixels(framebuffer: Buffer): number {
  const background = framebuffer.readUInt32BE(0);
  let count = 0;
  for (let at = 0; at < framebuffer.length; at += 4) if (framebuffer.readUInt32BE(at) !== background) count++;
  return count;
}

describe('VNC server', () => {
  let lines: string[];
  let server: VncServer;
  let port: number;

  beforeEach(async () => {
    lines = ['IB GATEWAY SIMULATOR', '', 'STATE: Logging in...', 'API CLIENTS: 0'];
    server = new VncServer({
      host: '127.0.0.1',
      port: 0,
      title: TITLE,
      statusLines: () => lines,
      minFrameIntervalMs: 20,
    });
    port = await server.listen();
  });

  afterEach(async () => {
    closeAllRfbClients();
    await server.close();
  });

  it('hands a client without a password a full, non-blank frame of the status screen', async () => {
    expect(server.port).toBe(port);
    const client = await connectRfb({ port });
    expect(client.serverInit.name).toBe(TITLE);
    expect([client.width, client.height]).toEqual([800, 480]);
    expect(client.serverInit.pixelFormat).toMatchObject({ bitsPerPixel: 32, trueColour: true });

    client.requestUpdate(false);
    const update = await client.nextUpdate();
    expect(update.rects).toEqual([{ x: 0, y: 0, width: 800, height: 480, encoding: 0 }]);
    expect(distinctColours(client.framebuffer)).toBeGreaterThan(5);
    expect(nonBackgroundPixels(client.framebuffer)).toBeGreaterThan(5000);
    expect(client.framebuffer.equals(renderStatusScreen(TITLE, lines, 800, 480).pixels)).toBe(true);
  });

  it('draws the same picture in its own pixel format, in noVNC’s and in 16-bit RGB565', async () => {
    const [own, noVnc, rgb565] = await Promise.all([
      connectRfb({ port, pixelFormat: 'server' }),
      connectRfb({ port, pixelFormat: NOVNC_PIXEL_FORMAT }),
      connectRfb({ port, pixelFormat: RGB565_BIG_ENDIAN }),
    ]);
    const [ownFrame, noVncFrame, rgb565Frame] = await Promise.all([own, noVnc, rgb565].map(fullFrame));
    expect(ownFrame?.equals(noVncFrame ?? Buffer.alloc(0))).toBe(true);
    // RGB565 keeps 5-6 bits per channel: every channel within rounding of the 8-bit picture.
    let worst = 0;
    for (let at = 0; at < (ownFrame?.length ?? 0); at++) {
      worst = Math.max(worst, Math.abs((ownFrame?.[at] ?? 0) - (rgb565Frame?.[at] ?? 0)));
    }
    expect(worst).toBeLessThanOrEqual(5);
    expect(distinctColours(rgb565Frame ?? Buffer.alloc(0))).toBeGreaterThan(5);
  });

  it('answers an incremental request only when the screen changes, with the rows that changed', async () => {
    const client = await connectRfb({ port });
    const before = await fullFrame(client);

    client.requestUpdate(true);
    server.refresh(); // nothing changed: the request stays open
    expect(await client.updateArrivesWithin(300)).toBe(false);

    lines = ['IB GATEWAY SIMULATOR', '', 'STATE: Logged in', 'API CLIENTS: 0'];
    server.refresh();
    const update = await client.nextUpdate();
    expect(update.rects).toHaveLength(1);
    const [rect] = update.rects;
    // Only the stripe and the STATE line changed: neither the top of the header nor the bottom.
    expect(rect?.y).toBeGreaterThan(0);
    expect((rect?.y ?? 0) + (rect?.height ?? 0)).toBeLessThan(480);
    expect(client.framebuffer.equals(before)).toBe(false);
    expect(client.framebuffer.equals(renderStatusScreen(TITLE, lines, 800, 480).pixels)).toBe(true);
  });

  it('sends one frame per request however often the screen changes meanwhile', async () => {
    const client = await connectRfb({ port });
    await fullFrame(client);
    client.requestUpdate(true);
    for (let count = 1; count <= 5; count++) {
      lines = [...lines.slice(0, 3), `API CLIENTS: ${count}`];
      server.refresh();
    }
    await client.nextUpdate();
    expect(await client.updateArrivesWithin(300)).toBe(false);
    client.requestUpdate(true);
    expect(await client.updateArrivesWithin(300)).toBe(false);
    expect(client.framebuffer.equals(renderStatusScreen(TITLE, lines, 800, 480).pixels)).toBe(true);
  });

  it('survives a client that sends every byte separately, with key, pointer and cut-text input', async () => {
    const client = await connectRfb({ port, trickle: true });
    client.sendKey(0xff0d, true);
    client.sendKey(0xff0d, false);
    client.sendPointer(400, 240, 1);
    client.writeRaw(client.clientCutTextMessage('copied from the viewer'));
    client.requestUpdate(false);
    await client.nextUpdate();
    expect(client.framebuffer.equals(renderStatusScreen(TITLE, lines, 800, 480).pixels)).toBe(true);
  });

  it('speaks RFB 3.7 and 3.3 as well', async () => {
    for (const version of ['3.7', '3.3'] as const) {
      const client = await connectRfb({ port, version });
      expect(client.serverInit.name).toBe(TITLE);
      expect(nonBackgroundPixels(await fullFrame(client))).toBeGreaterThan(5000);
    }
  });

  it('closes a client that sends garbage or an unknown message, and keeps serving the others', async () => {
    const garbage = connect({ host: '127.0.0.1', port });
    garbage.on('error', () => undefined);
    garbage.resume(); // a paused socket never sees the end of the stream
    garbage.write('HELLO VNC!!\n');
    await new Promise<void>((resolve) => garbage.once('close', () => resolve()));

    const unknownMessage = await connectRfb({ port });
    unknownMessage.writeRaw(Buffer.from([99, 0, 0, 0]));
    await unknownMessage.closed;

    const colourMap = await connectRfb({ port });
    const setColourMapFormat = Buffer.alloc(20);
    setColourMapFormat.writeUInt8(8, 4); // 8 bits per pixel, true-colour flag 0
    colourMap.writeRaw(setColourMapFormat);
    await colourMap.closed;

    const healthy = await connectRfb({ port });
    expect(nonBackgroundPixels(await fullFrame(healthy))).toBeGreaterThan(5000);
  });
});

describe('VNC authentication', () => {
  let server: VncServer;
  let port: number;

  beforeAll(async () => {
    server = new VncServer({
      host: '127.0.0.1',
      port: 0,
      password: 'secret',
      title: TITLE,
      statusLines: () => ['STATE: Logged in'],
    });
    port = await server.listen();
  });

  afterEach(() => closeAllRfbClients());
  afterAll(async () => server.close());

  it('admits a client with the right password', async () => {
    const client = await connectRfb({ port, password: 'secret' });
    expect(client.serverInit.name).toBe(TITLE);
    expect(nonBackgroundPixels(await fullFrame(client))).toBeGreaterThan(1000);
  });

  it('refuses a wrong password with SecurityResult 1 and the 3.8 reason, then closes', async () => {
    const error = await connectRfb({ port, password: 'wrong' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RfbHandshakeError);
    expect(error).toMatchObject({ securityResult: 1, reason: 'Authentication failed', serverClosed: true });
  });

  it('refuses a client that asks for no authentication', async () => {
    const error = await connectRfb({ port, securityType: 1 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ securityResult: 1, serverClosed: true });
    expect(String((error as RfbHandshakeError).reason)).toMatch(/not offered/);
  });

  it('authenticates RFB 3.3 clients, which get no reason on failure', async () => {
    const client = await connectRfb({ port, password: 'secret', version: '3.3' });
    expect(client.serverInit.name).toBe(TITLE);
    const error = await connectRfb({ port, password: 'nope', version: '3.3' }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ securityResult: 1, reason: '', serverClosed: true });
  });
});

describe('the simulator’s status screen over VNC', () => {
  let simulator: IbGatewaySimulator;
  let vncPort: number;
  const title = 'IB Gateway (simulator)';

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ vnc: { port: 0, password: 'secret' } });
    recordWire(simulator);
    await simulator.start();
    vncPort = simulator.vncPort ?? 0;
  });

  afterEach(() => {
    closeAllRfbClients();
    disconnectAllClients();
  });
  afterAll(async () => simulator.stop());

  /** Follows the screen until it shows the simulator's current status lines (the clock ticks meanwhile). */
  async function waitForCurrentStatus(client: RfbClient): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const expected = renderStatusScreen(title, simulator.statusLines(), client.width, client.height);
      if (client.framebuffer.equals(expected.pixels)) return;
      client.requestUpdate(true);
      await client.nextUpdate();
    }
    throw new Error(`the screen never showed ${JSON.stringify(simulator.statusLines())}`);
  }

  /** The colour of the stripe under the header, which follows the STATE line. */
  function stripeColour(client: RfbClient): 'green' | 'amber' | 'red' | 'other' {
    const [red, green, blue] = client.pixel(client.width / 2, 66);
    if (green > 150 && red < 120 && blue < 150) return 'green';
    if (red > 200 && green > 120 && green < 200 && blue < 100) return 'amber';
    if (red > 200 && green < 100 && blue < 100) return 'red';
    return 'other';
  }

  it('listens on its own port and shows the gateway logged in', async () => {
    expect(vncPort).toBeGreaterThan(0);
    expect(vncPort).not.toBe(simulator.port);
    const client = await connectRfb({ port: vncPort, password: 'secret' });
    expect(client.serverInit.name).toBe(title);
    await fullFrame(client);
    await waitForCurrentStatus(client);
    expect(stripeColour(client)).toBe('green');
  });

  it('changes the screen when the login state changes', async () => {
    const client = await connectRfb({ port: vncPort, password: 'secret' });
    const loggedIn = await fullFrame(client);
    client.requestUpdate(true);
    simulator.login.set('awaiting-2fa');
    await client.nextUpdate();
    expect(client.framebuffer.equals(loggedIn)).toBe(false);
    await waitForCurrentStatus(client);
    expect(stripeColour(client)).toBe('amber');

    simulator.login.set('login-failed');
    await waitForCurrentStatus(client);
    expect(stripeColour(client)).toBe('red');

    simulator.login.set('logged-in');
    await waitForCurrentStatus(client);
    expect(stripeColour(client)).toBe('green');
  });

  it('shows an API client connecting', async () => {
    const client = await connectRfb({ port: vncPort, password: 'secret' });
    await fullFrame(client);
    await waitForCurrentStatus(client);
    const { errors } = await connectClient(simulator.port);
    expect(simulator.statusLines()).toContain('API CLIENTS: 1');
    await waitForCurrentStatus(client);
    expect(decodeErrors(errors)).toEqual([]);
  });
});
