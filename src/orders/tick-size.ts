import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, dateOf, type Clock } from '../common/clock';
import { ContractsService } from '../contracts/contracts.service';
import type { OrderContractRef } from './order-model';
import { comboTickSize } from './combo-legs';
import { fieldError } from './order-requests';
import { goodTillDateIssues, type FieldIssue, type Side } from './order-types.schemas';
import { OrdersRepository } from './orders.repository';

export interface PriceIncrement {
  lowEdge: number;
  increment: number;
}

export interface PriceAdjustment {
  field: string;
  requested: number;
  used: number;
  tickSize: number;
}

/** The prices of an order a tick rule applies to, and the side each is passive on. */
interface PricedOrder {
  side: Side;
  tif?: string | undefined;
  goodTillDate?: string | undefined;
  orderType: string;
  limitPrice?: number | undefined;
  stopPrice?: number | undefined;
  bracket?: { takeProfitPrice: number; stopLossPrice: number } | undefined;
}

/** The increment that applies at `price`: the step of the highest low edge at or below it. */
export function tickSizeAt(rule: readonly PriceIncrement[], price: number): number | undefined {
  let tick: number | undefined;
  for (const step of [...rule].sort((a, b) => a.lowEdge - b.lowEdge)) {
    if (price >= step.lowEdge && step.increment > 0) tick = step.increment;
  }
  return tick;
}

function decimals(value: number): number {
  const text = String(value);
  return text.includes('e-') ? Number(text.split('e-')[1]) : (text.split('.')[1]?.length ?? 0);
}

/** `price` rounded to `tick` (up or down), or itself when it is on the tick already. */
export function roundToTick(price: number, tick: number, direction: 'up' | 'down'): number {
  const steps = price / tick;
  const nearest = Math.round(steps);
  const onTick = Math.abs(steps - nearest) < 1e-7;
  const whole = onTick ? nearest : direction === 'up' ? Math.ceil(steps) : Math.floor(steps);
  return Number((whole * tick).toFixed(Math.min(10, decimals(tick))));
}

/**
 * Every price of an order with the direction that keeps it passive: a buy limit rounds down and a sell limit
 * up; a stop (which triggers when the market comes to it from below for a buy) the other way; an MIT/LIT
 * trigger like a limit.
 */
function pricesOf(order: PricedOrder): { field: string; price: number; direction: 'up' | 'down' }[] {
  const buy = order.side === 'BUY';
  const limitWay = buy ? 'down' : 'up';
  const stopWay = buy ? 'up' : 'down';
  const touched = order.orderType === 'MIT' || order.orderType === 'LIT';
  const prices: { field: string; price: number; direction: 'up' | 'down' }[] = [];
  if (order.limitPrice !== undefined) {
    prices.push({ field: 'limitPrice', price: order.limitPrice, direction: limitWay });
  }
  if (order.stopPrice !== undefined) {
    prices.push({ field: 'stopPrice', price: order.stopPrice, direction: touched ? limitWay : stopWay });
  }
  if (order.bracket) {
    // The exits are on the other side: a take-profit limit and a stop-loss stop.
    prices.push({
      field: 'bracket.takeProfitPrice',
      price: order.bracket.takeProfitPrice,
      direction: stopWay,
    });
    prices.push({ field: 'bracket.stopLossPrice', price: order.bracket.stopLossPrice, direction: limitWay });
  }
  return prices;
}

/**
 * Checks an order's prices against the contract's tick size (IB's market rule, from the contract details'
 * marketRuleIds, each rule fetched once and cached) before anything is sent: off-tick prices are refused
 * with INVALID_INPUT naming the tick size, or rounded toward the passive side when the caller asks. Also
 * refuses a GTD date that is not in the future.
 */
@Injectable()
export class TickSizePolicy {
  private readonly rules = new Map<number, Promise<PriceIncrement[]>>();

