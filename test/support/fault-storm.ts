import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { freeLoopbackPort } from '../../src/gateway/container-gateway-runtime';
import { docker, run } from './docker';
import { EventWatcher } from './event-watcher';

/**
 * A fault storm of orders against the built CLI in container mode (the simulator image): client workers place
 * resting paper orders through `POST /orders`, each with its own idempotency key, and retry every answer that
 * is not definitive with the same key and body, while faults are injected one after the other with orders in
 * flight: docker kill and docker restart of the gateway container, a data freeze (the watchdog's ladder must
 * restart the gateway), a connection drop while an order is being sent, a SIGKILL of the supervisor (the same
 * command started again must adopt the running container), and, in the long version, overlapping ones. At the
 * end the broker's truth (the simulator's control API, `GET /broker`) is compared with every answer the
 * clients got and with `GET /orders/status` per key. Used by test/system/orders/fault-storm.test.ts (short)
 * and bench/storm.ts (long). Nothing here hides a failure: every count is what was observed.
 */

export const FAULT_KINDS = [
  'docker-kill',
  'docker-restart',
  'freeze',
  'drop-before-accepting',
  'drop-after-accepting',
  'supervisor-kill',
  /** A docker kill while a gateway freeze is active (before the ladder's own restart). */
  'kill-during-freeze',
  /** A SIGKILL of the supervisor while `docker restart` of its container is under way. */
  'supervisor-kill-during-restart',
  /** A SIGKILL of the supervisor, then `docker kill` of its container while none runs; then the same command. */
  'everything-killed',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** One of each single fault (a-e of the brief), in the order the short version injects them. */
export const SINGLE_FAULTS: readonly FaultKind[] = FAULT_KINDS.slice(0, 6);

export const SIMULATOR_IMAGE = 'ib-gateway-simulator:local';
/** A Wednesday, 10:00 in New York: US stocks and the EUR.USD probe trade (the real clock may be a weekend). */
export const MARKET_OPEN = '2026-11-18T15:00:00Z';
const CONTROL_PORT = 4010;
const INSTANCE_LABEL = 'ib-gateway-supervisor.instance';

export interface FaultStormOptions {
  /** How many distinct idempotency keys (orders) the clients ask for. */
  orders: number;
  /** Concurrent client workers. */
  workers: number;
  /** The faults, injected in this order, each once the previous one has recovered. */
  faults: readonly FaultKind[];
  /** Part of the container name and the keys (e.g. "test", "bench"). */
  label: string;
  /** Seed of every random choice (moments, gaps, prices); random when absent. */
  seed?: number;
  /** Keys released right before each fault, so that several orders are in flight when it lands (default 4). */
  burst?: number;
  /** Quiet time between a recovery and the next fault, picked at random in [min, max] ms (default 500-2000). */
  gapMs?: readonly [number, number];
  /** A key without a definitive answer this long after its first attempt is given up (default 120 s). */
  keyDeadlineMs?: number;
  /** One POST /orders attempt times out after this (default 15 s; the supervisor's IB timeout is 10 s). */
  attemptTimeoutMs?: number;
  /** A fault not recovered (data-flowing again) within this counts as unrecovered (default 120 s). */
  recoveryTimeoutMs?: number;
  /** The supervisor's --stale-after (default 5 s). */
  staleAfterSeconds?: number;
  /** The simulator clock is pinned here after every container start (default MARKET_OPEN); null: real time. */
  pinClock?: string | null;
  image?: string;
  /** Build the simulator image (and dist/) first (default true). */
  buildImage?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export type AttemptStatus = number | 'network-error' | 'timeout';

export interface Attempt {
  n: number;
  /** When it was sent (ISO 8601). */
  at: string;
  ms: number;
  status: AttemptStatus;
  body: unknown;
  error?: string;
}

export type Finding =
  | 'lost'
  | 'orderId-not-at-broker'
  | 'refused-but-placed'
  | 'conflict-409'
  | 'status-unknown-orderId'
  | 'status-differs'
  | 'status-404-but-at-broker'
  | 'status-unanswered'
  | 'duplicated'
  | 'given-up'
  /** A staged key whose transmit_order answered 200 while the broker still holds the order untransmitted. */
  | 'transmitted-but-held'
  /** A staged key whose transmit_order ended in a definitive refusal. */
  | 'transmit-refused'
  /** GET /events neither told the order's final state nor announced a gap that could hide it. */
  | 'events-untold';

/** Findings that make a key "untrue": an answer the broker contradicts. */
const UNTRUE: readonly Finding[] = [
  'lost',
  'orderId-not-at-broker',
  'refused-but-placed',
  'conflict-409',
  'status-unknown-orderId',
  'status-differs',
  'status-404-but-at-broker',
  'status-unanswered',
  'transmitted-but-held',
  'transmit-refused',
];

/**
 * What a key places: a resting LMT (most keys), a resting LIT, a resting vertical call spread (a BAG combo), or
 * a resting LMT placed staged (transmit: false) and then sent on with transmit_order, each retried the same way.
 */
export type StormOrderKind = 'LMT' | 'LIT' | 'combo' | 'staged';

/** The kind of the key at `index`: a mix in which every kind meets every fault. */
function kindOf(index: number): StormOrderKind {
  return (['LMT', 'LIT', 'LMT', 'combo', 'LMT', 'staged'] as const)[index % 6] ?? 'LMT';
}

/** A December 2026 monthly expiry and strikes on AAPL's $5 grid near its price (~180) at the pinned clock. */
const COMBO_EXPIRY = '20261218';

/** The body of a key's POST /orders: every kind rests far from the market and never fills. */
function orderBody(kind: StormOrderKind, key: string, price: number): Record<string, unknown> {
  const common = { side: 'BUY', quantity: 1, tif: 'GTC', idempotencyKey: key };
  switch (kind) {
    case 'LIT':
      // A BUY if-touched far below AAPL's price: never touched.
      return {
        ...common,
        symbol: 'AAPL',
        orderType: 'LIT',
        stopPrice: price,
        limitPrice: round(price + 0.5),
      };
    case 'combo': {
      const call = (strike: number, action: string) => ({
        symbol: 'AAPL',
        secType: 'OPT',
        expiry: COMBO_EXPIRY,
        strike,
        right: 'C',
        ratio: 1,
        action,
      });
      // A 180/190 call spread is worth dollars; a few cents never fill.
      return {
        ...common,
        legs: [call(180, 'BUY'), call(190, 'SELL')],
        orderType: 'LMT',
        limitPrice: round(price / 100),
      };
    }
    case 'staged':
      return { ...common, symbol: 'AAPL', orderType: 'LMT', limitPrice: price, transmit: false };
    default:
      return { ...common, symbol: 'AAPL', orderType: 'LMT', limitPrice: price };
  }
}

export interface BrokerOrder {
  orderId: number;
  permId?: number;
  clientId?: number;
  orderRef?: string;
  status?: string;
  [field: string]: unknown;
}

export interface OffendingKey {
  key: string;
  findings: { finding: Finding; detail: string }[];
  attempts: Attempt[];
  brokerOrders: BrokerOrder[];
  finalStatus: { status: AttemptStatus; body: unknown } | null;
}

export interface FaultRecord {
  kind: FaultKind;
  /** When the fault was injected (ISO 8601); for an overlapping fault, its first part. */
  injectedAt: string;
  /** POST /orders attempts in flight at the moment of injection (of the decisive part). */
  ordersInFlight: number;
  /** The health state left data-flowing at all after the injection. */
  disturbed: boolean;
  /** data-flowing again within the recovery timeout (or never left it). */
  recovered: boolean;
  /** From injection until GET /health/status's state was data-flowing again (health events' times). */
  recoveryS: number | null;
  /** The health states passed through, from the health event history. */
  path: string[];
  /** Every health event (all sources: gateway, connection, health, ladder, breaker) until the recovery. */
  events: HealthEvent[];
  notes: string[];
}

export interface RecoverySummary {
  kind: FaultKind;
  count: number;
  disturbed: number;
  unrecovered: number;
  medianS: number | null;
  maxS: number | null;
}

export interface StormCounts {
  /** Distinct idempotency keys asked for. */
  asked: number;
  /** Keys whose final answer was 200. */
  acknowledged: number;
  /** Keys with at least one broker order whose orderRef is the key. */
  presentAtBroker: number;
  /** Answered 200 but absent at the broker. */
  lost: number;
  /** More than one broker order for the key. */
  duplicated: number;
  /** Keys with at least one answer the broker contradicts (lost keys included). */
  untrue: number;
  /** No definitive answer by the deadline. */
  givenUp: number;
  /** Definitive 4xx final answers (409 included). */
  refused: number;
  /** Containers with the storm's container name (or its instance label) at the end; must be 1. */
  containers: number;
  /** Faults after which the supervisor was not data-flowing within the recovery timeout. */
  unrecoveredFaults: number;
  /** The supervisor exited without being killed by the harness. */
  unexpectedSupervisorExits: number;
  /** Orders whose final state GET /events neither delivered nor covered with a gap (must be 0). */
  eventsUntold: number;
}

export interface StormReport {
  startedAt: string;
  durationS: number;
  seed: number;
  settings: {
    orders: number;
    workers: number;
    burst: number;
    image: string;
    containerName: string;
    staleAfterSeconds: number;
    keyDeadlineMs: number;
    pinnedClock: string | null;
    supervisorArgs: string[];
  };
  machine: Record<string, string | number>;
  counts: StormCounts;
  /** Where the broker's truth came from; `complete` only with every order and its orderRef. */
  brokerTruth: {
    source: 'orders' | 'openOrders' | 'unavailable';
    attribution: 'orderRef' | 'orderId' | 'none';
    complete: boolean;
    brokerOrders: number;
    /** Broker orders no key accounts for (orderId attribution only). */
    unattributed: number;
  };
  attempts: { total: number; retries: number; byStatus: Record<string, number>; replayed200: number };
  faults: FaultRecord[];
  recovery: RecoverySummary[];
  containers: string[];
  supervisorStarts: number;
  /** The last lines the (last) supervisor printed, for debugging. */
  supervisorLogTail: string;
  clockPins: number;
  notes: string[];
  /** Keys with any finding, with their whole history. */
  offending: OffendingKey[];
  /** Every key's history (findings empty when all was well), in the order the keys were made. */
  keys: OffendingKey[];
}

// ---- Small helpers ----

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail =
    cause === undefined ? '' : ` (${typeof cause.code === 'string' ? cause.code : String(cause.message)})`;
  return `${error.name}: ${error.message}${detail}`;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.length > 500 ? `${text.slice(0, 500)}...` : text;
  }
}

