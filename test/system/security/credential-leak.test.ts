import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AppConfig } from '../../../src/config/config.schema';
import type { RunningService } from '../../../src/main';
import {
  assertDockerAvailable,
  docker,
  removeTestContainers,
  run,
  TEST_CONTAINER_LABEL,
} from '../../support/docker';
import { CliProcess, containerStartArgs } from '../../support/cli-process';
import { filesHolding, secretFileInContainer } from '../../support/secret-files';
import { RfbClient } from '../../support/rfb-client';
import { startTestService, testConfig } from '../../integration/service/service-harness';
import { WebsocketTcpBridge } from '../../integration/vnc/websocket-tcp-bridge';
import {
  connectMcpClientWithToken,
  MCP_HEADERS,
  MCP_INITIALIZE,
  openApiRoutes,
  websocketUrl,
} from '../../integration/security/security-harness';

/**
 * The supervisor with every secret set (IB password, VNC password, both API tokens) and a real gateway
 * container (the simulator image, which has the real image's interface): no secret may show in a log
 * line, an API response, an error, or the container as `docker inspect` shows it.
 */

const IMAGE = 'ib-gateway-simulator:local';
const STREAM_READ_MS = 2_000;

/** What a never-ending stream sends within STREAM_READ_MS; then the request is aborted. */
async function firstSecondsOf(response: Response, abort: AbortController): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => abort.abort(), STREAM_READ_MS);
  try {
    for await (const chunk of response.body ?? [])
      text += decoder.decode(chunk as Uint8Array, { stream: true });
  } catch {
    // aborted: the stream was read long enough
  } finally {
    clearTimeout(timer);
  }
  return text;
}
const LABEL = `credential-leak-${process.pid}`;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const SECRETS = {
  ibPassword: `ib-pw-${hex(8)}`,
  // VNC Authentication uses 8 characters: all of them random, so a leaked prefix is a leak too.
  vncPassword: hex(4),
  apiToken: `api-token-${hex(12)}`,
  readOnlyToken: `read-only-token-${hex(12)}`,
};

/** Each secret, base64-encoded too, and the middle of the long ones, so that a re-encoded or cut copy is found. */
function secretFragments(): Array<[name: string, fragment: string]> {
  return Object.entries(SECRETS).flatMap(([name, value]): Array<[string, string]> => [
    [name, value],
    [`${name} (base64)`, Buffer.from(value).toString('base64')],
    ...(value.length >= 16 ? [[`${name} (middle)`, value.slice(4, -4)] as [string, string]] : []),
  ]);
}

/** The secrets found in `text`, by name. */
function leakedSecrets(text: string): string[] {
  return secretFragments()
    .filter(([, fragment]) => text.includes(fragment))
    .map(([name]) => name);
}

