import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { AppConfigSchema, CONFIG_DEFAULTS, type AppConfig } from '../src/config/config.schema';
import { startService, type RunningService, type StartOptions } from '../src/main';

/** Where every benchmark writes its JSON (git-ignored; the README quotes a reference run). */
export const RESULTS_DIR = resolve(__dirname, '..', '..', 'bench', 'results');

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

/** Nearest-rank percentiles of latencies in milliseconds. */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  return {
    count: sorted.length,
    p50: rank(50),
    p95: rank(95),
    p99: rank(99),
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    max: sorted[sorted.length - 1] ?? 0,
  };
}

export function elapsedMs(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e6;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Prints rows as an aligned text table (the first row is the header). */
export function printTable(title: string, rows: readonly (readonly (string | number)[])[]): void {
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? String(round(cell)) : cell)));
  const widths = (text[0] ?? []).map((_, column) =>
    Math.max(...text.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(`\n${title}`);
  text.forEach((row, index) => {
    console.log(line(row));
    if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  });
}

/** The machine a result was measured on, recorded beside every figure. */
export function machine(): Record<string, string | number> {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
  };
}

export function writeResult(name: string, result: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ benchmark: name, at: new Date().toISOString(), machine: machine(), ...result }, null, 2)}\n`,
  );
  console.log(`\nwrote ${file}`);
  return file;
}

/** The service's defaults on loopback with a free port, quiet logs and a throw-away data dir. */
export function benchConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return AppConfigSchema.parse({
    ...CONFIG_DEFAULTS,
    port: 0,
    logLevel: 'warn',
    dataDir: mkdtempSync(join(tmpdir(), 'ibgs-bench-')),
    // Benchmarks measure the service, not the HTTP rate limiter a deployment wants.
    security: { ...CONFIG_DEFAULTS.security, rateLimitPerMinute: 10_000_000 },
    ...overrides,
  });
}

/** Starts the service and waits until the IB session is connected. */
export async function startReadyService(
  config: AppConfig = benchConfig(),
  options: StartOptions = {},
): Promise<RunningService> {
  const service = await startService(config, options);
  await waitUntilReady(service.urls.base);
  return service;
}

export async function waitUntilReady(base: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${base}/health/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await sleep(50);
  }
  throw new Error(`${base} did not become ready within ${timeoutMs / 1000} s`);
}

export async function connectMcp(url: string): Promise<Client> {
  const client = new Client({ name: 'ibgs-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

export async function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** Fails the benchmark run loudly: a figure from a broken run must never reach the README. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`benchmark check failed: ${message}`);
}
