import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * One supervisor per HTTP port, per data dir and per gateway container. A second `start` must find out before
 * it touches Docker, IB or the data dir's state, and leave the first one's gateway alone.
 */

/** Who holds a lock: written into the lock file, and named when a second supervisor is refused. */
export interface SupervisorLockHolder {
  pid: number;
  hostname: string;
  /** Its HTTP API (REST, MCP, /gateway/status). */
  host: string;
  port: number;
  /** Its gateway containers' names, comma-separated; undefined without containers. */
  containerName: string | undefined;
  dataDir: string;
  startedAt: string;
}

interface LockFileContent extends SupervisorLockHolder {
  nonce: string;
}

/**
 * Another live supervisor (or, for the HTTP port, any process) holds the data dir, the container or the HTTP
 * port: nothing was touched. The CLI exits with {@link SupervisorConflictError.exitCode}.
 */
export class SupervisorConflictError extends Error {
  readonly exitCode = 3;

  constructor(
    message: string,
    readonly holder: SupervisorLockHolder | undefined,
  ) {
    super(message);
    this.name = 'SupervisorConflictError';
  }
}

export const DATA_DIR_LOCK_FILE = 'supervisor.lock';

export function dataDirLockPath(dataDir: string): string {
  return join(resolve(dataDir), DATA_DIR_LOCK_FILE);
}

/**
 * The lock of one container name on one Docker daemon, in the machine's temp dir, so that supervisors with
 * different data dirs (or users) still meet there. Docker container names are [a-zA-Z0-9][a-zA-Z0-9_.-]+.
 */
export function containerLockPath(containerName: string, dockerHost = process.env.DOCKER_HOST): string {
  const daemon = createHash('sha256')
    .update(dockerHost ?? 'default')
    .digest('hex')
    .slice(0, 12);
  const safeName = containerName.replace(/[^a-zA-Z0-9_.-]/g, '_');
  return join(tmpdir(), `ib-gateway-supervisor.container.${safeName}.${daemon}.lock`);
}

/** Lock files this process holds: a lock naming our own pid but not held here is left by an earlier life. */
const heldHere = new Set<string>();

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function readLock(path: string): LockFileContent | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 'missing';
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockFileContent>;
    if (typeof parsed.pid !== 'number' || typeof parsed.nonce !== 'string') return 'unreadable';
    return parsed as LockFileContent;
  } catch {
    return 'unreadable';
  }
}

/** True while the process that wrote the lock runs. A lock from another machine cannot be checked: it holds. */
function holderAlive(path: string, holder: LockFileContent): boolean {
  if (holder.hostname !== hostname()) return true;
  if (holder.pid === process.pid) return heldHere.has(path); // else: ours before a restart (pid 1 in a container)
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM'; // alive, another user's
  }
}

