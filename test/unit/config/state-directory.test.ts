import { homedir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import { formatDefault, SETTINGS } from '../../../src/config/settings';
import { DEFAULT_DATA_DIR_TEXT, defaultDataDir } from '../../../src/config/state-directory';

describe('the default data dir', () => {
  it("is XDG's state home when set", () => {
    expect(defaultDataDir({ XDG_STATE_HOME: '/srv/state' }, 'linux')).toBe(
      '/srv/state/ib-gateway-supervisor',
    );
  });

  it('is ~/.local/state/ib-gateway-supervisor on Linux otherwise', () => {
    expect(defaultDataDir({}, 'linux')).toBe(join(homedir(), '.local', 'state', 'ib-gateway-supervisor'));
  });

  it("is the user's Application Support on macOS and LOCALAPPDATA on Windows", () => {
    expect(defaultDataDir({}, 'darwin')).toBe(
      join(homedir(), 'Library', 'Application Support', 'ib-gateway-supervisor'),
    );
    expect(defaultDataDir({ LOCALAPPDATA: 'C:\\Users\\t\\AppData\\Local' }, 'win32')).toBe(
      join('C:\\Users\\t\\AppData\\Local', 'ib-gateway-supervisor', 'state'),
    );
  });

  it('is never inside the working directory', () => {
    expect(CONFIG_DEFAULTS.dataDir.startsWith('/') || /^[A-Za-z]:/.test(CONFIG_DEFAULTS.dataDir)).toBe(true);
    expect(CONFIG_DEFAULTS.dataDir.startsWith(process.cwd())).toBe(false);
  });

  it('reads the same in --help and the README on every machine', () => {
    const setting = SETTINGS.find((candidate) => candidate.path === 'dataDir');
    expect(setting && formatDefault(setting)).toBe(DEFAULT_DATA_DIR_TEXT);
  });
});