describe('credential hygiene with a real gateway container', () => {
  let service: RunningService;
  let config: AppConfig;
  const logLines: string[] = [];
  /** Everything the service answered, labelled by what was asked. */
  const answers: Array<{ what: string; text: string }> = [];
  const clients: Client[] = [];

  const remember = (what: string, text: string) => answers.push({ what, text });

  async function get(
    path: string,
    headers: Record<string, string> = {},
    init: RequestInit = {},
  ): Promise<Response> {
    const abort = new AbortController();
    const response = await fetch(`${service.urls.base}${path}`, {
      ...init,
      headers: { ...headers },
      signal: abort.signal,
    });
    // A stream (GET /events) never ends: what it sends in its first seconds is checked.
    const text = (response.headers.get('content-type') ?? '').startsWith('text/event-stream')
      ? await firstSecondsOf(response, abort)
      : await response.clone().text();
    remember(
      `${init.method ?? 'GET'} ${path} -> ${response.status}`,
      `${JSON.stringify([...response.headers])}\n${text}`,
    );
    return response;
  }

  beforeAll(async () => {
    await assertDockerAvailable();
    await removeTestContainers(LABEL);
    await run('bash', ['docker/build-simulator-image.sh', IMAGE], { timeoutMs: 280_000 });
    const base = testConfig();
    config = testConfig({
      logLevel: 'debug',
      ib: { ...base.ib, username: 'trader1', password: SECRETS.ibPassword },
      gateway: {
        ...base.gateway,
        image: IMAGE,
        containerName: `ibgs-test-credentials-${process.pid}`,
        apiPort: 0,
        vncPort: 0,
        vncPassword: SECRETS.vncPassword,
        startTimeoutSeconds: 60,
      },
      security: { ...base.security, apiToken: SECRETS.apiToken, readOnlyToken: SECRETS.readOnlyToken },
    });
    const logDestination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    service = await startTestService(config, {
      logDestination,
      gatewayContainer: {
        labels: { [TEST_CONTAINER_LABEL]: LABEL },
        // The simulated IB account accepts exactly the password the supervisor hands over.
        env: { SIM_LOGIN_DELAY_MS: '300', SIM_ACCEPTED_PASSWORD_FILE: '/run/secrets/tws_password' },
      },
    });
  }, 300_000);

  afterAll(async () => {
    for (const client of clients) await client.close();
    await service?.close();
    await removeTestContainers(LABEL);
  }, 60_000);

  const full = { authorization: `Bearer ${SECRETS.apiToken}` };
  const readOnly = { authorization: `Bearer ${SECRETS.readOnlyToken}` };

  it('runs the container with the secrets as files put into it: docker inspect shows none of them', async () => {
    const status = (await (await get('/gateway/status', full)).json()) as {
      state: string;
      container: { id: string } | null;
      ports: { vnc: number | null };
    };
    expect(status.state).toBe('logged-in'); // the container read the right password from its file
    expect(status.ports.vnc).not.toBeNull();
    const id = status.container?.id ?? '';
    const inspected = await docker(['inspect', id]);
    expect(leakedSecrets(inspected)).toEqual([]);
    const [details] = JSON.parse(inspected) as [
      {
        Config: { Env: string[]; Cmd: string[] | null };
        Args: string[];
        Mounts: unknown[];
        HostConfig: { Binds: string[] | null };
      },
    ];
    const variables = details.Config.Env.map((entry) => entry.split('=')[0]);
    expect(variables).toEqual(expect.arrayContaining(['TWS_PASSWORD_FILE', 'VNC_SERVER_PASSWORD_FILE']));
    expect(variables).not.toContain('TWS_PASSWORD');
    expect(variables).not.toContain('VNC_SERVER_PASSWORD');
    // No bind mount: the files are in the container, readable by its user only, and on no disk of this machine.
    expect(details.Mounts).toEqual([]);
    expect(details.HostConfig.Binds ?? []).toEqual([]);
    for (const [name, secret] of [
      ['tws_password', SECRETS.ibPassword],
      ['vnc_password', SECRETS.vncPassword],
    ] as const) {
      expect(await secretFileInContainer(id, `/run/secrets/${name}`)).toEqual({
        content: secret,
        mode: 0o400,
        uid: 1000,
        gid: 1000,
        readBy: 1000,
      });
    }
    expect(filesHolding(config.dataDir, Object.values(SECRETS))).toEqual([]);
  });

  it("serves the container's screen through /vnc with the VNC password it never shows", async () => {
    const bridge = await WebsocketTcpBridge.open(websocketUrl(service), full);
    try {
      const client = await RfbClient.connect({ port: bridge.port, timeoutMs: 15_000 });
      client.requestUpdate(false);
      await client.nextUpdate(15_000);
      expect(client.serverInit.name).toMatch(/IB Gateway/);
      client.close();
    } finally {
      await bridge.close();
    }
    for (const path of ['/vnc', '/vnc/vnc-page.js']) {
      const page = await get(path, full);
      expect(page.status).toBe(200);
    }
  });

  it('answers every GET operation, for both tokens, without a secret', async () => {
    const routes = await openApiRoutes(service, SECRETS.apiToken);
    const reads = routes.filter((route) => route.method === 'GET');
    expect(reads.length).toBeGreaterThan(10);
    for (const route of reads) {
      await get(route.path, full);
      await get(route.path, readOnly);
    }
    for (const path of ['/docs-json', '/docs', '/metrics', '/health', '/health/ready']) await get(path, full);
  }, 60_000);

  it('answers MCP (tool list, every read-only tool, every resource) without a secret', async () => {
    const mcp = await connectMcpClientWithToken(service, SECRETS.readOnlyToken);
    clients.push(mcp);
    const { tools } = await mcp.listTools();
    remember('tools/list', JSON.stringify(tools));
    for (const tool of tools.filter((candidate) => candidate.annotations?.readOnlyHint === true)) {
      const result = await mcp.callTool({ name: tool.name, arguments: {} });
      remember(`tools/call ${tool.name}`, JSON.stringify(result));
    }
    // The resources too: the gateway's log lines among them.
    const { resources } = await mcp.listResources();
    expect(resources.map((resource) => resource.uri)).toContain('ibgs://gateway/logs');
    for (const resource of resources) {
      const read = await mcp.readResource({ uri: resource.uri }).catch((error: unknown) => String(error));
      remember(`resources/read ${resource.uri}`, JSON.stringify(read));
    }
    const refused = await mcp.callTool({ name: 'restart_gateway', arguments: {} });
    expect(refused.isError).toBe(true);
    // The same body as the REST 403 (code and all), accepted by this client's output-schema check.
    expect(refused.structuredContent).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
    remember('tools/call restart_gateway (read-only token)', JSON.stringify(refused));
  });

  it('says what went wrong without repeating a secret, even one sent by mistake', async () => {
    // Secrets sent where they do not belong: as a token, in a cookie, as a page token.
    for (const secret of Object.values(SECRETS)) {
      const asToken = await get('/connection/status', { authorization: `Bearer ${secret}x` });
      expect(asToken.status).toBe(401);
      await get(`/docs?token=${secret}x`, {}, { redirect: 'manual' });
      await get('/connection/status', { cookie: `ibgs_token=${secret}x` });
    }
    expect((await get('/orders', readOnly, { method: 'POST' })).status).toBe(403);
    await get('/no/such/route', full);
    await get('/connection/status?unexpected=1', full);
    const mcp = await fetch(service.urls.mcp, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${SECRETS.ibPassword}` },
      body: MCP_INITIALIZE,
    });
    expect(mcp.status).toBe(401);
    remember('POST /mcp with the IB password as token', await mcp.text());
  });

  it('has none of the secrets in any answer', () => {
    expect(answers.length).toBeGreaterThan(40);
    const leaks = answers.flatMap(({ what, text }) =>
      leakedSecrets(text).map((secret) => `${what}: ${secret}`),
    );
    expect(leaks).toEqual([]);
  });

  it('has none of the secrets in any log line', () => {
    // The log saw the whole story: the gateway's start, the refusals above, the VNC viewer.
    const log = logLines.join('\n');
    expect(log).toMatch(/Refused GET \/connection\/status/);
    expect(log).toMatch(/VNC viewer .* connected/);
    expect(log).toMatch(/GatewayService/);
    const leaks = logLines.flatMap((line) =>
      leakedSecrets(line).map((secret) => `${secret} in: ${line.slice(0, 200)}`),
    );
    expect(leaks).toEqual([]);
  });
});

describe('the built CLI with every secret given by file', () => {
  const containerName = `ibgs-test-cli-credentials-${process.pid}`;
  const directory = mkdtempSync(join(tmpdir(), 'ibgs-cli-secrets-'));
  let cli: CliProcess | undefined;

  afterAll(async () => {
    if (cli && cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    await docker(['rm', '-f', containerName]).catch(() => undefined);
  }, 60_000);

  it('keeps them out of its arguments, its output, its container, and prints the /vnc address', async () => {
    const file = (name: string, value: string) => {
      const path = join(directory, name);
      writeFileSync(path, `${value}\n`, { mode: 0o600 });
      return path;
    };
    cli = new CliProcess(
      containerStartArgs({
        image: IMAGE,
        containerName,
        dataDir: join(directory, 'data'),
        logLevel: 'debug',
      }),
      {
        IBGS_PASSWORD_FILE: file('ib-password', SECRETS.ibPassword),
        IBGS_VNC_PASSWORD_FILE: file('vnc-password', SECRETS.vncPassword),
        IBGS_API_TOKEN_FILE: file('api-token', SECRETS.apiToken),
        IBGS_READ_ONLY_TOKEN_FILE: file('read-only-token', SECRETS.readOnlyToken),
      },
    );
    // spawn() returns after exec: this is the running supervisor's argument list.
    expect(cli.commandLine()).toContain('dist/cli.js start --username trader1');
    expect(leakedSecrets(cli.commandLine())).toEqual([]);

    const [, vncUrl] = await cli.waitFor(/noVNC \(gateway screen\)\s+(http:\/\/\S+\/vnc)\n/);
    expect(leakedSecrets(cli.commandLine())).toEqual([]);
    const page = await fetch(vncUrl ?? '', { headers: { authorization: `Bearer ${SECRETS.apiToken}` } });
    expect(page.status).toBe(200);
    expect((await fetch(vncUrl ?? '')).status).toBe(401); // the token from the file is in force

    const inspected = await docker(['inspect', containerName]);
    expect(leakedSecrets(inspected)).toEqual([]);
    expect(filesHolding(join(directory, 'data'), Object.values(SECRETS))).toEqual([]);

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(leakedSecrets(cli.output)).toEqual([]);
  }, 150_000);

  it('refuses to listen beyond loopback without an API token, and says how to give one', async () => {
    const refused = new CliProcess(['start', '--host', '0.0.0.0', '--port', '0'], {});
    expect(await refused.exited).not.toBe(0);
    expect(refused.output).toMatch(/API token is required to listen on the non-loopback address 0\.0\.0\.0/);
    expect(refused.output).toMatch(/--api-token-file or IBGS_API_TOKEN/);
  });
});
