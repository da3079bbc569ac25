import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './docker';

/**
 * The built CLI (dist/cli.js) as a child process, run from the repository root with the test's environment
 * minus any IBGS_ setting of the machine, its stdout and stderr collected together.
 */
export class CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output = '';

  constructor(args: string[], env: Record<string, string>) {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('IBGS_')),
    );
    this.child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'cli.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...inherited, ...env },
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Its argument list as every process on the machine sees it (ps). */
  commandLine(): string {
    return readFileSync(`/proc/${this.child.pid}/cmdline`, 'utf8').split('\0').join(' ');
  }

  /** Waits until the output matches, failing early if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the CLI never printed ${String(pattern)}; its output:\n${this.output}`);
  }
}

/** The arguments of `start` in container mode against a test image, with free ports picked by the system. */
export function containerStartArgs(options: {
  image: string;
  containerName: string;
  dataDir: string;
  port?: string;
  logLevel?: string;
}): string[] {
  return [
    'start',
    '--username',
    'trader1',
    '--image',
    options.image,
    '--container-name',
    options.containerName,
    '--gateway-api-port',
    '0',
    '--gateway-vnc-port',
    '0',
    '--port',
    options.port ?? '0',
    '--log-level',
    options.logLevel ?? 'info',
    '--data-dir',
    options.dataDir,
  ];
}
