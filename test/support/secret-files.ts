import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docker } from './docker';

/** A secret file inside a running container, as the image's user (uid 1000) sees it. */
export interface SecretFileFacts {
  content: string;
  /** Permission bits, e.g. 0o400. */
  mode: number;
  uid: number;
  gid: number;
  /** The uid that read it (the exec runs as 1000, the gateway image's user "ibgateway"). */
  readBy: number;
}

const READ_AS_IMAGE_USER = `
const fs = require('node:fs');
const path = process.argv[1];
const stat = fs.statSync(path);
process.stdout.write(JSON.stringify({
  content: fs.readFileSync(path, 'utf8'),
  mode: stat.mode & 0o7777,
  uid: stat.uid,
  gid: stat.gid,
  readBy: process.getuid(),
}));
`;

/**
 * Reads `path` inside the container as uid 1000 with the image's own node (the simulator image has no shell or
 * cat). `dockerArgs` go before `exec`, e.g. ['-H', 'tcp://127.0.0.1:2375'] for another endpoint.
 */
export async function secretFileInContainer(
  containerId: string,
  path: string,
  dockerArgs: string[] = [],
): Promise<SecretFileFacts> {
  const output = await docker([
    ...dockerArgs,
    'exec',
    '--user',
    '1000',
    containerId,
    '/usr/local/bin/node',
    '-e',
    READ_AS_IMAGE_USER,
    path,
  ]);
  return JSON.parse(output) as SecretFileFacts;
}

/** Every file below `directory` (recursively) whose content holds one of `secrets`; [] if there is none. */
export function filesHolding(directory: string, secrets: string[]): string[] {
  if (!existsSync(directory)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...filesHolding(path, secrets));
    else if (entry.isFile()) {
      const content = readFileSync(path, 'utf8');
      if (secrets.some((secret) => content.includes(secret))) found.push(path);
    }
  }
  return found;
}
