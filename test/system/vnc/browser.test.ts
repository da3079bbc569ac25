import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import { startTestService, testConfig } from '../../integration/service/service-harness';

/** Debian's chromium (apt-get install chromium); playwright never downloads a browser here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const API_TOKEN = 'browser-test-token-0123456789';
const VNC_PASSWORD = 'scr33n-pw';
/** Screenshots land here, for a person to look at. */
const SCREENSHOTS = join(tmpdir(), 'ibgs-browser-screenshots');

interface ScreenStats {
  distinctColours: number;
  /** Share of pixels that differ from the most common colour (the background). */
  inkShare: number;
}

function screenStats(png: Buffer): ScreenStats {
  const image = PNG.sync.read(png);
  const counts = new Map<number, number>();
  for (let at = 0; at < image.data.length; at += 4) {
    const colour = image.data.readUInt32BE(at);
    counts.set(colour, (counts.get(colour) ?? 0) + 1);
  }
  const pixels = image.width * image.height;
  const background = Math.max(...counts.values());
  return { distinctColours: counts.size, inkShare: (pixels - background) / pixels };
}

function differingPixels(a: Buffer, b: Buffer): number {
  const first = PNG.sync.read(a);
  const second = PNG.sync.read(b);
  if (first.width !== second.width || first.height !== second.height) return first.width * first.height;
  let count = 0;
  for (let at = 0; at < first.data.length; at += 4) {
    if (first.data.readUInt32BE(at) !== second.data.readUInt32BE(at)) count++;
  }
  return count;
}

describe('in a real browser (headless Chromium)', () => {
  let service: RunningService;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    service = await startTestService(
      testConfig({
        gateway: { ...CONFIG_DEFAULTS.gateway, vncPassword: VNC_PASSWORD },
        security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN },
      }),
    );
    profile = mkdtempSync(join(tmpdir(), 'ibgs-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 60_000); // Chromium's start on a busy 2-core machine

  afterAll(async () => {
    await context?.close();
    await service?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("opens /vnc with the token once and shows the simulator's status screen, which follows the gateway's state", async () => {
    await page.goto(`${service.urls.base}/vnc?token=${API_TOKEN}`);
    // The token left the address bar for an HttpOnly cookie.
    expect(new URL(page.url()).pathname).toBe('/vnc');
    expect(new URL(page.url()).search).toBe('');
    const cookie = (await context.cookies()).find((candidate) => candidate.name === 'ibgs_token');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate<string>('document.cookie')).not.toContain('ibgs_token');

    await page
      .waitForSelector('body[data-state="connected"]', { timeout: 30_000 })
      .catch(async (error: unknown) => {
        const status = await page.locator('#status').innerText();
        throw new Error(
          `noVNC did not connect (page status: "${status}", page errors: ${pageErrors.join('; ')}): ${String(error)}`,
        );
      });
    const canvas = page.locator('#screen canvas');
    const waitForInk = async (): Promise<Buffer> => {
      // The first frame may still be on its way when noVNC reports the connection.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const shot = await canvas.screenshot();
        if (screenStats(shot).inkShare > 0.01 || Date.now() > deadline) return shot;
        await page.waitForTimeout(200);
      }
    };
    const loggedIn = await waitForInk();
    writeFileSync(join(SCREENSHOTS, 'vnc-logged-in.png'), loggedIn);
    const stats = screenStats(loggedIn);
    expect(stats.distinctColours).toBeGreaterThan(2);
    expect(stats.inkShare).toBeGreaterThan(0.01);
    service.simulator?.login.set('awaiting-2fa');
    try {
      let awaiting = loggedIn;
      const deadline = Date.now() + 20_000;
      // The clock changes a few pixels every second; the state line changes many.
      while (differingPixels(loggedIn, awaiting) < 500 && Date.now() < deadline) {
        await page.waitForTimeout(250);
        awaiting = await canvas.screenshot();
      }
      writeFileSync(join(SCREENSHOTS, 'vnc-awaiting-2fa.png'), awaiting);
      expect(differingPixels(loggedIn, awaiting)).toBeGreaterThan(500);
      expect(screenStats(awaiting).inkShare).toBeGreaterThan(0.01);
    } finally {
      service.simulator?.login.set('logged-in');
    }
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('opens /docs and runs get_connection_status with "Try it out"', async () => {
    await page.goto(`${service.urls.base}/docs?token=${API_TOKEN}`);
    const operation = page.locator('#operations-connection-get_connection_status');
    await operation.locator('.opblock-summary').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();
    const response = operation.locator('.live-responses-table tbody tr.response').first();
    await response.waitFor({ timeout: 10_000 });
    expect((await response.locator('.response-col_status').innerText()).trim()).toBe('200');
    const body = JSON.parse(await response.locator('.response-col_description pre').first().innerText()) as {
      state: string;
      port: number;
    };
    expect(body.state).toBe('connected');
    expect(body.port).toBe(service.simulator?.port);
    await page.screenshot({ path: join(SCREENSHOTS, 'docs-try-it-out.png') });
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
