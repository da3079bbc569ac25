import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess } from '../../support/cli-process';
import { assertDockerAvailable, docker, run } from '../../support/docker';

/**
 * The supervisor of two gateway containers (paper and live) is SIGKILLed while an order for each is on its
 * way. The same command started again adopts both running containers, finds each gateway's journal and keys
 * in its own folder, and the retries with the same keys answer for the orders without placing any twice:
 * each broker holds exactly one order per key, and only its own.
 */

jest.setTimeout(240_000);

const IMAGE = 'ib-gateway-simulator:local';
const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ACCOUNTS = { paper: 'DU1234567', live: 'U1234567' } as const;

describe('a supervisor of two gateways killed mid-request', () => {
  const prefix = `ibgs-test-kill-${process.pid}`;
  const containers = { paper: `${prefix}-paper`, live: `${prefix}-live` };
  const directory = mkdtempSync(join(tmpdir(), 'ibgs-many-kill-'));
  const configFile = join(directory, 'supervisor.yaml');
  const running: CliProcess[] = [];

  beforeAll(async () => {
    await assertDockerAvailable();
    for (const name of Object.values(containers)) await docker(['rm', '-f', name]).catch(() => undefined);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    // The simulator image's accounts accept "demo".
    writeFileSync(join(directory, 'paper-password'), 'demo\n', { mode: 0o600 });
    writeFileSync(join(directory, 'live-password'), 'demo\n', { mode: 0o600 });
    writeFileSync(
      configFile,
      [
        'port: 0',
        'logLevel: info',
        `dataDir: ${join(directory, 'data')}`,
        `gateway: { image: "${IMAGE}", containerName: ${prefix}, startTimeoutSeconds: 90 }`,
        'orders: { allowLive: true }',
        'gateways:',
        '  - name: paper',
        '    ib: { username: trader1, passwordFile: paper-password }',
        '  - name: live',
        '    ib: { username: trader2, passwordFile: live-password, tradingMode: live }',
      ].join('\n'),
    );
  }, 300_000);

  afterAll(async () => {
    for (const cli of running) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    for (const name of Object.values(containers)) await docker(['rm', '-f', name]).catch(() => undefined);
    rmSync(directory, { recursive: true, force: true });
  }, 60_000);

  async function startSupervisor(): Promise<{ cli: CliProcess; base: string }> {
    const cli = new CliProcess(['start', '--config', configFile], {});
    running.push(cli);
    const [, base = ''] = await cli.waitFor(/Health\s+(http:\/\/\S+)\/health\n/, 150_000);
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(200)) {
      if ((await fetch(`${base}/health/ready`)).status === 200) return { cli, base };
    }
    throw new Error(`the supervisor never got ready:\n${cli.output}`);
  }

  const order = (gateway: keyof typeof ACCOUNTS) => ({
    account: ACCOUNTS[gateway],
    symbol: 'AAPL',
    side: 'BUY',
    quantity: 1,
    orderType: 'LMT',
    limitPrice: 1,
    tif: 'GTC',
    idempotencyKey: `killed-${gateway}-${process.pid}`,
  });

  async function place(base: string, gateway: keyof typeof ACCOUNTS): Promise<Response> {
    return fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order(gateway)),
    });
  }

  /** Order refs in a container's broker book, from its control API on Docker's bridge network. */
  async function bookRefs(containerName: string): Promise<string[]> {
    const address = (
      await docker(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', containerName])
    ).trim();
    const book = (await (await fetch(`http://${address}:4010/broker`)).json()) as {
      orders: Array<{ orderRef: string; account: string }>;
    };
    return book.orders.map((entry) => `${entry.account}:${entry.orderRef}`);
  }

  async function containerIds(): Promise<string[]> {
    return Promise.all(
      Object.values(containers).map(async (name) =>
        (await docker(['inspect', '-f', '{{.Id}}', name])).trim(),
      ),
    );
  }

  it('adopts both containers, and each retry answers for its order, placed exactly once at its own broker', async () => {
    const first = await startSupervisor();
    expect(first.cli.output).toContain('supervising 2 gateways');
    const idsBefore = await containerIds();

    // Both orders leave; the supervisor dies before either is answered (or just after: the retry must tell).
    const inFlight = [place(first.base, 'paper'), place(first.base, 'live')].map(async (request) =>
      request.then((response) => response.status).catch(() => 'no answer'),
    );
    await sleep(15);
    first.cli.child.kill('SIGKILL');
    await first.cli.exited;
    const firstAnswers = await Promise.all(inFlight);

    const second = await startSupervisor();
    expect(await containerIds()).toEqual(idsBefore); // adopted, not replaced: a second login would kick the first
    for (const gateway of ['paper', 'live'] as const) {
      const retry = await place(second.base, gateway);
      const body = (await retry.json()) as { orderId?: number; replayed?: boolean; message?: string };
      expect({ gateway, status: retry.status, message: body.message }).toEqual({
        gateway,
        status: 200,
        message: undefined,
      });
    }
    const expected = (gateway: keyof typeof ACCOUNTS) =>
      `${ACCOUNTS[gateway]}:${order(gateway).idempotencyKey}`;
    expect(await bookRefs(containers.paper)).toEqual([expected('paper')]);
    expect(await bookRefs(containers.live)).toEqual([expected('live')]);
    // What the first supervisor answered before it died, for the record of this run.
    expect(firstAnswers.every((answer) => answer === 'no answer' || answer === 200)).toBe(true);

    second.cli.child.kill('SIGTERM');
    expect(await second.cli.exited).toBe(0);
  });
});
