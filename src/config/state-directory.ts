import { homedir } from 'node:os';
import { join } from 'node:path';

const APP = 'ib-gateway-supervisor';

/** How the default data dir reads in --help and the README, whatever machine prints it. */
export const DEFAULT_DATA_DIR_TEXT =
  '$XDG_STATE_HOME/ib-gateway-supervisor, else ~/.local/state/ib-gateway-supervisor';

/**
 * The per-user state directory: the order journal and idempotency keys belong to the user,
 * never to the working directory (a clone of this repository would otherwise hold them, one `git commit -a`
 * from being pushed). XDG's state home on Linux, Library/Application Support on macOS, LOCALAPPDATA on Windows.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, APP);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', APP);
  if (platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, APP, 'state');
  return join(homedir(), '.local', 'state', APP);
}