/** mulberry32: a small seeded generator, so that a storm can be replayed with its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? null)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

function isDefinitive(status: AttemptStatus): boolean {
  if (typeof status !== 'number') return false;
  if (status >= 200 && status < 300) return true;
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

const isSuccess = (status: AttemptStatus | undefined) =>
  typeof status === 'number' && status >= 200 && status < 300;

/** The repository root: found from this file, whether it runs from test/support or dist-bench/test/support. */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && existsSync(join(dir, 'docker', 'build-simulator-image.sh'))) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'ib-gateway-supervisor') return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no ib-gateway-supervisor checkout above ${__dirname}`);
  }
}

/** The machine a storm ran on: CPU model from /proc/cpuinfo, cores, memory, Node and Docker versions. */
export async function stormMachine(): Promise<Record<string, string | number>> {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((text) => text.startsWith('model name'));
    if (line) cpu = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  const dockerVersion = await docker(['info', '--format', '{{.ServerVersion}}'], 20_000)
    .then((text) => text.trim())
    .catch(() => 'unknown');
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    docker: dockerVersion,
  };
}

// ---- The supervisor as a child process ----

const OUTPUT_TAIL_CHARS = 256 * 1024;

/** One run of `node dist/cli.js start ...`; its output's tail is kept for the report. */
class SupervisorProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Set before the harness stops or kills it: any other exit is a finding. */
  expectedExit = false;
  private tail = '';

  constructor(
    root: string,
    args: readonly string[],
    env: Record<string, string>,
    onUnexpectedExit: (code: number | null, signal: NodeJS.Signals | null, output: string) => void,
  ) {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('IBGS_')),
    );
    this.child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), ...args], {
      cwd: root,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.tail += chunk.toString();
      if (this.tail.length > OUTPUT_TAIL_CHARS) this.tail = this.tail.slice(-OUTPUT_TAIL_CHARS);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        if (!this.expectedExit) onUnexpectedExit(code, signal, this.tail);
        resolve();
      });
      this.child.once('error', (error) => {
        this.tail += `\n[spawn error] ${String(error)}`;
        resolve();
      });
    });
  }

  get output(): string {
    return this.tail;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal`; after `graceMs` without an exit, SIGKILL. */
  async stop(signal: NodeJS.Signals, graceMs = 20_000): Promise<void> {
    this.expectedExit = true;
    if (!this.running) return;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const timedOut = await Promise.race([this.exited.then(() => false), grace]);
    clearTimeout(timer);
    if (timedOut && this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

// ---- Keys handed to the workers ----

/** The keys, released to the workers a few at a time (a trickle, and bursts right before each fault). */
class KeyQueue {
  private readonly unreleased: string[];
  private readonly available: string[] = [];
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private closed = false;

  constructor(keys: readonly string[]) {
    this.unreleased = [...keys];
  }

  get unreleasedCount(): number {
    return this.unreleased.length;
  }

  release(count: number): number {
    const moved = this.unreleased.splice(0, Math.max(0, count));
    this.available.push(...moved);
    this.wake();
    return moved.length;
  }

  releaseAll(): void {
    this.release(this.unreleased.length);
  }

  /** No more keys: waiting workers end. */
  close(): void {
    this.closed = true;
    this.unreleased.length = 0;
    this.available.length = 0;
    this.wake();
  }

  async take(): Promise<string | undefined> {
    const key = await new Promise<string | undefined>((resolve) => {
      this.waiters.push(resolve);
      this.wake();
    });
    return key;
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.available.length > 0) {
      this.waiters.shift()?.(this.available.shift());
    }
    if (this.closed || (this.unreleased.length === 0 && this.available.length === 0)) {
      for (const waiter of this.waiters.splice(0)) waiter(undefined);
    }
  }
}

interface KeyRecord {
  key: string;
  kind: StormOrderKind;
  body: Record<string, unknown>;
  attempts: Attempt[];
  /** A staged key's POST /orders/{orderId}/transmit attempts, and its definitive one. */
  transmitAttempts: Attempt[];
  transmitted: Attempt | undefined;
  final: Attempt | undefined;
  givenUp: boolean;
  finalStatus: { status: AttemptStatus; body: unknown } | null;
}

export interface HealthEvent {
  at: string;
  source: string;
  from: string;
  to: string;
  reason: string;
}

interface Recovery {
  disturbed: boolean;
  recovered: boolean;
  recoveryS: number | null;
  path: string[];
  events: HealthEvent[];
}

const activeStorms = new Set<FaultStorm>();

/** Runs one storm and returns its report; cleans up (supervisor, container, temp dirs) also when it fails. */
export async function runFaultStorm(options: FaultStormOptions): Promise<StormReport> {
  const storm = new FaultStorm(options);
  activeStorms.add(storm);
  try {
    return await storm.run();
  } finally {
    await storm.cleanUp();
    activeStorms.delete(storm);
  }
}

/**
 * Stops every storm still running (its supervisor, container and temp dirs go), e.g. from a test's afterAll
 * when the test timed out while the storm went on.
 */
export async function abortFaultStorms(): Promise<void> {
  await Promise.all([...activeStorms].map(async (storm) => storm.cleanUp()));
}

class FaultStorm {
  private readonly root = repoRoot();
  private readonly seed: number;
  private readonly random: () => number;
  private readonly burst: number;
  private readonly gapMs: readonly [number, number];
  private readonly keyDeadlineMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly recoveryTimeoutMs: number;
  private readonly staleAfterSeconds: number;
  private readonly pinClock: string | null;
  private readonly image: string;
  private readonly log: (line: string) => void;
  private readonly directory = mkdtempSync(join(tmpdir(), 'ibgs-storm-'));
  private readonly containerName: string;
  private readonly runId = randomBytes(3).toString('hex');
  private readonly records = new Map<string, KeyRecord>();
  private readonly queue: KeyQueue;
  private readonly attemptStarts = new EventEmitter();
  private readonly notes: string[] = [];
  private readonly faults: FaultRecord[] = [];
  private supervisor: SupervisorProcess | undefined;
  private supervisorStarts = 0;
  private unexpectedExits = 0;
  private supervisorArgs: string[] = [];
  private base = '';
  private inFlight = 0;
  private stopping = false;
  /** Every fault has been injected (or the storm broke): the trickle ends. */
  private planDone = false;
  private clockKeeper: Promise<void> | undefined;
  private clockPins = 0;
  private controlIp: string | undefined;
  private placeLatencies: number[] = [];
  /** A GET /events client that follows the storm through every fault, reconnecting with Last-Event-ID. */
  private events: EventWatcher | undefined;

  constructor(private readonly options: FaultStormOptions) {
    this.seed = options.seed ?? randomBytes(4).readUInt32LE(0);
    this.random = seededRandom(this.seed);
    this.burst = options.burst ?? 4;
    this.gapMs = options.gapMs ?? [500, 2000];
    this.keyDeadlineMs = options.keyDeadlineMs ?? 120_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 15_000;
    this.recoveryTimeoutMs = options.recoveryTimeoutMs ?? 120_000;
    this.staleAfterSeconds = options.staleAfterSeconds ?? 5;
    this.pinClock = options.pinClock === undefined ? MARKET_OPEN : options.pinClock;
    this.image = options.image ?? SIMULATOR_IMAGE;
    this.log = options.log ?? (() => undefined);
    this.containerName = `ibgs-storm-${options.label}-${process.pid}-${this.runId}`;
    const keys: string[] = [];
    for (let index = 0; index < options.orders; index++) {
      const key = `storm-${this.runId}-${String(index + 1).padStart(4, '0')}`;
      keys.push(key);
      const kind = kindOf(index);
      this.records.set(key, {
        key,
        kind,
        // BUY prices far below AAPL's (~180): the orders rest and never fill.
        body: orderBody(kind, key, round(5 + Math.floor(this.random() * 500) / 100)),
        attempts: [],
        transmitAttempts: [],
        transmitted: undefined,
        final: undefined,
        givenUp: false,
        finalStatus: null,
      });
    }
    this.queue = new KeyQueue(keys);
  }

  async run(): Promise<StormReport> {
    const startedAt = Date.now();
    const machine = await stormMachine();
    if (this.options.buildImage !== false) {
      this.log(`building ${this.image} (and dist/) if anything changed`);
      await run('bash', [join(this.root, 'docker', 'build-simulator-image.sh'), this.image], {
        timeoutMs: 600_000,
      });
    }
    await docker(['rm', '-f', this.containerName]).catch(() => undefined);
    const passwordFile = join(this.directory, 'ib-password');
    // The simulator image's account accepts "demo" by default.
    writeFileSync(passwordFile, 'demo\n', { mode: 0o600 });
    const port = await freeLoopbackPort();
    this.base = `http://127.0.0.1:${port}`;
    this.supervisorArgs = [
      'start',
      '--username',
      // Not a part of the keys: the supervisor redacts the IB user name wherever it appears in a message.
      'trader1',
      '--image',
      this.image,
      '--container-name',
      this.containerName,
      '--gateway-api-port',
      '0',
      '--gateway-vnc-port',
      '0',
      '--port',
      String(port),
      '--keep-gateway',
      '--data-dir',
      join(this.directory, 'data'),
      '--log-level',
      'info',
      '--stale-after',
      String(this.staleAfterSeconds),
      '--backoff-initial',
      '1',
      '--backoff-max',
      '2',
      // The storm restarts the gateway dozens of times an hour on purpose; the default budget is 3.
      '--max-restarts-per-hour',
      '1000',
      '--rate-limit',
      '10000000',
      '--gateway-start-timeout',
      '60',
    ];
    this.startSupervisor();
    if (this.pinClock !== null) this.clockKeeper = this.keepClock(this.pinClock);
    this.log(`supervisor on ${this.base}, container ${this.containerName}, seed ${this.seed}`);
    const ready = await this.untilDataFlowing(90_000);
    if (!ready) {
      throw new Error(
        `the supervisor never reported data-flowing; its output:\n${this.supervisor?.output ?? ''}`,
      );
    }
    await this.checkDropRoute();
    this.events = new EventWatcher(() => this.base, ['orders']);
    this.events.start();

    const workers = Array.from({ length: this.options.workers }, async () => this.worker());
    const trickle = this.trickle();
    let injected = false;
    try {
      await this.injectAll();
      injected = true;
    } finally {
      this.planDone = true;
      if (injected) {
        this.queue.releaseAll();
      } else {
        // The storm itself broke: the workers stop after their current attempt.
        this.stopping = true;
        this.queue.close();
      }
      await trickle;
      await Promise.all(workers);
    }
    this.log('every key answered or given up; reading the broker');
    const records = [...this.records.values()];
    const kinds = (['LMT', 'LIT', 'combo', 'staged'] as const).map(
      (kind) => `${kind} ${records.filter((record) => record.kind === kind).length}`,
    );
    const transmitted = records.filter((record) => isSuccess(record.transmitted?.status)).length;
    this.notes.push(`orders by kind: ${kinds.join(', ')} (${transmitted} staged ones transmitted)`);

    if (!(await this.untilDataFlowing(this.recoveryTimeoutMs))) {
      this.notes.push('the supervisor was not data-flowing when the broker was read at the end');
    }
    await sleep(2_000); // let the supervisor's order tracking settle after the last recovery
    const broker = await this.brokerOrders();
    await this.readFinalStatuses();
    await this.events?.stop();
    this.notes.push(
      `GET /events: ${this.events?.items.length ?? 0} items over ${this.events?.connections ?? 0} connections, ${this.events?.gaps ?? 0} gaps announced`,
    );
    const containers = await this.containers();
    return this.report(startedAt, machine, broker, containers);
  }

  async cleanUp(): Promise<void> {
    this.stopping = true;
    this.queue.close();
    await this.events?.stop();
    await this.supervisor?.stop('SIGTERM');
    await this.clockKeeper;
    await docker(['rm', '-f', this.containerName]).catch(() => undefined);
    const strays = await docker(['ps', '-aq', '--filter', `label=${INSTANCE_LABEL}=${this.containerName}`])
      .then((text) => text.split('\n').filter(Boolean))
      .catch(() => []);
    if (strays.length > 0) await docker(['rm', '-f', ...strays]).catch(() => undefined);
    rmSync(this.directory, { recursive: true, force: true });
  }

  // ---- The supervisor ----

  private startSupervisor(): void {
    if (this.stopping) throw new Error('the storm was stopped');
    this.supervisorStarts++;
    const generation = this.supervisorStarts;
    this.supervisor = new SupervisorProcess(
      this.root,
      this.supervisorArgs,
      {
        IBGS_PASSWORD_FILE: join(this.directory, 'ib-password'),
        XDG_STATE_HOME: join(this.directory, 'state'),
      },
      (code, signal, output) => {
        this.unexpectedExits++;
        this.notes.push(
          `supervisor run ${generation} exited by itself (code ${String(code)}, signal ${String(signal)}); ` +
            `its last output:\n${output.slice(-4000)}`,
        );
      },
    );
  }

  private async getJson(path: string, timeoutMs = 3_000): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: parseBody(await response.text()) };
  }

  private async healthState(): Promise<string | undefined> {
    try {
      const { status, body } = await this.getJson('/health/status');
      return status === 200 ? (body as { state?: string }).state : undefined;
    } catch {
      return undefined;
    }
  }

  private async untilDataFlowing(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.healthState()) === 'data-flowing') return true;
      if (this.supervisor !== undefined && !this.supervisor.running) return false;
      await sleep(100);
    }
    return false;
  }

  // ---- The simulator's control API, at the container's bridge address ----

  private async controlAddress(refresh: boolean): Promise<string> {
    if (refresh || this.controlIp === undefined) {
      const address = (
        await docker(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', this.containerName])
      ).trim();
      if (address === '') throw new Error(`the container ${this.containerName} has no bridge address`);
      this.controlIp = address;
    }
    return this.controlIp;
  }

  private async control(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    let lastError: unknown;
    for (const refresh of [false, true]) {
      try {
        const address = await this.controlAddress(refresh);
        const response = await fetch(`http://${address}:${CONTROL_PORT}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
          signal: AbortSignal.timeout(5_000),
        });
        return { status: response.status, body: parseBody(await response.text()) };
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`control API ${method} ${path}: ${explain(lastError)}`, { cause: lastError });
  }

  /**
   * Every (re)started simulator begins on the real clock; pinning it to an open market keeps the probe
   * ticking whatever day the storm runs. It happens within moments of the start, before the login completes.
   */
  private async keepClock(time: string): Promise<void> {
    while (!this.stopping) {
      try {
        const { status, body } = await this.control('GET', '/state');
        if (status === 200 && (body as { clockIsReal?: unknown }).clockIsReal === true) {
          const pinned = await this.control('POST', '/clock', { time });
          if (pinned.status === 200) this.clockPins++;
        }
      } catch {
        // the container is down or restarting: try again
      }
      await sleep(200);
    }
  }

  private dropRoute: boolean | undefined;

  /** Whether the simulator has POST /connections/drop-on-next-order (being added); decided once. */
  private async checkDropRoute(): Promise<void> {
    const { status, body } = await this.control('GET', '/no-such-route');
    const routes = (body as { routes?: unknown }).routes;
    this.dropRoute =
      status === 404 && Array.isArray(routes) && routes.includes('POST /connections/drop-on-next-order');
    if (!this.dropRoute) {
      this.notes.push(
        'the simulator has no POST /connections/drop-on-next-order yet: the connection-drop faults fall back to ' +
          'POST /connections/drop sent right after a POST /orders left the client (before-accepting: at once; ' +
          'after-accepting: half the median order latency later), so where the drop lands relative to the ' +
          "broker's acceptance is not controlled",
      );
    }
  }

  // ---- Clients ----

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.take();
      if (key === undefined) return;
      const record = this.records.get(key);
      if (!record) continue;
      await this.placeUntilDefinitive(record);
      const orderId = (record.final?.body as { orderId?: unknown } | null)?.orderId;
      if (record.kind === 'staged' && isSuccess(record.final?.status) && typeof orderId === 'number') {
        await this.transmitUntilDefinitive(record, orderId);
      }
    }
  }

  private async placeUntilDefinitive(record: KeyRecord): Promise<void> {
    const deadline = Date.now() + this.keyDeadlineMs;
    for (let n = 1; ; n++) {
      const attempt = await this.attempt('/orders', record.body, n);
      record.attempts.push(attempt);
      if (isDefinitive(attempt.status)) {
        record.final = attempt;
        if (isSuccess(attempt.status)) this.placeLatencies.push(attempt.ms);
        return;
      }
      if (Date.now() >= deadline || this.stopping) {
        record.givenUp = true;
        return;
      }
      const backoff = Math.min(2_000, 150 * 1.6 ** (n - 1)) * (0.5 + this.random());
      await sleep(backoff);
    }
  }

  /** A staged key's transmit_order, retried until definitive (it is idempotent), within the key's deadline. */
  private async transmitUntilDefinitive(record: KeyRecord, orderId: number): Promise<void> {
    const deadline = Date.now() + this.keyDeadlineMs;
    for (let n = 1; ; n++) {
      const attempt = await this.attempt(`/orders/${orderId}/transmit`, {}, n);
      record.transmitAttempts.push(attempt);
      if (isDefinitive(attempt.status)) {
        record.transmitted = attempt;
        return;
      }
      if (Date.now() >= deadline || this.stopping) {
        record.givenUp = true;
        return;
      }
      await sleep(Math.min(2_000, 150 * 1.6 ** (n - 1)) * (0.5 + this.random()));
    }
  }

  private async attempt(path: string, requestBody: unknown, n: number): Promise<Attempt> {
    const started = Date.now();
    this.inFlight++;
    this.attemptStarts.emit('start');
    try {
      const response = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(requestBody),
        signal: AbortSignal.timeout(this.attemptTimeoutMs),
      });
      const body = parseBody(await response.text());
      return {
        n,
        at: new Date(started).toISOString(),
        ms: Date.now() - started,
        status: response.status,
        body,
      };
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      return {
        n,
        at: new Date(started).toISOString(),
        ms: Date.now() - started,
        status: timedOut ? 'timeout' : 'network-error',
        body: null,
        error: explain(error),
      };
    } finally {
      this.inFlight--;
    }
  }

  /** Keys spread over the faults' expected duration; the rest go out in bursts right before each fault. */
  private async trickle(): Promise<void> {
    const burstKeys = this.burst * this.options.faults.length;
    const trickled = Math.max(0, this.options.orders - burstKeys);
    if (trickled === 0) return;
    const expectedMs = this.options.faults.reduce((sum, kind) => sum + this.expectedFaultMs(kind), 0);
    const intervalMs = Math.max(100, expectedMs / trickled);
    let released = 0;
    while (!this.stopping && !this.planDone && released < trickled && this.queue.unreleasedCount > 0) {
      const nextAt = Date.now() + intervalMs * (0.5 + this.random());
      while (Date.now() < nextAt && !this.planDone && !this.stopping) await sleep(100);
      released += this.queue.release(1);
    }
  }

  private expectedFaultMs(kind: FaultKind): number {
    const gap = (this.gapMs[0] + this.gapMs[1]) / 2;
    const freeze = this.staleAfterSeconds * 1000 + 8_000;
    const restart = 6_000;
    const byKind: Record<FaultKind, number> = {
      'docker-kill': restart,
      'docker-restart': restart,
      freeze,
      'drop-before-accepting': 3_000,
      'drop-after-accepting': 3_000,
      'supervisor-kill': restart,
      'kill-during-freeze': freeze,
      'supervisor-kill-during-restart': restart + 2_000,
      'everything-killed': restart + 2_000,
    };
    return gap + byKind[kind];
  }

  // ---- Faults ----

  private async injectAll(): Promise<void> {
    for (const [index, kind] of this.options.faults.entries()) {
      if (!(await this.untilDataFlowing(this.recoveryTimeoutMs))) {
        this.notes.push(
          `not data-flowing before fault ${index + 1} (${kind}) within ${this.recoveryTimeoutMs / 1000} s: ` +
            'the remaining faults were not injected',
        );
        return;
      }
      await sleep(this.gapMs[0] + this.random() * (this.gapMs[1] - this.gapMs[0]));
      const record = await this.inject(kind);
      this.faults.push(record);
      this.log(
        `fault ${index + 1}/${this.options.faults.length} ${kind}: ` +
          (record.recovered
            ? record.disturbed
              ? `data-flowing again after ${record.recoveryS} s`
              : 'the health state never left data-flowing'
            : 'NOT RECOVERED') +
          ` (${record.ordersInFlight} orders in flight)${record.notes.length > 0 ? `; ${record.notes.join('; ')}` : ''}`,
      );
    }
  }

  /** Resolves at the next POST /orders attempt (or after `timeoutMs`). */
  private async nextAttemptStart(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.attemptStarts.off('start', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.attemptStarts.on('start', done);
    });
  }

  /**
   * Releases a burst of keys, then waits for a random moment at which at least one POST /orders is in flight.
   * Returns how many are in flight then.
   */
  private async momentWithOrdersInFlight(maxDelayMs = 20): Promise<number> {
    this.queue.release(this.burst);
    for (let tries = 0; tries < 20; tries++) {
      if (this.inFlight === 0) {
        if (tries > 0 && tries % 5 === 0) this.queue.release(1);
        await this.nextAttemptStart(500);
      }
      if (maxDelayMs > 0) await sleep(this.random() * maxDelayMs);
      if (this.inFlight > 0) return this.inFlight;
    }
    return this.inFlight;
  }

  private async dockerFault(args: string[], notes: string[]): Promise<void> {
    try {
      await docker(args, 60_000);
    } catch (error) {
      notes.push(`docker ${args[0] ?? ''} failed: ${explain(error)}`);
    }
  }

  private async restartSupervisorAfterKill(notes: string[]): Promise<void> {
    await this.supervisor?.stop('SIGKILL');
    this.startSupervisor();
    notes.push(`supervisor started again (run ${this.supervisorStarts})`);
  }

  private adoptionNote(notes: string[]): void {
    const output = this.supervisor?.output ?? '';
    if (/Adopting the running gateway container/.test(output))
      notes.push('the new supervisor adopted the container');
    else if (/Started the stopped gateway container .* again/.test(output))
      notes.push('the new supervisor started the stopped container again');
    else if (/Started the gateway container/.test(output)) {
      notes.push('the new supervisor did NOT adopt: it started a gateway container itself');
    } else notes.push('the new supervisor said neither that it adopted nor that it started a container');
  }

  private async inject(kind: FaultKind): Promise<FaultRecord> {
    const notes: string[] = [];
    let inFlight = 0;
    let t0 = Date.now();
    let newProcess = false;
    switch (kind) {
      case 'docker-kill':
      case 'docker-restart': {
        inFlight = await this.momentWithOrdersInFlight();
        t0 = Date.now();
        await this.dockerFault(
          kind === 'docker-kill' ? ['kill', this.containerName] : ['restart', '-t', '5', this.containerName],
          notes,
        );
        break;
      }
      case 'freeze': {
        inFlight = await this.momentWithOrdersInFlight();
        t0 = Date.now();
        await this.freeze(notes);
        break;
      }
      case 'drop-before-accepting':
      case 'drop-after-accepting': {
        const when = kind === 'drop-before-accepting' ? 'before-accepting' : 'after-accepting';
        if (this.dropRoute) {
          t0 = Date.now();
          const armed = await this.control('POST', '/connections/drop-on-next-order', { when });
          if (armed.status !== 200) {
            notes.push(`drop-on-next-order answered ${armed.status}: ${JSON.stringify(armed.body)}`);
          }
          inFlight = await this.momentWithOrdersInFlight(0);
          notes.push(`drop-on-next-order ${when}: ${await this.dropFired()}`);
        } else {
          const delayMs =
            when === 'before-accepting' ? 0 : Math.round((median(this.placeLatencies) ?? 20) / 2);
          inFlight = await this.momentWithOrdersInFlight(0);
          if (delayMs > 0) await sleep(delayMs);
          t0 = Date.now();
          const dropped = await this.control('POST', '/connections/drop');
          if (dropped.status !== 200) notes.push(`connections/drop answered ${dropped.status}`);
          notes.push(`fallback: POST /connections/drop ${delayMs} ms after a POST /orders was sent`);
        }
        break;
      }
      case 'supervisor-kill': {
        inFlight = await this.momentWithOrdersInFlight();
        t0 = Date.now();
        await this.restartSupervisorAfterKill(notes);
        newProcess = true;
        break;
      }
      case 'kill-during-freeze': {
        t0 = Date.now();
        await this.freeze(notes);
        // Within the staleness threshold: before the ladder's own restart could end the freeze.
        const waitMs = 1_000 + this.random() * Math.max(0, this.staleAfterSeconds * 1000 - 2_000);
        await sleep(waitMs);
        inFlight = await this.momentWithOrdersInFlight();
        notes.push(`docker kill ${round((Date.now() - t0) / 1000)} s into the freeze`);
        await this.dockerFault(['kill', this.containerName], notes);
        break;
      }
      case 'everything-killed': {
        inFlight = await this.momentWithOrdersInFlight();
        t0 = Date.now();
        await this.supervisor?.stop('SIGKILL');
        await this.dockerFault(['kill', this.containerName], notes);
        notes.push('supervisor SIGKILLed, then docker kill of the gateway while no supervisor ran');
        this.startSupervisor();
        notes.push(`supervisor started again (run ${this.supervisorStarts})`);
        newProcess = true;
        break;
      }
      case 'supervisor-kill-during-restart': {
        inFlight = await this.momentWithOrdersInFlight();
        t0 = Date.now();
        const restarting = this.dockerFault(['restart', '-t', '5', this.containerName], notes);
        const waitMs = 100 + this.random() * 500;
        await sleep(waitMs);
        notes.push(`supervisor SIGKILLed ${Math.round(waitMs)} ms into docker restart`);
        await this.restartSupervisorAfterKill(notes);
        await restarting;
        newProcess = true;
        break;
      }
    }
    const recovery = await this.measureRecovery(t0, kind, newProcess);
    if (newProcess) this.adoptionNote(notes);
    return {
      kind,
      injectedAt: new Date(t0).toISOString(),
      ordersInFlight: inFlight,
      ...recovery,
      notes,
    };
  }

  /** Waits until the armed drop fired (GET /state shows it disarmed), so that it cannot hit a later fault. */
  private async dropFired(): Promise<string> {
    const armedAt = Date.now();
    while (Date.now() - armedAt < 10_000) {
      try {
        const { body } = await this.control('GET', '/state');
        const armed = (body as { dropConnectionsOnNextOrder?: unknown }).dropConnectionsOnNextOrder;
        if (armed === null || armed === undefined)
          return `fired ${Date.now() - armedAt} ms after orders were released`;
      } catch {
        // dropped connections do not touch the control API; a failure here is transient
      }
      await sleep(25);
    }
    return 'NEVER FIRED within 10 s (no order reached the broker); it stays armed';
  }

  private async freeze(notes: string[]): Promise<void> {
    const frozen = await this.control('POST', '/market-data/freeze', { scope: 'gateway' });
    if (frozen.status !== 200) notes.push(`freeze answered ${frozen.status}: ${JSON.stringify(frozen.body)}`);
  }

  /**
   * From the health event history (its times are the supervisor's, on this machine's clock): the first move
   * away from data-flowing after `t0`, then the first return to it. A new supervisor process has a history of
   * its own: its first data-flowing. No move away within a window that covers detection means undisturbed.
   */
  private async measureRecovery(t0: number, kind: FaultKind, newProcess: boolean): Promise<Recovery> {
    const since = encodeURIComponent(new Date(t0).toISOString());
    const freezes = kind === 'freeze' || kind === 'kill-during-freeze';
    const disturbWindowMs = freezes ? (this.staleAfterSeconds + 6) * 1000 : 10_000;
    const deadline = t0 + this.recoveryTimeoutMs;
    let all: HealthEvent[] = [];
    const outcome = (disturbed: boolean, recovered: boolean, recoveryS: number | null): Recovery => {
      const health = all.filter((event) => event.source === 'health');
      return { disturbed, recovered, recoveryS, path: health.map((event) => event.to), events: all };
    };
    while (Date.now() < deadline) {
      let events: HealthEvent[] | undefined;
      try {
        const { status, body } = await this.getJson(`/health/events?limit=500&since=${since}`);
        if (status === 200) events = (body as { events?: HealthEvent[] }).events;
      } catch {
        // the supervisor is down (killed, or starting again)
      }
      if (events) {
        all = events.filter((event) => Date.parse(event.at) >= t0);
        const health = all.filter((event) => event.source === 'health');
        const left = newProcess ? 0 : health.findIndex((event) => event.to !== 'data-flowing');
        const back = left < 0 ? undefined : health.slice(left).find((event) => event.to === 'data-flowing');
        if (back) return outcome(true, true, round((Date.parse(back.at) - t0) / 1000));
        if (left < 0 && Date.now() > t0 + disturbWindowMs && (await this.healthState()) === 'data-flowing') {
          return outcome(false, true, null);
        }
      }
      await sleep(100);
    }
    return outcome(true, false, null);
  }

  // ---- The truth at the end ----

  private async brokerOrders(): Promise<{
    source: StormReport['brokerTruth']['source'];
    attribution: StormReport['brokerTruth']['attribution'];
    orders: BrokerOrder[];
  }> {
    let snapshot: { orders?: unknown; openOrders?: unknown } | undefined;
    for (let tries = 0; tries < 20 && snapshot === undefined; tries++) {
      try {
        const { status, body } = await this.control('GET', '/broker');
        if (status === 200) snapshot = body as typeof snapshot;
      } catch {
        // the container may still be coming up
      }
      if (snapshot === undefined) await sleep(500);
    }
    if (snapshot === undefined) {
      this.notes.push('GET /broker of the simulator never answered: the broker truth is unavailable');
      return { source: 'unavailable', attribution: 'none', orders: [] };
    }
    const source = Array.isArray(snapshot.orders) ? 'orders' : 'openOrders';
    const orders = (
      Array.isArray(snapshot.orders) ? snapshot.orders : (snapshot.openOrders ?? [])
    ) as BrokerOrder[];
    if (source === 'openOrders') {
      this.notes.push(
        "GET /broker has no `orders` array (every order ever accepted) yet: the broker's truth is its open " +
          'orders only; these orders rest and never fill, so an order missing there is still missing at the broker',
      );
    }
    const attribution = orders.every((order) => typeof order.orderRef === 'string') ? 'orderRef' : 'orderId';
    if (attribution === 'orderId') {
      this.notes.push(
        "the broker's orders carry no orderRef: keys are matched to broker orders by the orderIds the " +
          'supervisor named (its 200 answers and GET /orders/status), so a second broker order for a key ' +
          'shows up only as an unattributed order, not as a duplicate',
      );
    }
    return { source, attribution, orders };
  }

  /**
   * Why the event stream failed this key's order, if it did: its last order event must match the final
   * GET /orders/status answer, unless a gap announced after that event (and after the key was first sent)
   * told the client to read again.
   */
  private untoldByEvents(record: KeyRecord): string | undefined {
    if (this.events === undefined || record.finalStatus?.status !== 200) return undefined;
    const order = (
      record.finalStatus.body as { order?: { orderId?: number; status?: string; filled?: number } }
    ).order;
    if (order?.orderId === undefined) return undefined;
    const states = this.events.orderStates(order.orderId);
    const last = states.at(-1);
    if (last !== undefined && last.status === order.status && last.filled === (order.filled ?? 0)) {
      return undefined;
    }
    const firstSent = Date.parse(record.attempts[0]?.at ?? '') || 0;
    if (this.events.gapAfter('orders', last?.index ?? -1, firstSent)) return undefined;
    return `final state ${order.status ?? '?'} (filled ${order.filled ?? 0}); the stream's last word: ${
      last === undefined ? 'nothing' : `${last.status} (filled ${last.filled})`
    }, and no gap after it`;
  }

  private async readFinalStatuses(): Promise<void> {
    const keys = [...this.records.values()];
    let next = 0;
    const reader = async () => {
      for (let record = keys[next++]; record !== undefined; record = keys[next++]) {
        record.finalStatus = await this.finalStatus(record.key);
      }
    };
    await Promise.all(Array.from({ length: 4 }, reader));
  }

  private async finalStatus(key: string): Promise<{ status: AttemptStatus; body: unknown }> {
    const deadline = Date.now() + 15_000;
    let last: { status: AttemptStatus; body: unknown } = { status: 'network-error', body: null };
    while (Date.now() < deadline) {
      try {
        last = await this.getJson(`/orders/status?idempotencyKey=${encodeURIComponent(key)}`, 10_000);
        if (isDefinitive(last.status)) return last;
      } catch (error) {
        last = { status: 'network-error', body: explain(error) };
      }
      await sleep(300);
    }
    return last;
  }

  private async containers(): Promise<string[]> {
    const byName = await docker([
      'ps',
      '-a',
      '--filter',
      `name=^/${this.containerName}$`,
      '--format',
      '{{.ID}} {{.Names}} {{.State}}',
    ]);
    const byLabel = await docker([
      'ps',
      '-a',
      '--filter',
      `label=${INSTANCE_LABEL}=${this.containerName}`,
      '--format',
      '{{.ID}} {{.Names}} {{.State}}',
    ]);
    return [...new Set([...byName.split('\n'), ...byLabel.split('\n')].filter(Boolean))];
  }

  private report(
    startedAt: number,
    machine: Record<string, string | number>,
    broker: Awaited<ReturnType<FaultStorm['brokerOrders']>>,
    containers: string[],
  ): StormReport {
    const records = [...this.records.values()];
    const claimedIds = new Map<string, Set<number>>();
    const orderIdOf = (body: unknown, path: 'place' | 'status'): number | undefined => {
      const value =
        path === 'place'
          ? (body as { orderId?: unknown } | null)?.orderId
          : (body as { order?: { orderId?: unknown } } | null)?.order?.orderId;
      return typeof value === 'number' ? value : undefined;
    };
    for (const record of records) {
      const ids = new Set<number>();
      const placed = isSuccess(record.final?.status) ? orderIdOf(record.final?.body, 'place') : undefined;
      if (placed !== undefined) ids.add(placed);
      const listed =
        record.finalStatus?.status === 200 ? orderIdOf(record.finalStatus.body, 'status') : undefined;
      if (listed !== undefined) ids.add(listed);
      claimedIds.set(record.key, ids);
    }
    const atBroker = (key: string): BrokerOrder[] =>
      broker.attribution === 'orderRef'
        ? broker.orders.filter((order) => order.orderRef === key)
        : broker.orders.filter((order) => claimedIds.get(key)?.has(order.orderId) === true);
    const allClaimed = new Set([...claimedIds.values()].flatMap((ids) => [...ids]));
    const unattributed =
      broker.attribution === 'orderId'
        ? broker.orders.filter((order) => !allClaimed.has(order.orderId)).length
        : 0;

    const offending: OffendingKey[] = [];
    const histories: OffendingKey[] = [];
    const counts: StormCounts = {
      asked: records.length,
      acknowledged: 0,
      presentAtBroker: 0,
      lost: 0,
      duplicated: 0,
      untrue: 0,
      givenUp: 0,
      refused: 0,
      containers: containers.length,
      unrecoveredFaults: this.faults.filter((fault) => !fault.recovered).length,
      unexpectedSupervisorExits: this.unexpectedExits,
      eventsUntold: 0,
    };
    for (const record of records) {
      const findings: OffendingKey['findings'] = [];
      const orders = atBroker(record.key);
      const brokerIds = orders.map((order) => order.orderId);
      const present = orders.length > 0;
      const final = record.final;
      const acknowledged = isSuccess(final?.status);
      if (acknowledged) counts.acknowledged++;
      if (present) counts.presentAtBroker++;
      if (record.givenUp)
        findings.push({
          finding: 'given-up',
          detail: `no definitive answer in ${this.keyDeadlineMs / 1000} s`,
        });
      if (acknowledged && !present) {
        findings.push({
          finding: 'lost',
          detail: `answered ${String(final?.status)} (orderId ${String(orderIdOf(final?.body, 'place'))}, replayed ${String((final?.body as { replayed?: unknown } | null)?.replayed)}) but the broker has no order for the key`,
        });
      }
      const placedId = acknowledged ? orderIdOf(final?.body, 'place') : undefined;
      if (present && placedId !== undefined && !brokerIds.includes(placedId)) {
        findings.push({
          finding: 'orderId-not-at-broker',
          detail: `answered orderId ${placedId}; the broker has the key as orderId ${brokerIds.join(', ')}`,
        });
      }
      if (final !== undefined && !acknowledged) {
        counts.refused++;
        if (final.status !== 409 && present) {
          findings.push({
            finding: 'refused-but-placed',
            detail: `final answer ${String(final.status)} ${JSON.stringify(final.body)}, yet the broker has orderId ${brokerIds.join(', ')}`,
          });
        }
      }
      const conflicts = record.attempts.filter((attempt) => attempt.status === 409);
      if (conflicts.length > 0) {
        findings.push({
          finding: 'conflict-409',
          detail: `${conflicts.length} answer(s) 409 for the same key and the same parameters`,
        });
      }
      if (record.kind === 'staged' && acknowledged) {
        const transmitted = record.transmitted;
        if (transmitted !== undefined && !isSuccess(transmitted.status)) {
          findings.push({
            finding: 'transmit-refused',
            detail: `transmit_order answered ${String(transmitted.status)} ${JSON.stringify(transmitted.body)}`,
          });
        } else if (transmitted !== undefined && orders.some((order) => order.held === true)) {
          findings.push({
            finding: 'transmitted-but-held',
            detail: `transmit_order answered 200, yet the broker holds orderId ${brokerIds.join(', ')} untransmitted`,
          });
        }
      }
      if (orders.length > 1) {
        findings.push({
          finding: 'duplicated',
          detail: `${orders.length} broker orders: ${brokerIds.join(', ')}`,
        });
      }
      const status = record.finalStatus;
      if (status?.status === 200) {
        const view = (status.body as { order?: { orderId?: unknown; status?: unknown } }).order;
        const match = orders.find((order) => order.orderId === view?.orderId);
        if (!match) {
          findings.push({
            finding: 'status-unknown-orderId',
            detail: `GET /orders/status names orderId ${String(view?.orderId)} (${String(view?.status)}); the broker has ${present ? `orderId ${brokerIds.join(', ')}` : 'no order'} for the key`,
          });
        } else if (match.status !== undefined && match.status !== view?.status) {
          findings.push({
            finding: 'status-differs',
            detail: `GET /orders/status says ${String(view?.status)}, the broker says ${match.status} (orderId ${match.orderId})`,
          });
        }
      } else if (status?.status === 404) {
        if (present) {
          findings.push({
            finding: 'status-404-but-at-broker',
            detail: `GET /orders/status answered 404; the broker has orderId ${brokerIds.join(', ')}`,
          });
        }
      } else {
        findings.push({
          finding: 'status-unanswered',
          detail: `GET /orders/status gave no definitive answer: ${String(status?.status)} ${JSON.stringify(status?.body)}`,
        });
      }
      const untold = this.untoldByEvents(record);
      if (untold !== undefined) {
        findings.push({ finding: 'events-untold', detail: untold });
        counts.eventsUntold++;
      }
      if (record.givenUp) counts.givenUp++;
      if (findings.some((item) => item.finding === 'lost')) counts.lost++;
      if (findings.some((item) => item.finding === 'duplicated')) counts.duplicated++;
      if (findings.some((item) => UNTRUE.includes(item.finding))) counts.untrue++;
      const history: OffendingKey = {
        key: record.key,
        findings,
        attempts: [...record.attempts, ...record.transmitAttempts],
        brokerOrders: orders,
        finalStatus: record.finalStatus,
      };
      histories.push(history);
      if (findings.length > 0) offending.push(history);
    }

    const attempts = records.flatMap((record) => record.attempts);
    const byStatus: Record<string, number> = {};
    for (const attempt of attempts)
      byStatus[String(attempt.status)] = (byStatus[String(attempt.status)] ?? 0) + 1;
    const recovery: RecoverySummary[] = FAULT_KINDS.filter((kind) =>
      this.faults.some((fault) => fault.kind === kind),
    ).map((kind) => {
      const mine = this.faults.filter((fault) => fault.kind === kind);
      const times = mine.flatMap((fault) => (fault.recoveryS === null ? [] : [fault.recoveryS]));
      return {
        kind,
        count: mine.length,
        disturbed: mine.filter((fault) => fault.disturbed).length,
        unrecovered: mine.filter((fault) => !fault.recovered).length,
        medianS: times.length === 0 ? null : round(median(times) ?? 0),
        maxS: times.length === 0 ? null : Math.max(...times),
      };
    });
    if (this.faults.length < this.options.faults.length) {
      this.notes.push(
        `only ${this.faults.length} of ${this.options.faults.length} planned faults were injected`,
      );
    }
    return {
      startedAt: new Date(startedAt).toISOString(),
      durationS: round((Date.now() - startedAt) / 1000, 1),
      seed: this.seed,
      settings: {
        orders: this.options.orders,
        workers: this.options.workers,
        burst: this.burst,
        image: this.image,
        containerName: this.containerName,
        staleAfterSeconds: this.staleAfterSeconds,
        keyDeadlineMs: this.keyDeadlineMs,
        pinnedClock: this.pinClock,
        supervisorArgs: this.supervisorArgs,
      },
      machine,
      counts,
      brokerTruth: {
        source: broker.source,
        attribution: broker.attribution,
        complete: broker.source === 'orders' && broker.attribution === 'orderRef',
        brokerOrders: broker.orders.length,
        unattributed,
      },
      attempts: {
        total: attempts.length,
        retries: attempts.length - records.filter((record) => record.attempts.length > 0).length,
        byStatus,
        replayed200: attempts.filter(
          (attempt) =>
            isSuccess(attempt.status) && (attempt.body as { replayed?: unknown } | null)?.replayed === true,
        ).length,
      },
      faults: this.faults,
      recovery,
      containers,
      supervisorStarts: this.supervisorStarts,
      supervisorLogTail: (this.supervisor?.output ?? '').slice(-8_000),
      clockPins: this.clockPins,
      notes: this.notes,
      offending,
      keys: histories,
    };
  }
}

// ---- Printing ----

function table(rows: readonly (readonly (string | number | null)[])[]): string[] {
  const text = rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell))));
  const widths = (text[0] ?? []).map((_, column) =>
    Math.max(...text.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return text.flatMap((row, index) =>
    index === 0 ? [line(row), widths.map((width) => '-'.repeat(width)).join('  ')] : [line(row)],
  );
}

function attemptSummary(attempt: Attempt): string {
  if (attempt.status === 'network-error' || attempt.status === 'timeout') return attempt.status;
  const body = attempt.body as { replayed?: unknown; code?: unknown; orderId?: unknown } | null;
  if (isSuccess(attempt.status)) {
    return `${attempt.status}(#${String(body?.orderId)}${body?.replayed === true ? ',replayed' : ''})`;
  }
  return typeof body?.code === 'string' ? `${attempt.status}(${body.code})` : String(attempt.status);
}

/** The report as text: counts, recovery per kind, every fault, offending keys (up to `maxKeys`), notes. */
export function formatStormReport(report: StormReport, maxKeys = 20): string {
  const { counts, machine } = report;
  const lines = [
    `Fault storm: ${report.settings.orders} orders, ${report.settings.workers} workers, ${report.faults.length} faults, ` +
      `seed ${report.seed}, ${report.durationS} s`,
    `machine: ${String(machine.cpu)}, ${String(machine.cores)} cores, ${String(machine.memoryGiB)} GiB, ` +
      `Node ${String(machine.node)}, ${String(machine.platform)}, Docker ${String(machine.docker)}`,
    `broker truth: GET /broker ${report.brokerTruth.source}, matched by ${report.brokerTruth.attribution}` +
      (report.brokerTruth.complete ? ' (complete)' : ' (INCOMPLETE: see notes)') +
      `; ${report.brokerTruth.brokerOrders} broker orders` +
      (report.brokerTruth.attribution === 'orderId'
        ? `, ${report.brokerTruth.unattributed} unattributed`
        : ''),
    `attempts: ${report.attempts.total} (${report.attempts.retries} retries; ${report.attempts.replayed200} answered 200 replayed); by status ` +
      Object.entries(report.attempts.byStatus)
        .map(([status, count]) => `${status}: ${count}`)
        .join(', '),
    `supervisor starts: ${report.supervisorStarts}; simulator clock pinned ${report.clockPins} time(s)` +
      (report.settings.pinnedClock === null ? '' : ` to ${report.settings.pinnedClock}`),
    '',
    ...table([
      ['count', 'value'],
      ['asked', counts.asked],
      ['acknowledged (200)', counts.acknowledged],
      ['presentAtBroker', counts.presentAtBroker],
      ['refused (definitive 4xx)', counts.refused],
      ['lost', counts.lost],
      ['duplicated', counts.duplicated],
      ['untrue', counts.untrue],
      ['givenUp', counts.givenUp],
      ['containers (must be 1)', counts.containers],
      ['unrecovered faults', counts.unrecoveredFaults],
      ['unexpected supervisor exits', counts.unexpectedSupervisorExits],
      ['orders untold by GET /events', counts.eventsUntold],
    ]),
    '',
    'recovery (injection -> GET /health/status data-flowing), seconds',
    ...table([
      ['fault', 'count', 'disturbed', 'median s', 'max s', 'unrecovered'],
      ...report.recovery.map((row) => [
        row.kind,
        row.count,
        row.disturbed,
        row.medianS,
        row.maxS,
        row.unrecovered,
      ]),
    ]),
    '',
    ...table([
      ['#', 'fault', 'at', 'in flight', 'recovery s', 'health path', 'notes'],
      ...report.faults.map((fault, index) => [
        index + 1,
        fault.kind,
        fault.injectedAt.slice(11, 23),
        fault.ordersInFlight,
        fault.recovered ? (fault.disturbed ? fault.recoveryS : 'undisturbed') : 'NOT RECOVERED',
        fault.path.join('>'),
        fault.notes.join('; '),
      ]),
    ]),
  ];
  // Faults far slower than their kind's median (or never recovered): what the supervisor went through.
  const medians = new Map(report.recovery.map((row) => [row.kind, row.medianS]));
  const outliers = report.faults.filter((fault) => {
    const typical = medians.get(fault.kind) ?? null;
    if (!fault.recovered) return true;
    return (
      fault.recoveryS !== null && typical !== null && fault.recoveryS > Math.max(2 * typical, typical + 5)
    );
  });
  for (const fault of outliers) {
    const t0 = Date.parse(fault.injectedAt);
    lines.push(
      '',
      `${fault.recovered ? 'slow' : 'UNRECOVERED'}: ${fault.kind} at ${fault.injectedAt.slice(11, 23)} ` +
        `(${fault.recovered ? `${fault.recoveryS} s` : 'not data-flowing in time'}); its events:`,
      ...fault.events.map(
        (event) =>
          `  +${round((Date.parse(event.at) - t0) / 1000)} s ${event.source}: ${event.from} -> ${event.to} (${event.reason})`,
      ),
    );
  }
  if (report.offending.length > 0) {
    lines.push(
      '',
      `offending keys: ${report.offending.length}${report.offending.length > maxKeys ? ` (first ${maxKeys})` : ''}`,
    );
    for (const key of report.offending.slice(0, maxKeys)) {
      lines.push(
        `  ${key.key}: ${key.findings.map((item) => `${item.finding}: ${item.detail}`).join(' | ')}`,
      );
      lines.push(
        `    attempts: ${key.attempts.map((attempt) => `${attempt.at.slice(11, 23)} ${attemptSummary(attempt)}`).join(', ')}`,
      );
    }
  }
  if (report.notes.length > 0) lines.push('', 'notes:', ...report.notes.map((note) => `  - ${note}`));
  return lines.join('\n');
}
