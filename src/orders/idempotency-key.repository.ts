import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import { DurableJsonLinesFile } from './durable-json-lines-file';

export const IDEMPOTENCY_KEYS_FILE = 'order-idempotency-keys.jsonl';

/** A key bound to the orders it placed (entry first, then a bracket's take-profit and stop-loss). */
export interface IdempotencyRecord {
  key: string;
  /** sha256 of the order parameters: the same key with other parameters is a conflict, not a retry. */
  fingerprint: string;
  orderIds: number[];
  at: string;
}

interface ReleasedLine {
  key: string;
  released: true;
  at: string;
}

/** Canonical JSON (sorted keys) hashed: equal parameters give equal fingerprints whatever their order. */
export function fingerprintOf(parameters: Record<string, unknown>): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([, field]) => field !== undefined)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, field]) => [name, canonical(field)]),
      );
    }
    return value;
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(parameters)))
    .digest('hex');
}

/**
 * Client idempotency keys, kept durably (config.dataDir/order-idempotency-keys.jsonl, fsynced) so that a
 * retry after a supervisor restart still finds the original order. A key is written before its order is
 * sent; a key whose order the broker clearly rejected is released, so a corrected retry may place it.
 */
@Injectable()
export class IdempotencyKeyRepository implements OnModuleInit, OnModuleDestroy {
  private readonly file: DurableJsonLinesFile;
  private readonly keys = new Map<string, IdempotencyRecord>();
  private readonly keyByOrderId = new Map<number, string>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.file = new DurableJsonLinesFile(join(config.dataDir, IDEMPOTENCY_KEYS_FILE));
  }

  async onModuleInit(): Promise<void> {
    for await (const line of this.file.read()) {
      const record = line as Partial<IdempotencyRecord & ReleasedLine>;
      if (typeof record.key !== 'string') continue;
      if (record.released === true) this.forget(record.key);
      else if (typeof record.fingerprint === 'string' && Array.isArray(record.orderIds)) {
        this.remember(record as IdempotencyRecord);
      }
    }
    await this.file.open();
  }

  async onModuleDestroy(): Promise<void> {
    await this.file.close();
  }

  find(key: string): IdempotencyRecord | undefined {
    return this.keys.get(key);
  }

  /**
   * The orders a key placed, when a request with the same parameters (`fingerprint`) used it before;
   * CONFLICT when it came with other parameters: a new order needs a new key.
   */
  recall(key: string, fingerprint: string): IdempotencyRecord | undefined {
    const record = this.keys.get(key);
    if (record === undefined || record.fingerprint === fingerprint) return record;
    throw new DomainError(
      'CONFLICT',
      `Idempotency key ${key} was already used for a different order (order id ${record.orderIds.join(', ')}); use a new key for a new order`,
      { orderIds: record.orderIds },
    );
  }

  keyOf(orderId: number): string | undefined {
    return this.keyByOrderId.get(orderId);
  }

  /** Binds the key to the order ids, durably, before the orders are sent. */
  async reserve(key: string, fingerprint: string, orderIds: number[]): Promise<IdempotencyRecord> {
    const record: IdempotencyRecord = { key, fingerprint, orderIds, at: dateOf(this.clock).toISOString() };
    await this.file.append(record);
    this.remember(record);
    return record;
  }

  /** Unbinds a key whose order never came to exist at the broker. */
  async release(key: string): Promise<void> {
    const line: ReleasedLine = { key, released: true, at: dateOf(this.clock).toISOString() };
    await this.file.append(line);
    this.forget(key);
  }

  private remember(record: IdempotencyRecord): void {
    this.forget(record.key);
    this.keys.set(record.key, record);
    for (const orderId of record.orderIds) this.keyByOrderId.set(orderId, record.key);
  }

  private forget(key: string): void {
    const record = this.keys.get(key);
    if (!record) return;
    this.keys.delete(key);
    for (const orderId of record.orderIds) this.keyByOrderId.delete(orderId);
  }
}
