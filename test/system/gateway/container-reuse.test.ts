import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess, containerStartArgs } from '../../support/cli-process';
import { assertDockerAvailable, docker, run } from '../../support/docker';

/**
 * A supervisor that finds its gateway container stopped (it was killed while no supervisor ran) starts that
 * same container again when its settings are today's, instead of replacing it: what the container keeps in its
 * writable layer survives, here the simulated broker's book (as IB's servers keep orders across a gateway
 * restart), and the order placed before is still there, at the broker and in the supervisor's answers.
 */

const IMAGE = 'ib-gateway-simulator:local';
const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a stopped gateway container of the same settings', () => {
  const containerName = `ibgs-test-reuse-${process.pid}`;
  const directory = mkdtempSync(join(tmpdir(), 'ibgs-reuse-'));
  const dataDir = join(directory, 'data');
  const passwordFile = join(directory, 'ib-password');
  const running: CliProcess[] = [];

  beforeAll(async () => {
    await assertDockerAvailable();
    await docker(['rm', '-f', containerName]).catch(() => undefined);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    writeFileSync(passwordFile, 'demo\n', { mode: 0o600 });
  }, 300_000);

  afterAll(async () => {
    for (const cli of running) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await docker(['rm', '-f', containerName]).catch(() => undefined);
    rmSync(directory, { recursive: true, force: true });
  }, 60_000);

  async function startSupervisor(): Promise<string> {
    const cli = new CliProcess(containerStartArgs({ image: IMAGE, containerName, dataDir }), {
      IBGS_PASSWORD_FILE: passwordFile,
    });
    running.push(cli);
    const [, base = ''] = await cli.waitFor(/Health\s+(http:\/\/\S+)\/health\n/);
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(200)) {
      const ready = await fetch(`${base}/health/ready`);
      if (ready.status === 200) return base;
    }
    throw new Error(`the supervisor never got ready:\n${cli.output}`);
  }

  async function containerId(): Promise<string> {
    return (await docker(['inspect', '-f', '{{.Id}}', containerName])).trim();
  }

  it('starts it again: same container, the order placed before still at the broker and answered for', async () => {
    let base = await startSupervisor();
    const order = {
      symbol: 'AAPL',
      side: 'BUY',
      quantity: 1,
      orderType: 'LMT',
      limitPrice: 1,
      tif: 'GTC',
      idempotencyKey: 'before-the-kill',
    };
    const placed = await fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order),
    });
    expect(placed.status).toBe(200);
    const { orderId } = (await placed.json()) as { orderId: number };
    const before = await containerId();

    // The supervisor dies, then its container: nobody is left to restart it.
    const first = running[0];
    first?.child.kill('SIGKILL');
    await first?.exited;
    await docker(['kill', containerName]);
    expect((await docker(['inspect', '-f', '{{.State.Running}}', containerName])).trim()).toBe('false');

    base = await startSupervisor();
    expect(await containerId()).toBe(before);
    expect(running[1]?.output).toMatch(/Started the stopped gateway container .* again/);
    const status = await fetch(`${base}/orders/status?idempotencyKey=before-the-kill`);
    expect(status.status).toBe(200);
    const answered = ((await status.json()) as { order: { orderId: number; status: string } }).order;
    expect(answered.orderId).toBe(orderId);
    // Still working at the broker: Submitted in regular hours, PreSubmitted outside them (the real clock runs).
    expect(['Submitted', 'PreSubmitted']).toContain(answered.status);
    // A retry of the same request finds it: no second order at the broker.
    const retry = await fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order),
    });
    expect(((await retry.json()) as { replayed: boolean; orderId: number }).replayed).toBe(true);
    const open = (await (await fetch(`${base}/orders/open`)).json()) as {
      orders: { orderId: number; idempotencyKey?: string }[];
    };
    expect(open.orders.filter((listed) => listed.idempotencyKey === 'before-the-kill')).toHaveLength(1);
  }, 240_000);
});