/** "pid 1234, HTTP API on 127.0.0.1:3000, ..." */
export function describeHolder(holder: SupervisorLockHolder, withDataDir = true): string {
  const host = holder.host.includes(':') ? `[${holder.host}]` : holder.host;
  const parts = [
    holder.hostname === hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.hostname}`,
    `HTTP API on ${host}:${holder.port}`,
  ];
  if (holder.containerName !== undefined) parts.push(`container ${holder.containerName}`);
  if (withDataDir) parts.push(`data dir ${holder.dataDir}`);
  parts.push(`since ${holder.startedAt}`);
  return parts.join(', ');
}

/** The live supervisor recorded in `path`, if any (never throws). */
export function liveHolder(path: string): SupervisorLockHolder | undefined {
  try {
    const content = readLock(path);
    return typeof content === 'object' && holderAlive(path, content) ? content : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An exclusive lock file: created atomically (a complete file is hard-linked into place, so it is never seen
 * half-written); one whose process is gone is taken over; one of a live process is refused.
 */
export class SupervisorLock {
  private released = false;
  private readonly onExit = () => this.releaseSync();

  private constructor(
    readonly path: string,
    private readonly nonce: string,
  ) {
    heldHere.add(path);
    // A supervisor that exits without closing (a second Ctrl+C) leaves no lock behind.
    process.on('exit', this.onExit);
  }

  /** Takes the lock or throws a {@link SupervisorConflictError} with `refusal(holder)` as its message. */
  static acquire(
    path: string,
    holder: SupervisorLockHolder,
    refusal: (holder: SupervisorLockHolder) => string,
  ): SupervisorLock {
    const nonce = randomBytes(8).toString('hex');
    const content = `${JSON.stringify({ ...holder, nonce } satisfies LockFileContent, null, 2)}\n`;
    const temporary = `${path}.${process.pid}.${nonce}.tmp`;
    writeFileSync(temporary, content, { mode: 0o644 });
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        if (SupervisorLock.place(temporary, path, content)) return new SupervisorLock(path, nonce);
        const current = readLock(path);
        if (current === 'missing') continue;
        if (current !== 'unreadable' && holderAlive(path, current)) {
          throw new SupervisorConflictError(refusal(current), current);
        }
        SupervisorLock.takeOver(path, current === 'unreadable' ? undefined : current.nonce);
      }
      throw new SupervisorConflictError(
        `Could not take the lock ${path}: other supervisors keep taking it; try again`,
        undefined,
      );
    } finally {
      rmSync(temporary, { force: true });
    }
  }

  /** Puts the lock in place unless one exists; false if one does. */
  private static place(temporary: string, path: string, content: string): boolean {
    try {
      linkSync(temporary, path);
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV'].includes(errorCode(error) ?? '')) throw error;
    }
    // A file system without hard links: exclusive create (a reader may then briefly see it empty).
    try {
      writeFileSync(path, content, { flag: 'wx', mode: 0o644 });
      return true;
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    }
  }

  /**
   * Removes a stale lock. It is first renamed aside and checked, so that of two supervisors taking over the
   * same stale lock at once, the slower one cannot remove the faster one's fresh lock.
   */
  private static takeOver(path: string, staleNonce: string | undefined): void {
    const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      renameSync(path, aside);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw new SupervisorConflictError(
        `The lock ${path} was left by a supervisor that is gone, but this user cannot remove it (${errorCode(error) ?? String(error)}); remove it by hand`,
        undefined,
      );
    }
    const moved = readLock(aside);
    const wasStale = typeof moved === 'object' ? moved.nonce === staleNonce : staleNonce === undefined;
    if (!wasStale) {
      // Another supervisor's fresh lock: put it back.
      try {
        linkSync(aside, path);
      } catch {
        // A third one took the place meanwhile; it holds the lock now.
      }
    }
    rmSync(aside, { force: true });
  }

  /** Removes the lock file if it is still this one's. */
  release(): void {
    process.off('exit', this.onExit);
    this.releaseSync();
  }

  private releaseSync(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    try {
      const current = readLock(this.path);
      if (typeof current === 'object' && current.nonce === this.nonce) unlinkSync(this.path);
    } catch {
      // Best effort: a lock left behind is stale once this process is gone.
    }
  }
}

/** The HTTP port, bound before anything else; it answers 503 until the service takes it over. */
export interface PortReservation {
  readonly port: number;
  /** Stops listening, so that the service can bind the same port right away. */
  release(): Promise<void>;
}

function displayHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Binds `host:port` (0 picks a free one) or throws a message that says who holds it and what to do.
 * `holderOf` names a live supervisor known to listen on that port, if any.
 */
export async function reservePort(
  host: string,
  port: number,
  holderOf: (port: number) => SupervisorLockHolder | undefined = () => undefined,
): Promise<PortReservation> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '2', connection: 'close' });
    response.end('ib-gateway-supervisor is starting\n');
  });
  try {
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen({ port, host, exclusive: true }, () => {
        server.off('error', reject);
        resolvePromise();
      });
    });
  } catch (error) {
    throw portError(error, host, port, holderOf);
  }
  const reserved = (server.address() as AddressInfo).port;
  let released: Promise<void> | undefined;
  return {
    port: reserved,
    release: async () => {
      released ??= new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
      });
      return released;
    },
  };
}

function portError(
  error: unknown,
  host: string,
  port: number,
  holderOf: (port: number) => SupervisorLockHolder | undefined,
): Error {
  const where = `${displayHost(host)}:${port}`;
  switch (errorCode(error)) {
    case 'EADDRINUSE': {
      const holder = holderOf(port);
      const by = holder ? ` by another ib-gateway-supervisor (${describeHolder(holder)})` : '';
      return new SupervisorConflictError(
        `Port ${port} on ${displayHost(host)} is already taken${by}, so the service cannot listen on it; nothing was started. ` +
          `Stop what uses it (e.g. \`ss -ltnp 'sport = :${port}'\`) or choose another port (--port; 0 picks a free one)`,
        holder,
      );
    }
    case 'EACCES':
      return new Error(
        `This user may not listen on ${where} (ports below 1024 need privileges); nothing was started. Choose another port (--port; 0 picks a free one)`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new Error(
        `Cannot listen on ${where}: ${displayHost(host)} is not an address of this machine; nothing was started. Check --host`,
      );
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}

