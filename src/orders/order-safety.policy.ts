import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import { AccountRepository } from '../account/account.repository';

/** What the limits need to know about one order. */
export interface OrderExposure {
  quantity: number;
  /** The account the order goes to, when the caller named one. */
  account?: string | undefined;
  /** The price the notional is computed with: the limit (or stop) price, else the current quote. */
  price: () => Promise<{ price: number; source: string } | undefined>;
  multiplier: number;
  currency: string;
}

/** What the checks after read-only mode need: the account the order goes to, and what it is worth. */
export interface SafetySubject {
  /** The account named by the order; undefined checks every managed account. */
  account?: string | undefined;
  /** Absent for requests that add no exposure (cancels). */
  exposure?: OrderExposure | undefined;
}

/** The first refusal of the checks, or the prepared subject when none refuses. */
export type Screening<T> = { refusal: string; subject?: T } | { refusal?: undefined; subject: T };

/** IB paper accounts start with D (DU1234567); individual live accounts with U, advisors with F/I. */
export function isPaperAccount(account: string): boolean {
  return account.startsWith('D');
}

/**
 * DESIGN §6, "orders without surprises": read-only mode, paper by default (live needs orders.allowLive),
 * and the optional per-order quantity and notional limits. Each check returns why it refuses, or nothing.
 */
@Injectable()
export class OrderSafetyPolicy {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly accounts: AccountRepository,
  ) {}

  /**
   * Every check, in order: read-only mode, then `prepare` (which resolves what the request is about and may
   * throw its own errors; it does not run in read-only mode), then the live account, then the limits.
   */
  async screen<T extends SafetySubject>(prepare: () => T | Promise<T>): Promise<Screening<T>> {
    const readOnly = this.readOnlyRefusal();
    if (readOnly !== undefined) return { refusal: readOnly };
    const subject = await prepare();
    const refusal =
      (await this.accountRefusal(subject.account)) ??
      (await this.liveAccountRefusal(subject.account)) ??
      (subject.exposure === undefined ? undefined : await this.limitRefusal(subject.exposure));
    return refusal === undefined ? { subject } : { refusal, subject };
  }

  /** Read-only mode refuses everything that would change an order at the broker. */
  readOnlyRefusal(): string | undefined {
    if (!this.config.orders.readOnly) return undefined;
    return 'the service is in read-only mode (orders.readOnly, --read-only): it places, modifies and cancels no orders';
  }

  /**
   * With an allow-list (orders.accounts), only its accounts: the one named, else the one the order would go to
   * (the first managed account).
   */
  async accountRefusal(account?: string): Promise<string | undefined> {
    const allowed = this.config.orders.accounts;
    if (allowed.length === 0) return undefined;
    const target = account ?? (await this.accounts.managedAccounts())[0];
    if (target !== undefined && allowed.includes(target)) return undefined;
    return `account ${target ?? '(none)'} is not one orders may go to through gateway ${this.config.gateway.name} (orders.accounts: ${allowed.join(', ')})`;
  }

  /** Live accounts are off limits unless orders.allowLive is set. */
  async liveAccountRefusal(account?: string): Promise<string | undefined> {
    if (this.config.orders.allowLive) return undefined;
    const advice = 'live orders are not enabled (orders.allowLive, --allow-live-orders)';
    if (this.config.ib.tradingMode === 'live') {
      return `the gateway is logged into a live account (ib.tradingMode live) and ${advice}`;
    }
    const managed = await this.accounts.managedAccounts();
    const concerned = account === undefined ? managed : [account];
    const live = concerned.filter((name) => name !== '' && !isPaperAccount(name));
    if (live.length === 0) return undefined;
    return `account ${live.join(', ')} is a live account (IB paper accounts start with D) and ${advice}`;
  }

  /** maxQuantity and maxNotional, with the values that broke them. */
  async limitRefusal(exposure: OrderExposure): Promise<string | undefined> {
    const { maxQuantity, maxNotional } = this.config.orders;
    if (maxQuantity !== undefined && exposure.quantity > maxQuantity) {
      return `quantity ${exposure.quantity} exceeds the per-order limit orders.maxQuantity = ${maxQuantity}`;
    }
    if (maxNotional === undefined) return undefined;
    const priced = await exposure.price();
    if (!priced) {
      return `its notional cannot be checked against orders.maxNotional = ${maxNotional}: no price is available for the contract`;
    }
    const notional = exposure.quantity * priced.price * exposure.multiplier;
    if (notional <= maxNotional) return undefined;
    const multiplier = exposure.multiplier === 1 ? '' : ` × multiplier ${exposure.multiplier}`;
    return `notional ${round(notional)} ${exposure.currency} (quantity ${exposure.quantity} × ${priced.source} ${priced.price}${multiplier}) exceeds the per-order limit orders.maxNotional = ${maxNotional}`;
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
