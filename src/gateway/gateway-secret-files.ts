import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The gateway images run as the non-root user "ibgateway" (uid/gid 1000), which must read the secret files. */
const CONTAINER_UID = 1000;
const CONTAINER_GID = 1000;

/**
 * Secret files handed to the gateway container by a read-only bind mount (Docker-secret style), so that no
 * password is ever in the container's environment, command line or `docker inspect`. They live in a private
 * directory (0700) below the data dir, one per container, and are deleted when the container is stopped.
 */
export class GatewaySecretFiles {
  private readonly directory: string;

  constructor(dataDir: string, containerName: string) {
    // Bind mounts need an absolute path.
    this.directory = join(resolve(dataDir), 'gateway-secrets', containerName);
  }

  /** Writes (or rewrites in place, keeping the inode a running container has mounted) one secret; returns its path. */
  write(name: string, value: string): string {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    chmodSync(this.directory, 0o700);
    const path = join(this.directory, name);
    writeFileSync(path, value, { mode: 0o600 });
    chmodSync(path, 0o600);
    this.makeReadableInside(path);
    return path;
  }

  removeAll(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }

  /**
   * Owner-only (0600) works when the file belongs to the container's user: as root we hand it over. Otherwise
   * (a non-root supervisor with another uid) the file must be world-readable, and the 0700 directory is what
   * keeps other users of this machine out.
   */
  private makeReadableInside(path: string): void {
    const uid = process.getuid?.();
    if (uid === 0) chownSync(path, CONTAINER_UID, CONTAINER_GID);
    else if (uid !== CONTAINER_UID) chmodSync(path, 0o644);
  }
}
