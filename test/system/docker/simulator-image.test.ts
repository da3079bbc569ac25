import { ConnectionState, IBApiNext } from '@stoqey/ib';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, decodeErrors, disconnectAllClients, waitForState } from '../../support/ib-client';
import { rfbGreeting } from '../../support/rfb-client';
import {
  assertDockerAvailable,
  containerLogs,
  docker,
  inspectContainer,
  publishedPort,
  removeTestContainers,
  run,
  runContainerToExit,
  startContainer,
  waitForLog,
} from '../../support/docker';

/**
 * The simulator's Docker image, driven only from the outside as a supervisor would drive the real
 * gnzsnz/ib-gateway image: environment, a mounted password file, published ports and the container log.
 * (No in-process simulator exists here, so there is nothing for recordWire to tap; @stoqey/ib decodes every
 * message the container sends, and decodeErrors() checks that it found none unreadable.)
 */

const IMAGE = 'ib-gateway-simulator:local';
const LABEL = 'simulator-image';
const PAPER_API = 4004;
const LIVE_API = 4003;
const CONTROL = 4010;
const VNC = 5900;
const SECRETS = '/run/secrets';

const sleep = async (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** IBC's console line layout: "yyyy-MM-dd HH:mm:ss:SSS IBC: <message>". */
const ibc = (message: string) =>
  new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d:\\d{3} IBC: ${message}$`, 'm');
const LOGIN_COMPLETED = ibc('Login has completed');
const LOGIN_FAILED = ibc('detected dialog entitled: Unrecognized Username or Password; event=Opened');
const SECOND_FACTOR = ibc('Second Factor Authentication initiated');
const LOGIN_ATTEMPT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} IBC: Login attempt: \d+$/gm;

function lineIndex(log: string, pattern: RegExp): number {
  const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(log);
  return match ? log.slice(0, match.index).split('\n').length : -1;
}

async function controlState(controlPort: number): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${controlPort}/state`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

/** Opens a raw TCP connection, sends the TWS API handshake, and reports what came back before the close. */
async function rawHandshake(port: number): Promise<{ bytesReceived: number; closed: boolean }> {
  return new Promise((resolve) => {
    let bytesReceived = 0;
    const socket = tcpConnect(port, '127.0.0.1', () => {
      const range = Buffer.from('v100..193');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(range.length);
      socket.write(Buffer.concat([Buffer.from('API\0'), length, range]));
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ bytesReceived, closed: false });
    }, 5000);
    socket.on('data', (chunk) => (bytesReceived += chunk.length));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytesReceived, closed: true });
    });
  });
}

