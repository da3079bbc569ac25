import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where the gateway images read their secret files (the gnzsnz/ib-gateway interface, which the simulator copies). */
export const SECRETS_DIR = '/run/secrets';
/** The gateway images run as the non-root user "ibgateway" (uid/gid 1000), which must read the secret files. */
export const SECRET_OWNER = { uid: 1000, gid: 1000, name: 'ibgateway' };
/** Only their owner may read them; the directory only their owner may list. */
export const SECRET_FILE_MODE = 0o400;
export const SECRET_DIR_MODE = 0o500;

const BLOCK = 512;

/** A ustar field: octal digits, zero-padded, ending in NUL. */
function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** One ustar header (POSIX.1-1988), the format Docker's archive API unpacks. */
function header(name: string, type: 'file' | 'directory', size: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`The archive entry name ${name} is too long`);
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(type === 'file' ? SECRET_FILE_MODE : SECRET_DIR_MODE, 8), 100, 'ascii');
  block.write(octal(SECRET_OWNER.uid, 8), 108, 'ascii');
  block.write(octal(SECRET_OWNER.gid, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(mtime, 12), 136, 'ascii');
  block.write(type === 'file' ? '0' : '5', 156, 'ascii');
  block.write('ustar\u000000', 257, 'ascii');
  block.write(SECRET_OWNER.name, 265, 32, 'ascii');
  block.write(SECRET_OWNER.name, 297, 32, 'ascii');
  // The checksum is the byte sum of the header with its own field read as eight spaces.
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/**
 * A tar archive, in memory, of `secrets` (file name → content) as files of {@link SECRETS_DIR} (without its
 * leading slash, so it is unpacked at "/"), owned by the image's user, mode 0400, after their directory's own
 * entry (0500). Docker creates a missing parent (/run) as root, 0755, and leaves an existing one as it is.
 * The caller zeroes the buffer once Docker has it.
 */
export function secretsArchive(
  secrets: Record<string, string>,
  mtime = Math.floor(Date.now() / 1000),
): Buffer {
  const directory = `${SECRETS_DIR.replace(/^\//, '')}/`;
  const parts: Buffer[] = [header(directory, 'directory', 0, mtime)];
  for (const [name, value] of Object.entries(secrets)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`Not a secret file name: ${name}`);
    const content = Buffer.from(value, 'utf8');
    parts.push(header(`${directory}${name}`, 'file', content.length, mtime), content);
    parts.push(Buffer.alloc((BLOCK - (content.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(2 * BLOCK)); // the end of the archive
  const archive = Buffer.concat(parts);
  for (const part of parts) part.fill(0);
  return archive;
}

/**
 * The gateway container's secret files. They are put into the created container (Docker's archive API,
 * before its first start), so they live in its writable layer: `docker restart` and `docker start` keep
 * them, nothing is bind-mounted from this machine, and the Docker daemon may run on another one. No copy is
 * ever written to this machine's disk; only a directory that older versions (which bind-mounted the files
 * from `<data-dir>/gateway-secrets/<container>`) left behind is cleared here.
 */
export class GatewaySecretFiles {
  private readonly legacyDirectory: string;

  constructor(dataDir: string, containerName: string) {
    this.legacyDirectory = join(resolve(dataDir), 'gateway-secrets', containerName);
  }

  /** The archive of these secrets to put into the container at "/"; zero it once Docker has it. */
  archive(secrets: Record<string, string>): Buffer {
    return secretsArchive(secrets);
  }

  /** Removes the secret files an older version kept under the data dir (and their parent once it is empty). */
  removeLegacyFiles(): void {
    rmSync(this.legacyDirectory, { recursive: true, force: true });
    const parent = resolve(this.legacyDirectory, '..');
    try {
      if (readdirSync(parent).length === 0) rmdirSync(parent);
    } catch {
      // No such directory, or not ours to clear: nothing of this container's is left in it either way.
    }
  }
}
