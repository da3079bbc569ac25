import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.tokens';
import { join } from 'node:path';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { REDACTOR, type Redactor } from '../common/redactor';
import type { AppConfig } from '../config/config.schema';
import { DurableJsonLinesFile } from './durable-json-lines-file';

export const ORDER_JOURNAL_FILE = 'order-journal.jsonl';

export type OrderOperationName =
  'place_order' | 'modify_order' | 'cancel_order' | 'cancel_all_orders' | 'preview_order' | 'transmit_order';

/**
 * One line of the audit journal. request: what a caller asked (validated input); refusal: why the service
 * refused it without touching the broker; sent: what went to the broker (order ids, contract, orders);
 * response: what the broker said (openOrder, orderStatus, execDetails, commission, whatIf, error);
 * outcome: what the API answered; approval: a step of a human's confirmation (--confirm-orders).
 */
export interface JournalEntry {
  at: string;
  type: 'request' | 'refusal' | 'sent' | 'response' | 'outcome' | 'approval';
  operation?: OrderOperationName;
  /** Ties a request to its refusal or outcome. */
  requestId?: string;
  orderId?: number;
  orderIds?: number[];
  [field: string]: unknown;
}

export interface JournalQuery {
  limit: number;
  since?: string | undefined;
  orderId?: number | undefined;
  /** Entries about this account's orders: naming it, or tied to an order or request that did. */
  account?: string | undefined;
}

/** The durable audit journal of every order request and broker response (config.dataDir/order-journal.jsonl). */
@Injectable()
export class OrderJournalRepository implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(OrderJournalRepository.name);
  private readonly file: DurableJsonLinesFile;
  /** Appends started by broker events; the API awaits them (settled) before it answers. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    /** A journal line holding a secret of the config is redacted before it reaches the disk. */
    @Inject(REDACTOR) private readonly redactor: Redactor,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.file = new DurableJsonLinesFile(join(config.dataDir, ORDER_JOURNAL_FILE));
  }

  async onModuleInit(): Promise<void> {
    await this.file.open();
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.file.close();
  }

  /** Appends durably; the order flow awaits this before it sends anything to the broker. */
  async append(entry: Omit<JournalEntry, 'at'>): Promise<void> {
    try {
      await this.file.append(
        this.redactor.redactDeep({ at: dateOf(this.clock).toISOString(), ...entry } as JournalEntry),
      );
    } catch (error) {
      this.logger.error({ err: error }, 'Could not write the order journal');
      throw new DomainError(
        'INTERNAL',
        `The order journal could not be written (${(error as Error).message}); nothing was sent to the broker`,
      );
    }
  }

  /** Appends a broker event without blocking the event stream; {@link settled} waits for it. */
  record(entry: Omit<JournalEntry, 'at'>): void {
    const write = this.append(entry).then(
      () => undefined,
      (error: unknown) => error,
    );
    this.inFlight.add(write);
    void write.finally(() => this.inFlight.delete(write));
  }

  /** Resolves once every broker event recorded so far is on disk; throws if one could not be written. */
  async settled(): Promise<void> {
    const outcomes = await Promise.all([...this.inFlight]);
    const failure = outcomes.find((outcome) => outcome !== undefined);
    if (failure !== undefined) {
      throw new DomainError(
        'INTERNAL',
        `The broker answered, but its response could not be written to the order journal (${(failure as Error).message})`,
      );
    }
  }

  /** Every entry, oldest first (start-up replay). */
  async *entries(): AsyncGenerator<JournalEntry> {
    for await (const value of this.file.read()) {
      if (isJournalEntry(value)) yield value;
    }
  }

  /** The newest `limit` entries matching the filters, oldest first, and how many matched in all. */
  async query(query: JournalQuery): Promise<{ entries: JournalEntry[]; total: number }> {
    await this.settled().catch(() => undefined);
    const since = query.since === undefined ? undefined : Date.parse(query.since);
    const ofAccount = query.account === undefined ? undefined : await this.accountLinks(query.account);
    const matches: JournalEntry[] = [];
    let total = 0;
    for await (const entry of this.entries()) {
      if (since !== undefined && Date.parse(entry.at) < since) continue;
      if (query.orderId !== undefined && !concernsOrder(entry, query.orderId)) continue;
      if (ofAccount !== undefined && !ofAccount(entry)) continue;
      total++;
      matches.push(entry);
      if (matches.length > query.limit) matches.shift();
    }
    return { entries: matches, total };
  }

  /**
   * Whether an entry is about `account`: it names the account (a request's input, an order sent or reported),
   * or it concerns an order or a request of an entry that does (a request without an account went to the
   * account its order reports).
   */
  private async accountLinks(account: string): Promise<(entry: JournalEntry) => boolean> {
    const orderIds = new Set<number>();
    const requestIds = new Set<string>();
    for await (const entry of this.entries()) {
      if (!namesAccount(entry, account)) continue;
      for (const id of [entry.orderId, ...(entry.orderIds ?? [])]) if (id !== undefined) orderIds.add(id);
      if (entry.requestId !== undefined) requestIds.add(entry.requestId);
    }
    for await (const entry of this.entries()) {
      const ids = [entry.orderId, ...(entry.orderIds ?? [])];
      if (entry.requestId !== undefined && ids.some((id) => id !== undefined && orderIds.has(id))) {
        requestIds.add(entry.requestId);
      }
    }
    return (entry) =>
      namesAccount(entry, account) ||
      (entry.requestId !== undefined && requestIds.has(entry.requestId)) ||
      [entry.orderId, ...(entry.orderIds ?? [])].some((id) => id !== undefined && orderIds.has(id));
  }
}

/** The accounts an entry names: its request's, the orders sent or reported. */
function namesAccount(entry: JournalEntry, account: string): boolean {
  const wanted = account.toUpperCase();
  const named = (value: unknown): boolean => {
    const owner =
      typeof value === 'object' && value !== null ? (value as { account?: unknown }).account : undefined;
    return typeof owner === 'string' && owner.toUpperCase() === wanted;
  };
  const orders = Array.isArray(entry['orders']) ? (entry['orders'] as unknown[]) : [];
  return named(entry['input']) || named(entry['order']) || orders.some(named);
}

function isJournalEntry(value: unknown): value is JournalEntry {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as JournalEntry).at === 'string' &&
    typeof (value as JournalEntry).type === 'string'
  );
}

function concernsOrder(entry: JournalEntry, orderId: number): boolean {
  return entry.orderId === orderId || (entry.orderIds?.includes(orderId) ?? false);
}
