import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError } from '../../../src/common/domain-error';
import { AppConfigSchema, CONFIG_DEFAULTS } from '../../../src/config/config.schema';
import {
  fingerprintOf,
  IDEMPOTENCY_KEYS_FILE,
  IdempotencyKeyRepository,
} from '../../../src/orders/idempotency-key.repository';
import { FakeClock } from '../../support/fake-clock';

const order = { symbol: 'AAPL', side: 'BUY', quantity: 5, orderType: 'LMT', limitPrice: 150, tif: 'DAY' };

describe('fingerprintOf', () => {
  it('is the same for the same parameters in any key order, nested too', () => {
    const bracket = { takeProfitPrice: 160, stopLossPrice: 140 };
    const reordered = {
      tif: 'DAY',
      limitPrice: 150,
      orderType: 'LMT',
      quantity: 5,
      side: 'BUY',
      symbol: 'AAPL',
    };
    expect(fingerprintOf({ ...order, bracket })).toBe(
      fingerprintOf({ ...reordered, bracket: { stopLossPrice: 140, takeProfitPrice: 160 } }),
    );
  });

  it('ignores fields that are undefined (an absent optional parameter)', () => {
    expect(fingerprintOf({ ...order, account: undefined })).toBe(fingerprintOf(order));
  });

  it('differs when any parameter differs', () => {
    const base = fingerprintOf(order);
    expect(fingerprintOf({ ...order, quantity: 6 })).not.toBe(base);
    expect(fingerprintOf({ ...order, side: 'SELL' })).not.toBe(base);
    expect(fingerprintOf({ ...order, limitPrice: '150' })).not.toBe(base);
    expect(fingerprintOf({ ...order, account: 'DU1' })).not.toBe(base);
    expect(fingerprintOf({ ...order, bracket: { takeProfitPrice: 160, stopLossPrice: 140 } })).not.toBe(base);
  });

  it('is a sha256 hex digest', () => {
    expect(fingerprintOf(order)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('IdempotencyKeyRepository', () => {
  let dataDir: string;
  let clock: FakeClock;
  const open: IdempotencyKeyRepository[] = [];

  /** A repository on the data dir, loaded from its file (as at service start-up). */
  async function start(): Promise<IdempotencyKeyRepository> {
    const config = AppConfigSchema.parse({ ...CONFIG_DEFAULTS, dataDir });
    const keys = new IdempotencyKeyRepository(config, clock);
    await keys.onModuleInit();
    open.push(keys);
    return keys;
  }

  /** Closes a repository: the supervisor stops (or crashes: the file is all there is). */
  async function stop(keys: IdempotencyKeyRepository): Promise<void> {
    open.splice(open.indexOf(keys), 1);
    await keys.onModuleDestroy();
  }

  function fileLines(): Record<string, unknown>[] {
    return readFileSync(join(dataDir, IDEMPOTENCY_KEYS_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ibgs-keys-'));
    clock = new FakeClock(Date.UTC(2026, 0, 5, 12, 0, 0));
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map(async (keys) => keys.onModuleDestroy()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('knows nothing of a key never reserved', async () => {
    const keys = await start();
    expect(keys.find('k-1')).toBeUndefined();
    expect(keys.recall('k-1', fingerprintOf(order))).toBeUndefined();
    expect(keys.keyOf(101)).toBeUndefined();
  });

  it('binds a key to its order ids, on disk before reserve resolves, stamped with the clock', async () => {
    const keys = await start();
    const fingerprint = fingerprintOf(order);
    const record = await keys.reserve('k-1', fingerprint, [101, 102, 103]);
    expect(record).toEqual({
      key: 'k-1',
      fingerprint,
      orderIds: [101, 102, 103],
      state: 'reserved',
      at: '2026-01-05T12:00:00.000Z',
    });
    expect(fileLines()).toEqual([record]);
    expect(keys.find('k-1')).toEqual(record);
    expect([101, 102, 103, 104].map((orderId) => keys.keyOf(orderId))).toEqual([
      'k-1',
      'k-1',
      'k-1',
      undefined,
    ]);
  });

  it('recalls the original orders for a retry with the same parameters (a replay)', async () => {
    const keys = await start();
    await keys.reserve('k-1', fingerprintOf(order), [101]);
    const reordered = {
      tif: 'DAY',
      limitPrice: 150,
      orderType: 'LMT',
      quantity: 5,
      side: 'BUY',
      symbol: 'AAPL',
    };
    expect(keys.recall('k-1', fingerprintOf(reordered))?.orderIds).toEqual([101]);
  });

  it('refuses the key with other parameters: CONFLICT naming the key and its order ids', async () => {
    const keys = await start();
    await keys.reserve('k-1', fingerprintOf(order), [101, 102, 103]);
    let error: unknown;
    try {
      keys.recall('k-1', fingerprintOf({ ...order, quantity: 6 }));
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'CONFLICT', details: { orderIds: [101, 102, 103] } });
    expect((error as DomainError).message).toBe(
      'Idempotency key k-1 was already used for a different order (order id 101, 102, 103); use a new key for a new order',
    );
    // The original binding is untouched by the refused request.
    expect(keys.recall('k-1', fingerprintOf(order))?.orderIds).toEqual([101, 102, 103]);
  });

  it('journals every state change before it resolves; the last line of a key is its state', async () => {
    const keys = await start();
    await keys.reserve('k-1', fingerprintOf(order), [101]);
    await clock.advance(1500);
    await keys.mark('k-1', 'sent');
    await clock.advance(500);
    const acknowledged = await keys.mark('k-1', 'acknowledged');
    expect(acknowledged).toMatchObject({
      state: 'acknowledged',
      orderIds: [101],
      at: '2026-01-05T12:00:02.000Z',
    });
    expect(fileLines().map((line) => (line as { state: string }).state)).toEqual([
      'reserved',
      'sent',
      'acknowledged',
    ]);
    await expect(keys.mark('never-reserved', 'sent')).rejects.toThrow(/not reserved/);
  });

  it('lists the uncertain keys (reserved, sent, unknown): those IB must be asked about', async () => {
    const keys = await start();
    for (const [key, state] of [
      ['r', 'reserved'],
      ['s', 'sent'],
      ['a', 'acknowledged'],
      ['j', 'rejected'],
      ['u', 'unknown'],
      ['x', 'absent'],
    ] as const) {
      await keys.reserve(key, 'fp', [key.charCodeAt(0)]);
      if (state !== 'reserved') await keys.mark(key, state);
    }
    expect(
      keys
        .uncertain()
        .map((record) => record.key)
        .sort(),
    ).toEqual(['r', 's', 'u']);
  });

  it('lets a key whose order does not exist (rejected, absent) place a corrected order', async () => {
    const keys = await start();
    await keys.reserve('k-1', fingerprintOf(order), [101]);
    const corrected = fingerprintOf({ ...order, quantity: 6 });
    await keys.mark('k-1', 'unknown');
    expect(() => keys.recall('k-1', corrected)).toThrow(/already used/);
    await keys.mark('k-1', 'rejected');
    expect(keys.recall('k-1', corrected)?.state).toBe('rejected');
    await keys.reserve('k-1', corrected, [104]);
    expect(keys.recall('k-1', corrected)?.orderIds).toEqual([104]);
    expect(keys.keyOf(101)).toBeUndefined();
    expect(keys.keyOf(104)).toBe('k-1');
  });

  it('keeps keys and their states across a restart; old stateless lines count as reserved', async () => {
    const before = await start();
    const fingerprint = fingerprintOf(order);
    await before.reserve('kept', fingerprint, [101]);
    await before.mark('kept', 'acknowledged');
    await before.reserve('bracket', fingerprintOf({ ...order, quantity: 1 }), [102, 103, 104]);
    await before.reserve('absent', fingerprint, [105]);
    await before.mark('absent', 'absent');
    await stop(before);
    // Written by an older version: a key line without state, and a released key.
    const file = join(dataDir, IDEMPOTENCY_KEYS_FILE);
    appendFileSync(file, `${JSON.stringify({ key: 'old', fingerprint, orderIds: [106], at: 'x' })}\n`);
    appendFileSync(file, `${JSON.stringify({ key: 'gone', fingerprint, orderIds: [107], at: 'x' })}\n`);
    appendFileSync(file, `${JSON.stringify({ key: 'gone', released: true, at: 'x' })}\n`);

    const after = await start();
    expect(after.recall('kept', fingerprint)).toMatchObject({ orderIds: [101], state: 'acknowledged' });
    expect(after.find('bracket')).toMatchObject({ orderIds: [102, 103, 104], state: 'reserved' });
    expect(after.keyOf(104)).toBe('bracket');
    expect(after.find('absent')?.state).toBe('absent');
    expect(after.find('old')?.state).toBe('reserved');
    expect(after.find('gone')).toBeUndefined();
    expect(after.keyOf(107)).toBeUndefined();
    expect(() => after.recall('kept', fingerprintOf({ ...order, side: 'SELL' }))).toThrow(/already used/);
  });

  it('starts with the complete lines of a file torn by a crash mid-write, and appends after them', async () => {
    const before = await start();
    await before.reserve('k-1', 'fp', [101]);
    await stop(before);
    appendFileSync(join(dataDir, IDEMPOTENCY_KEYS_FILE), '{"key":"k-2","fingerprint":"fp","orderI');
    const after = await start();
    expect(after.find('k-1')?.orderIds).toEqual([101]);
    expect(after.find('k-2')).toBeUndefined();
    // The next key must not be glued to the torn line, or the restart after this one would lose it.
    await after.reserve('k-3', 'fp', [103]);
    await stop(after);
    const later = await start();
    expect(later.find('k-3')?.orderIds).toEqual([103]);
  });

  it('starts empty when the data dir has no keys file yet', async () => {
    const keys = await start();
    await stop(keys);
    expect(readFileSync(join(dataDir, IDEMPOTENCY_KEYS_FILE), 'utf8')).toBe('');
  });
});
