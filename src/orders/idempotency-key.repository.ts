import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import { DurableJsonLinesFile } from './durable-json-lines-file';

export const IDEMPOTENCY_KEYS_FILE = 'order-idempotency-keys.jsonl';

/**
 * Where a key's order stands, as far as this service decided it (the broker's own word on an acknowledged
 * order, filled or cancelled, is the tracker's). Uncertain states (reserved, sent, unknown) are settled by
 * asking the broker (OrderReconciler) before the key is answered for.
 * - reserved: bound to order ids, nothing sent yet (a crash here may or may not have sent it)
 * - sent: handed to the IB session, no word from the broker yet
 * - acknowledged: the broker has the order (it said so, or reconciliation found it)
 * - rejected: the broker refused it; nothing exists at the broker, the key may place again
 * - unknown: the send was not answered (timeout, connection lost); the broker must be asked
 * - absent: the broker was asked after an uncertain send and provably has no such order; the key may place again
 */
export const KEY_STATES = ['reserved', 'sent', 'acknowledged', 'rejected', 'unknown', 'absent'] as const;
export type KeyState = (typeof KEY_STATES)[number];

const UNCERTAIN: readonly KeyState[] = ['reserved', 'sent', 'unknown'];
/** States after which the key may place its order (again): nothing of it exists at the broker. */
const FREE: readonly KeyState[] = ['rejected', 'absent'];

export function isUncertain(state: KeyState): boolean {
  return UNCERTAIN.includes(state);
}

export function isFree(state: KeyState): boolean {
  return FREE.includes(state);
}

/** A key bound to the orders it placed (entry first, then a bracket's take-profit and stop-loss). */
export interface IdempotencyRecord {
  key: string;
  /** sha256 of the order parameters: the same key with other parameters is a conflict, not a retry. */
  fingerprint: string;
  orderIds: number[];
  state: KeyState;
  /** When the key last changed state. */
  at: string;
}

/** A line of the key file before key states existed: the key was written before its order was sent. */
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
  // transmit: true is the default added later: keys recorded before it existed keep their fingerprint.
  const { transmit, ...rest } = parameters;
  const fingerprinted = transmit === true ? rest : parameters;
  return createHash('sha256')
    .update(JSON.stringify(canonical(fingerprinted)))
    .digest('hex');
}

/**
 * Client idempotency keys, kept durably (config.dataDir/order-idempotency-keys.jsonl, fsynced) so that a
 * retry after a supervisor restart still finds the original order. Every change of a key's state is a line
 * written (and fsynced) before the service acts on it; the last line of a key is its state.
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
        // Older lines carry no state: written before the send, so whether it went out is unknown.
        const state = KEY_STATES.includes(record.state as KeyState) ? (record.state as KeyState) : 'reserved';
        this.remember({ ...(record as IdempotencyRecord), state });
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
   * CONFLICT when it came with other parameters and its order exists (or may): a new order needs a new key.
   */
  recall(key: string, fingerprint: string): IdempotencyRecord | undefined {
    const record = this.keys.get(key);
    // A key whose order does not exist at the broker may place a corrected order.
    if (record === undefined || record.fingerprint === fingerprint || isFree(record.state)) return record;
    throw new DomainError(
      'CONFLICT',
      `Idempotency key ${key} was already used for a different order (order id ${record.orderIds.join(', ')}); use a new key for a new order`,
      { orderIds: record.orderIds },
    );
  }

  keyOf(orderId: number): string | undefined {
    return this.keyByOrderId.get(orderId);
  }

  /** Keys whose order may or may not be at the broker: they must be looked up before they are answered for. */
  uncertain(): IdempotencyRecord[] {
    return [...this.keys.values()].filter((record) => isUncertain(record.state));
  }

  /** Binds the key to the order ids, durably, before the orders are sent. */
  async reserve(key: string, fingerprint: string, orderIds: number[]): Promise<IdempotencyRecord> {
    return this.write({ key, fingerprint, orderIds, state: 'reserved', at: this.now() });
  }

  /** Moves a key to its next state, durably, before the service acts on it; `orderIds` when they changed. */
  async mark(key: string, state: KeyState, orderIds?: number[]): Promise<IdempotencyRecord> {
    const record = this.keys.get(key);
    if (!record) throw new Error(`idempotency key ${key} is not reserved`);
    return this.write({ ...record, state, orderIds: orderIds ?? record.orderIds, at: this.now() });
  }

  private async write(record: IdempotencyRecord): Promise<IdempotencyRecord> {
    await this.file.append(record);
    this.remember(record);
    return record;
  }

  private now(): string {
    return dateOf(this.clock).toISOString();
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
