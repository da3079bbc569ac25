import type { Type } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import type { AppConfig } from '../config/config.schema';
import type { GatewayService } from './gateway.service';

/** One gateway the supervisor runs, with its own session, watchdog, ladder, orders and events. */
export interface GatewayUnit {
  name: string;
  /** /health/ready waits for it. */
  required: boolean;
  config: AppConfig;
  gateway: GatewayService;
  /** One of this gateway's own services (its OrdersService, its HealthService, ...). */
  get<T>(type: Type<T>): T;
  /** The accounts the gateway manages, as last learned; empty before its first session. */
  accounts(): Promise<readonly string[]>;
  /** Its health state (get_health_status's) and whether its IB API session is connected, now. */
  condition(): { health: string; connected: boolean };
  /** True when this gateway's service knows the order (its id, or the idempotency key it was placed with). */
  knowsOrder(order: { orderId?: number | undefined; idempotencyKey?: string | undefined }): boolean;
}

/** How an operation names its gateway: explicitly, or by the account it concerns. */
export interface GatewayChoice {
  gateway?: string | undefined;
  account?: string | undefined;
}

/** How an operation on an existing order names it: by id or by the idempotency key it was placed with. */
export interface OrderChoice extends GatewayChoice {
  orderId?: number | undefined;
  idempotencyKey?: string | undefined;
}

/**
 * Which gateway an operation goes to. An explicit `gateway` always wins; then the account, for what concerns
 * an account or an order; then, with one gateway, that one. With several and no way to decide, the answer is a
 * 400 that lists the choices: a guess could send an order to the wrong broker account.
 */
export class GatewayRouter {
  private readonly byName: ReadonlyMap<string, GatewayUnit>;

  constructor(
    readonly units: readonly GatewayUnit[],
    private readonly dataGateway: string,
  ) {
    this.byName = new Map(units.map((unit) => [unit.name, unit]));
  }

  /** Gateway, health, connection and VNC operations: the gateway named, else the only one. */
  named(choice: GatewayChoice): GatewayUnit {
    if (choice.gateway !== undefined) return this.unitNamed(choice.gateway);
    return this.onlyOne('this operation concerns one gateway');
  }

  /** Market data, contracts and the scanner: the gateway named, else the one configured for data. */
  forData(choice: GatewayChoice): GatewayUnit {
    return this.unitNamed(choice.gateway ?? this.dataGateway);
  }

  /** forData without the error: undefined for a name no gateway has. */
  tryForData(choice: GatewayChoice): GatewayUnit | undefined {
    return this.byName.get(choice.gateway ?? this.dataGateway);
  }

  /**
   * Account and order operations: the gateway named (which must manage the account, when one is given too),
   * else the one managing the account, else the only one.
   */
  async forAccount(choice: GatewayChoice): Promise<GatewayUnit> {
    const { account } = choice;
    if (choice.gateway !== undefined) {
      const unit = this.unitNamed(choice.gateway);
      if (account !== undefined && this.units.length > 1) {
        const accounts = await unit.accounts();
        if (accounts.length > 0 && !accounts.includes(account)) {
          throw new DomainError(
            'INVALID_INPUT',
            `Gateway ${unit.name} does not manage account ${account} (it manages ${accounts.join(', ')})`,
          );
        }
      }
      return unit;
    }
    if (account === undefined || this.units.length === 1) {
      return this.onlyOne('name the account (or the gateway) it concerns');
    }
    const managing: GatewayUnit[] = [];
    for (const unit of this.units) if ((await unit.accounts()).includes(account)) managing.push(unit);
    const [unit, ...others] = managing;
    if (unit !== undefined && others.length === 0) return unit;
    if (unit === undefined) {
      throw new DomainError(
        'INVALID_INPUT',
        `No gateway manages account ${account}: ${await this.accountList()}`,
        { gateways: this.names() },
      );
    }
    throw this.ambiguity(
      `account ${account} is managed by ${managing.map((each) => each.name).join(' and ')}`,
    );
  }

  /** Operations on one order: the gateway named, else the only one, else the one that knows the order. */
  forOrder(choice: OrderChoice): GatewayUnit {
    if (choice.gateway !== undefined || this.units.length === 1) return this.named(choice);
    const knowing = this.units.filter((unit) => unit.knowsOrder(choice));
    const [unit, ...others] = knowing;
    if (unit !== undefined && others.length === 0) return unit;
    const order =
      choice.orderId === undefined
        ? `the order with idempotency key ${choice.idempotencyKey ?? ''}`
        : `order ${choice.orderId}`;
    throw this.ambiguity(
      unit === undefined
        ? `no gateway's service knows ${order}`
        : `${order} is known to ${knowing.map((each) => each.name).join(' and ')}`,
    );
  }

  isDataGateway(unit: GatewayUnit): boolean {
    return unit.name === this.dataGateway;
  }

  names(): string[] {
    return this.units.map((unit) => unit.name);
  }

  private unitNamed(name: string): GatewayUnit {
    const unit = this.byName.get(name);
    if (unit !== undefined) return unit;
    throw new DomainError(
      'INVALID_INPUT',
      `No gateway is named ${name}; the gateways: ${this.names().join(', ')}`,
      {
        gateways: this.names(),
      },
    );
  }

  private onlyOne(advice: string): GatewayUnit {
    const [unit, ...others] = this.units;
    if (unit !== undefined && others.length === 0) return unit;
    throw this.ambiguity(advice);
  }

  private ambiguity(why: string): DomainError {
    return new DomainError(
      'INVALID_INPUT',
      `Several gateways could answer (${why}): give gateway, one of ${this.names().join(', ')}`,
      { gateways: this.names() },
    );
  }

  private async accountList(): Promise<string> {
    const parts: string[] = [];
    for (const unit of this.units) {
      const accounts = await unit.accounts();
      parts.push(
        `${unit.name} manages ${accounts.length > 0 ? accounts.join(', ') : 'no account known yet'}`,
      );
    }
    return parts.join('; ');
  }
}
