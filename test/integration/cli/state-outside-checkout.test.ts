import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');

/** What git sees changed in the checkout (tracked or not, ignored files aside). */
function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: ROOT }).toString();
}

describe('state lives outside the checkout', () => {
  const stateHome = mkdtempSync(join(tmpdir(), 'ibgs-state-'));

  beforeAll(() => {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' });
  }, 120_000);

  afterAll(() => rmSync(stateHome, { recursive: true, force: true }));

  it('started from the clone with default settings, a paper order leaves git status as it was', async () => {
    const before = gitStatus();
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('IBGS_')),
    );
    const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--log-level', 'warn'], {
      cwd: ROOT,
      env: { ...inherited, XDG_STATE_HOME: stateHome },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      let base: string | undefined;
      while (!base && Date.now() < deadline) {
        base = /Health\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout)?.[1];
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(base).toBeDefined();
      while (Date.now() < deadline && (await fetch(`${base}/health/ready`)).status !== 200) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const placed = await fetch(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          symbol: 'AAPL',
          side: 'BUY',
          quantity: 1,
          orderType: 'MKT',
          idempotencyKey: 'state-1',
        }),
      });
      expect(placed.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }

    const dataDir = join(stateHome, 'ib-gateway-supervisor');
    expect(readFileSync(join(dataDir, 'order-journal.jsonl'), 'utf8')).toContain('"state-1"');
    expect(readFileSync(join(dataDir, 'order-idempotency-keys.jsonl'), 'utf8')).toContain('"state-1"');
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(existsSync(join(ROOT, '.ib-gateway-supervisor'))).toBe(false);
    expect(gitStatus()).toBe(before);
  }, 90_000);
});