  constructor(
    private readonly contracts: ContractsService,
    private readonly broker: OrdersRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async apply<T extends PricedOrder>(
    contract: OrderContractRef,
    order: T,
    roundToTickAsked: boolean | undefined,
  ): Promise<{ order: T; adjustments: PriceAdjustment[] }> {
    // GTD's date must be in the future (the schema checks only its form).
    const dateIssues = goodTillDateIssues(order, dateOf(this.clock).getTime());
    if (dateIssues.length > 0) throw fieldError(dateIssues);
    const prices = pricesOf(order);
    if (prices.length === 0) return { order, adjustments: [] };
    const tickAt = await this.tickFunction(contract);
    if (!tickAt) return { order, adjustments: [] };
    const issues: FieldIssue[] = [];
    const adjustments: PriceAdjustment[] = [];
    const combo = contract.comboLegs !== undefined;
    const subject = combo
      ? `the ${contract.symbol ?? ''} combo (the smallest tick of its legs)`
      : (contract.symbol ?? `conId ${contract.conId}`);
    for (const { field, price, direction } of prices) {
      const tick = tickAt(price);
      if (tick === undefined) continue;
      const used = roundToTick(price, tick, direction);
      if (used === price || Math.abs(used - price) < tick * 1e-7) continue;
      if (roundToTickAsked === true) {
        adjustments.push({ field, requested: price, used, tickSize: tick });
      } else {
        issues.push({
          path: field.split('.'),
          message: `${price} is not a multiple of the tick size ${tick} of ${subject} at this price (IB's market rule); use ${roundToTick(price, tick, 'down')} or ${roundToTick(price, tick, 'up')}, or roundToTick: true`,
        });
      }
    }
    if (issues.length > 0) throw fieldError(issues);
    const rounded = { ...order, ...(order.bracket ? { bracket: { ...order.bracket } } : {}) } as T;
    for (const { field, used } of adjustments) {
      if (field === 'limitPrice') rounded.limitPrice = used;
      if (field === 'stopPrice') rounded.stopPrice = used;
      if (field === 'bracket.takeProfitPrice' && rounded.bracket) rounded.bracket.takeProfitPrice = used;
      if (field === 'bracket.stopLossPrice' && rounded.bracket) rounded.bracket.stopLossPrice = used;
    }
    return { order: rounded, adjustments };
  }

  /**
   * The tick size by price of a contract: its market rule's; for a combo the smallest of its legs' ticks at
   * the (absolute) net price (comboTickSize). Undefined when no rule is known.
   */
  private async tickFunction(
    contract: OrderContractRef,
  ): Promise<((price: number) => number | undefined) | undefined> {
    if (!contract.comboLegs) {
      const rule = await this.ruleOf(contract);
      return rule && ((price: number) => tickSizeAt(rule, price));
    }
    const rules = await Promise.all(
      contract.comboLegs.map(async (leg) => this.ruleOf({ conId: leg.conId, exchange: 'SMART' })),
    );
    const known = rules.filter((rule): rule is PriceIncrement[] => rule !== undefined);
    if (known.length === 0) return undefined;
    return (price: number) => comboTickSize(known.map((rule) => tickSizeAt(rule, Math.abs(price))));
  }

  /** The rule of the contract's exchange (the first listed when it is not among validExchanges). */
  private async ruleOf(contract: OrderContractRef): Promise<PriceIncrement[] | undefined> {
    const qualified = await this.contracts.resolveContract({ conId: contract.conId });
    const ids = (qualified.marketRuleIds ?? '').split(',');
    const exchanges = (qualified.validExchanges ?? '').split(',');
    const index = Math.max(0, exchanges.indexOf(contract.exchange ?? ''));
    const ruleId = Number(ids[index] ?? ids[0]);
    if (!Number.isInteger(ruleId) || ruleId <= 0) return undefined;
    let rule = this.rules.get(ruleId);
    if (!rule) {
      rule = this.broker.marketRule(ruleId);
      this.rules.set(ruleId, rule);
      rule.catch(() => this.rules.delete(ruleId));
    }
    return rule;
  }
}
