import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { spawn } from 'node:child_process';
import { CONFORMANCE_TOOLS_ENV } from '../../../src/common/mcp-conformance-tools';
import type { RunningService } from '../../../src/main';
import { connectMcpClient, startTestService } from './service-harness';

/** The official suite and the Node it needs (22 or newer; this machine runs 20), fetched by npx. */
const SUITE = '@modelcontextprotocol/conformance@0.2.0-alpha.12';

/** Runs the suite's stateless scenario against `url`; resolves with its output and exit code. */
async function runConformance(url: string): Promise<{ output: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'npx',
      [
        '-y',
        '-p',
        'node@22',
        '-p',
        SUITE,
        '-c',
        `conformance server --url ${url} --scenario server-stateless`,
      ],
      { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ output, code }));
  });
}

describe('the official MCP conformance suite, stateless scenario', () => {
  let service: RunningService;
  let mcp: Client;
  const before = process.env[CONFORMANCE_TOOLS_ENV];

  beforeAll(async () => {
    process.env[CONFORMANCE_TOOLS_ENV] = 'true';
    service = await startTestService();
    mcp = await connectMcpClient(service);
  });

  afterAll(async () => {
    if (before === undefined) delete process.env[CONFORMANCE_TOOLS_ENV];
    else process.env[CONFORMANCE_TOOLS_ENV] = before;
    await mcp.close();
    await service.close();
  });

  it(`lists its three diagnostic tools only because ${CONFORMANCE_TOOLS_ENV}=true`, async () => {
    const names = (await mcp.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining(['test_missing_capability', 'test_streaming_elicitation', 'test_logging_tool']),
    );
  });

  it('passes every check', async () => {
    const { output, code } = await runConformance(service.urls.mcp);
    const summary = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(output);
    if (!summary) throw new Error(`No summary in the suite's output:\n${output.slice(-3000)}`);
    const [, passed, total, failed] = summary.map(Number);
    const failures = output.split('\n').filter((line) => line.includes('FAILURE'));
    expect({ failed, failures }).toEqual({ failed: 0, failures: [] });
    expect(passed).toBe(total);
    expect(total).toBeGreaterThanOrEqual(28);
    expect(code).toBe(0);
  }, 300_000);
});
