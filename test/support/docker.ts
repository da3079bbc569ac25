import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

/** Every container a test starts carries this label, so leftovers of a crashed run can be found and removed. */
export const TEST_CONTAINER_LABEL = 'ib-gateway-supervisor.test';

export const REPO_ROOT = resolve(__dirname, '../..');

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} exited with ${exitCode ?? 'a signal'}:\n${stderr || stdout}`);
  }
}

/** Runs a command without a shell (arguments are never interpreted), rejecting with its output on failure. */
export async function run(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      { cwd: REPO_ROOT, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: options.env },
      (error, stdout, stderr) => {
        if (error) {
          const exitCode = typeof error.code === 'number' ? error.code : null;
          reject(new CommandFailed(`${file} ${args.join(' ')}`, exitCode, stdout, stderr));
        } else {
          resolvePromise({ stdout, stderr });
        }
      },
    );
  });
}

export async function docker(args: readonly string[], timeoutMs?: number): Promise<string> {
  return (await run('docker', args, { timeoutMs })).stdout;
}

/** Fails (never skips) with a message that says how to get a Docker daemon. */
export async function assertDockerAvailable(): Promise<void> {
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], 20_000);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(
      'These tests need a running Docker daemon and none answered. Install and start one ' +
        '(apt-get install -y docker.io && dockerd &), or run .ci/run, which does both.\n' +
        detail,
      { cause: error },
    );
  }
}

export interface ContainerSpec {
  image: string;
  env?: Record<string, string>;
  /** Host file → path inside the container, mounted read-only (Docker-secret style). */
  files?: Record<string, string>;
  /** Container ports to publish on 127.0.0.1 at random host ports. */
  ports?: number[];
  /** Value of {@link TEST_CONTAINER_LABEL}, to tell test files apart. */
  label: string;
}

function containerArgs(spec: ContainerSpec): string[] {
  const args = ['--label', `${TEST_CONTAINER_LABEL}=${spec.label}`];
  for (const [name, value] of Object.entries(spec.env ?? {})) args.push('-e', `${name}=${value}`);
  for (const [hostPath, containerPath] of Object.entries(spec.files ?? {})) {
    args.push('-v', `${hostPath}:${containerPath}:ro`);
  }
  for (const port of spec.ports ?? []) args.push('-p', `127.0.0.1::${port}`);
  return args;
}

/** Starts a detached container; resolves with its id. */
export async function startContainer(spec: ContainerSpec): Promise<string> {
  return (await docker(['run', '-d', ...containerArgs(spec), spec.image])).trim();
}

/** Runs a container to completion (it is kept for inspection; cleanup removes it). */
export async function runContainerToExit(spec: ContainerSpec): Promise<{ exitCode: number; output: string }> {
  try {
    const { stdout, stderr } = await run('docker', ['run', ...containerArgs(spec), spec.image], {
      timeoutMs: 30_000,
    });
    return { exitCode: 0, output: stdout + stderr };
  } catch (error) {
    if (!(error instanceof CommandFailed) || error.exitCode === null) throw error;
    return { exitCode: error.exitCode, output: error.stdout + error.stderr };
  }
}

/** The 127.0.0.1 host port Docker picked for a container port. */
export async function publishedPort(containerId: string, containerPort: number): Promise<number> {
  const output = await docker(['port', containerId, `${containerPort}/tcp`]);
  const match = /127\.0\.0\.1:(\d+)/.exec(output);
  if (!match)
    throw new Error(`Port ${containerPort} of ${containerId} is not published on 127.0.0.1: ${output}`);
  return Number(match[1]);
}

/** A container's log: its stdout, then its stderr. */
export async function containerLogs(containerId: string): Promise<string> {
  const { stdout, stderr } = await run('docker', ['logs', containerId]);
  return stdout + stderr;
}

/** Polls the container's log until `predicate` holds; rejects with the log so far on timeout. */
export async function waitForLog(
  containerId: string,
  predicate: (log: string) => boolean,
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await containerLogs(containerId);
    if (predicate(log)) return log;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for the container log; log so far:\n${log}`);
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 200));
  }
}

export async function inspectContainer(containerId: string): Promise<string> {
  return docker(['inspect', containerId]);
}

/** Removes every container carrying the test label (and `label` value, when given). */
export async function removeTestContainers(label?: string): Promise<void> {
  const filter = label === undefined ? TEST_CONTAINER_LABEL : `${TEST_CONTAINER_LABEL}=${label}`;
  const ids = (await docker(['ps', '-aq', '--filter', `label=${filter}`])).split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '-f', ...ids]);
}