describe('the simulator Docker image, seen like the real IB Gateway image', () => {
  const secretsDir = mkdtempSync(join(tmpdir(), 'ibgw-secrets-'));
  /** Random, so that finding it anywhere in `docker inspect` cannot be a coincidence. */
  const accountPassword = `pw-${randomBytes(12).toString('hex')}`;
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
  const vncPassword = randomBytes(4).toString('hex');

  function secretFile(name: string, content: string): string {
    const path = join(secretsDir, name);
    // Readable by the container's non-root user (uid 1000); the directory stays private to this user.
    writeFileSync(path, `${content}\n`, { mode: 0o644 });
    return path;
  }

  const accountSecret = secretFile('sim_account_password', accountPassword);
  const rightSecret = secretFile('tws_password', accountPassword);
  const wrongSecret = secretFile('tws_password_wrong', wrongPassword);
  const vncSecret = secretFile('vnc_password', vncPassword);

  /** The container's login: TWS_USERID plus TWS_PASSWORD_FILE; the simulated account's password also by file. */
  async function gatewayContainer(
    twsPasswordFile: string,
    env: Record<string, string> = {},
    ports = [PAPER_API, CONTROL, VNC],
  ): Promise<string> {
    return startContainer({
      image: IMAGE,
      label: LABEL,
      env: {
        TWS_USERID: 'trader1',
        TWS_PASSWORD_FILE: `${SECRETS}/tws_password`,
        SIM_ACCEPTED_PASSWORD_FILE: `${SECRETS}/sim_account_password`,
        SIM_LOGIN_DELAY_MS: '300',
        ...env,
      },
      files: {
        [twsPasswordFile]: `${SECRETS}/tws_password`,
        [accountSecret]: `${SECRETS}/sim_account_password`,
        [vncSecret]: `${SECRETS}/vnc_password`,
      },
      ports,
    });
  }

  let goodContainer: string;
  let badContainer: string;

  beforeAll(async () => {
    await assertDockerAvailable();
    await removeTestContainers(LABEL);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    [goodContainer, badContainer] = await Promise.all([
      gatewayContainer(rightSecret, {
        SIM_ACCOUNTS: 'DU7654321',
        VNC_SERVER_PASSWORD_FILE: `${SECRETS}/vnc_password`,
      }),
      gatewayContainer(wrongSecret),
    ]);
  }, 300_000);

  afterEach(() => disconnectAllClients());

  afterAll(async () => {
    disconnectAllClients();
    rmSync(secretsDir, { recursive: true, force: true });
    await removeTestContainers(LABEL);
  }, 60_000);

  it('right password: IBC logs the login phases in order, and IBApiNext works through the published port', async () => {
    const log = await waitForLog(goodContainer, (text) => LOGIN_COMPLETED.test(text));
    const phases = [
      ibc('version: 3\\.24\\.1'),
      ibc('detected frame entitled: IBKR Gateway; event=Opened'),
      ibc('Login dialog WINDOW_OPENED: LoginState is LOGGED_OUT'),
      ibc('Setting Trading mode = paper'),
      ibc('Login attempt: 1'),
      ibc('Click button: Paper Log In'),
      LOGIN_COMPLETED,
    ].map((pattern) => lineIndex(log, pattern));
    expect(phases.every((line) => line > 0)).toBe(true);
    expect([...phases].sort((a, b) => a - b)).toEqual(phases);
    expect(log).toContain('Forking :::4002 onto 0.0.0.0:4004 > trading mode paper');

    const port = await publishedPort(goodContainer, PAPER_API);
    const { ib, errors } = await connectClient(port, { clientId: 7 });
    const before = Math.floor(Date.now() / 1000);
    const [accounts, time] = await Promise.all([ib.getManagedAccounts(), ib.getCurrentTime()]);
    expect(accounts).toEqual(['DU7654321']);
    expect(Math.abs(time - before)).toBeLessThanOrEqual(5);

    const state = await controlState(await publishedPort(goodContainer, CONTROL));
    expect(state.gatewayState).toBe('logged-in');
    expect(state.connectedClients).toEqual([expect.objectContaining({ clientId: 7 })]);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('wrong password: login fails once, is never retried, and the API port accepts and closes', async () => {
    await waitForLog(badContainer, (text) => LOGIN_FAILED.test(text));
    const port = await publishedPort(badContainer, PAPER_API);

    // Like socat with no gateway behind it: the connection is accepted, then closed without the handshake.
    expect(await rawHandshake(port)).toEqual({ bytesReceived: 0, closed: true });

    const ib = new IBApiNext({ host: '127.0.0.1', port, reconnectInterval: 0 });
    ib.connect(8);
    await expect(waitForState(ib, ConnectionState.Connected, 3000)).rejects.toThrow();
    ib.disconnect();

    const state = await controlState(await publishedPort(badContainer, CONTROL));
    expect(state.gatewayState).toBe('login-failed');
    expect(state.connectedClients).toEqual([]);

    await sleep(3000); // a retrying gateway would have logged a second attempt by now
    const log = await containerLogs(badContainer);
    expect(log.match(LOGIN_ATTEMPT)).toEqual([expect.stringContaining('Login attempt: 1')]);
    expect(log).not.toMatch(LOGIN_COMPLETED);
    expect(await docker(['inspect', '-f', '{{.State.Running}}', badContainer])).toContain('true');
  });

  it('serves VNC on 5900 only when VNC_SERVER_PASSWORD is set, as the image does', async () => {
    await waitForLog(
      goodContainer,
      (text) => text.includes('.> Starting VNC server') && LOGIN_COMPLETED.test(text),
    );
    expect(await rfbGreeting(await publishedPort(goodContainer, VNC))).toMatch(/^RFB 003\.00\d\n$/);
    const badLog = await waitForLog(badContainer, (text) => LOGIN_FAILED.test(text));
    expect(badLog).toContain('.> VNC server disabled');
    // Docker publishes the port, but nothing listens behind it: accepted, then closed in silence.
    expect(await rfbGreeting(await publishedPort(badContainer, VNC))).toBe('');
  });

  it('docker inspect shows no password: the environment only names the password file', async () => {
    for (const container of [goodContainer, badContainer]) {
      const inspected = await inspectContainer(container);
      expect(inspected).not.toContain(accountPassword);
      expect(inspected).not.toContain(wrongPassword);
      expect(inspected).not.toContain(vncPassword);
      const [details] = JSON.parse(inspected) as [{ Config: { Env: string[] } }];
      const names = details.Config.Env.map((entry) => entry.split('=')[0]);
      expect(names).toContain('TWS_PASSWORD_FILE');
      expect(names).not.toContain('TWS_PASSWORD');
    }
    // Nor does the log: IBC and ibcstart.sh mask the credentials.
    expect(await containerLogs(goodContainer)).not.toContain(accountPassword);
    expect(await containerLogs(badContainer)).not.toContain(wrongPassword);
    expect(await containerLogs(goodContainer)).not.toContain(vncPassword);
  });

  it('live mode with pending 2FA: API on 4003 stays shut until the control API completes the login', async () => {
    const container = await gatewayContainer(rightSecret, { TRADING_MODE: 'live', SIM_TWOFA: 'pending' }, [
      LIVE_API,
      CONTROL,
    ]);
    const controlPort = await publishedPort(container, CONTROL);
    const apiPort = await publishedPort(container, LIVE_API);
    const log = await waitForLog(container, (text) => SECOND_FACTOR.test(text));
    expect(log).toMatch(ibc('Click button: Log In'));
    expect(log).toContain('Forking :::4001 onto 0.0.0.0:4003 > trading mode live');
    expect((await controlState(controlPort)).gatewayState).toBe('awaiting-2fa');
    expect(await rawHandshake(apiPort)).toEqual({ bytesReceived: 0, closed: true });

    const response = await fetch(`http://127.0.0.1:${controlPort}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'logged-in' }),
    });
    expect(response.status).toBe(200);
    const completed = await waitForLog(container, (text) => LOGIN_COMPLETED.test(text));
    expect(lineIndex(completed, SECOND_FACTOR)).toBeLessThan(lineIndex(completed, LOGIN_COMPLETED));

    const { ib, errors } = await connectClient(apiPort);
    expect(await ib.getManagedAccounts()).toEqual(['U1234567']);
    expect(decodeErrors(errors)).toEqual([]);
  });

  it('refuses TWS_PASSWORD together with TWS_PASSWORD_FILE, as the image does', async () => {
    const { exitCode, output } = await runContainerToExit({
      image: IMAGE,
      label: LABEL,
      env: {
        TWS_USERID: 'trader1',
        TWS_PASSWORD: 'not-a-secret',
        TWS_PASSWORD_FILE: `${SECRETS}/tws_password`,
      },
      files: { [rightSecret]: `${SECRETS}/tws_password` },
    });
    expect(exitCode).toBe(1);
    expect(output).toContain('error: both TWS_PASSWORD and TWS_PASSWORD_FILE are set (but are exclusive)');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    await docker(['stop', '--time', '10', goodContainer], 30_000);
    expect((await docker(['inspect', '-f', '{{.State.ExitCode}}', goodContainer])).trim()).toBe('0');
    expect(await containerLogs(goodContainer)).toContain(
      'Received SIGINT or SIGTERM. Shutting down IB Gateway.',
    );
  });
});