/** What startService holds while it runs: the HTTP port (until the app binds it) and the locks. */
export interface SupervisorClaim {
  /** The HTTP port, reserved (the actual one when 0 was asked). */
  readonly port: number;
  /** Frees the port for the app to bind (just before it listens). */
  releasePort(): Promise<void>;
  /** Frees the port (if still held) and the locks. */
  release(): Promise<void>;
}

export interface ClaimRequest {
  host: string;
  port: number;
  dataDir: string;
  /** The gateway containers' names (each locked per Docker daemon as well); empty without containers. */
  containerNames: readonly string[];
}

/**
 * Claims, in this order, the HTTP port, the data dir and (container mode) the gateway container, before
 * anything else happens. Throws a {@link SupervisorConflictError} naming the live supervisor that holds one;
 * then nothing is held and nothing was changed.
 */
export async function claimSupervisor(request: ClaimRequest): Promise<SupervisorClaim> {
  const dataDir = resolve(request.dataDir);
  const dataDirLock = dataDirLockPath(dataDir);
  const containerLocks = request.containerNames.map((name) => ({ name, path: containerLockPath(name) }));
  const lockPaths = [dataDirLock, ...containerLocks.map((lock) => lock.path)];
  const reservation = await reservePort(request.host, request.port, (port) =>
    lockPaths.map(liveHolder).find((holder) => holder?.port === port),
  );
  const holder: SupervisorLockHolder = {
    pid: process.pid,
    hostname: hostname(),
    host: request.host,
    port: reservation.port,
    containerName: request.containerNames.length > 0 ? request.containerNames.join(', ') : undefined,
    dataDir,
    startedAt: new Date().toISOString(),
  };
  const locks: SupervisorLock[] = [];
  const releaseLocks = () => {
    for (const lock of locks.splice(0).reverse()) lock.release();
  };
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    locks.push(
      SupervisorLock.acquire(
        dataDirLock,
        holder,
        (held) =>
          `Another ib-gateway-supervisor is running with the data dir ${dataDir} (${describeHolder(held, false)}); one supervisor per data dir, and nothing was started. ` +
          `Stop it first (kill ${held.pid}), or give this one another --data-dir`,
      ),
    );
    for (const { name, path } of containerLocks) {
      locks.push(
        SupervisorLock.acquire(
          path,
          holder,
          (held) =>
            `The gateway container ${name} is supervised by another ib-gateway-supervisor (${describeHolder(held)}); this one leaves it alone and started nothing. ` +
            `Stop that supervisor first (kill ${held.pid}), or choose another --container-name`,
        ),
      );
    }
  } catch (error) {
    releaseLocks();
    await reservation.release();
    throw error;
  }
  return {
    port: reservation.port,
    releasePort: async () => reservation.release(),
    release: async () => {
      await reservation.release();
      releaseLocks();
    },
  };
}
