import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewaySecretFiles, secretsArchive } from '../../../src/gateway/gateway-secret-files';

/**
 * The secret files reach the gateway container as a tar archive that Docker unpacks into it (no bind mount,
 * no file on this machine). Docker reads ustar; this reads the archive back field by field.
 */

interface Entry {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  type: string;
  owner: string;
  group: string;
  content: string;
  checksumOk: boolean;
}

const field = (block: Buffer, offset: number, length: number) =>
  block
    .subarray(offset, offset + length)
    .toString('utf8')
    .replace(/\0.*$/s, '');
const octalField = (block: Buffer, offset: number, length: number) =>
  parseInt(field(block, offset, length).trim(), 8);

function readTar(archive: Buffer): { entries: Entry[]; endBlocks: number } {
  const entries: Entry[] = [];
  let offset = 0;
  while (offset < archive.length) {
    const block = archive.subarray(offset, offset + 512);
    if (block.every((byte) => byte === 0)) break;
    const size = octalField(block, 124, 12);
    const forSum = Buffer.from(block);
    forSum.fill(' ', 148, 156);
    expect(field(block, 257, 6)).toBe('ustar');
    expect(field(block, 263, 2)).toBe('00');
    entries.push({
      name: field(block, 0, 100),
      mode: octalField(block, 100, 8),
      uid: octalField(block, 108, 8),
      gid: octalField(block, 116, 8),
      size,
      type: field(block, 156, 1),
      owner: field(block, 265, 32),
      group: field(block, 297, 32),
      content: archive.subarray(offset + 512, offset + 512 + size).toString('utf8'),
      checksumOk: forSum.reduce((sum, byte) => sum + byte, 0) === octalField(block, 148, 8),
    });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return { entries, endBlocks: (archive.length - offset) / 512 };
}

describe('secretsArchive', () => {
  it('holds /run/secrets (0500) and each secret (0400), all owned by the image user 1000, unpacked at /', () => {
    const long = 'p'.repeat(700); // more than one block
    const archive = secretsArchive({ tws_password: 'pw-ü-3f1a', vnc_password: long }, 1_700_000_000);
    expect(archive.length % 512).toBe(0);
    const { entries, endBlocks } = readTar(archive);
    expect(endBlocks).toBe(2);
    expect(entries.map(({ name, type, mode, size }) => ({ name, type, mode, size }))).toEqual([
      { name: 'run/secrets/', type: '5', mode: 0o500, size: 0 },
      { name: 'run/secrets/tws_password', type: '0', mode: 0o400, size: Buffer.byteLength('pw-ü-3f1a') },
      { name: 'run/secrets/vnc_password', type: '0', mode: 0o400, size: 700 },
    ]);
    for (const entry of entries) {
      expect(entry).toMatchObject({ uid: 1000, gid: 1000, owner: 'ibgateway', group: 'ibgateway' });
      expect(entry.checksumOk).toBe(true);
    }
    // The file holds the secret exactly (no newline added; the images strip trailing newlines anyway).
    expect(entries[1]?.content).toBe('pw-ü-3f1a');
    expect(entries[2]?.content).toBe(long);
  });

  it('refuses a file name that is not a plain name (nothing can land outside /run/secrets)', () => {
    for (const name of ['../etc/passwd', 'a/b', '', '.ssh key']) {
      expect(() => secretsArchive({ [name]: 'x' })).toThrow(/Not a secret file name/);
    }
  });
});

describe('GatewaySecretFiles', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ibgs-secret-files-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('writes nothing to the data dir: the archive lives in memory only', () => {
    const archive = new GatewaySecretFiles(dataDir, 'ib-gateway').archive({ tws_password: 'pw-3f1a' });
    expect(archive.includes('pw-3f1a')).toBe(true);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('removes the secret directory an earlier version kept under the data dir, and its parent once empty', () => {
    const legacy = join(dataDir, 'gateway-secrets', 'ib-gateway');
    const other = join(dataDir, 'gateway-secrets', 'other-gateway');
    for (const directory of [legacy, other]) {
      mkdirSync(directory, { recursive: true, mode: 0o700 });
      writeFileSync(join(directory, 'tws_password'), 'old-pw', { mode: 0o600 });
    }
    new GatewaySecretFiles(dataDir, 'ib-gateway').removeLegacyFiles();
    expect(existsSync(legacy)).toBe(false);
    expect(existsSync(join(other, 'tws_password'))).toBe(true); // another container's, for its own supervisor
    new GatewaySecretFiles(dataDir, 'other-gateway').removeLegacyFiles();
    expect(readdirSync(dataDir)).toEqual([]);
    // Nothing to remove: no error.
    new GatewaySecretFiles(join(dataDir, 'missing'), 'ib-gateway').removeLegacyFiles();
  });
});
