import { Injectable } from '@nestjs/common';
import { ContractsService } from '../contracts/contracts.service';
import { comboUnitNotional, legSide } from './combo-legs';
import type { OrderContractRef, OrderFields } from './order-model';
import { fieldError, type PlaceInput } from './order-requests';
import type { OrderExposure } from './order-safety.policy';
import { orderContractOf, OrdersRepository } from './orders.repository';
import { bracketIssues } from './orders.schemas';

/**
 * What an order is worth for the safety caps (quantity, notional) and the price a MKT bracket's exits are
 * checked against. A single order is priced at its limit (or stop or trigger), else at the quote it would
 * take; a combo per combo unit by comboUnitNotional, its legs resolved and quoted when needed.
 */
@Injectable()
export class OrderExposures {
  constructor(
    private readonly broker: OrdersRepository,
    private readonly contracts: ContractsService,
  ) {}

  of(order: OrderFields, contract: OrderContractRef): OrderExposure {
    if (contract.comboLegs) return this.ofCombo(order, contract);
    return {
      quantity: order.quantity,
      account: order.account,
      multiplier: contract.multiplier ?? 1,
      currency: contract.currency ?? '',
      price: async () => {
        if (order.limitPrice !== undefined) return { price: order.limitPrice, source: 'limit price' };
        if (order.stopPrice !== undefined && order.orderType !== 'TRAIL') {
          return {
            price: order.stopPrice,
            source: order.orderType === 'MIT' ? 'trigger price' : 'stop price',
          };
        }
        return this.broker.quote(contract, order.side);
      },
    };
  }

  /** A MKT bracket's exits are checked against the current price, as a LMT bracket's are against its limit. */
  async checkMarketBracket(input: PlaceInput, contract: OrderContractRef): Promise<void> {
    if (!input.bracket) return;
    const quoted = await this.broker.quote(contract, input.side).catch(() => undefined);
    if (!quoted) return;
    const issues = bracketIssues(input.side, quoted.price, quoted.source, input.bracket);
    if (issues.length > 0) throw fieldError(issues);
  }

  /**
   * A combo: the notional per unit (comboUnitNotional) as the "price", multiplier 1. The legs are resolved by
   * conId (cached contract details) for their multipliers; quoted only when the limit does not suffice.
   */
  private ofCombo(order: OrderFields, contract: OrderContractRef): OrderExposure {
    const legs = contract.comboLegs ?? [];
    return {
      quantity: order.quantity,
      account: order.account,
      multiplier: 1,
      currency: contract.currency ?? '',
      price: async () => {
        const resolved = await Promise.all(
          legs.map(async (leg) =>
            orderContractOf(await this.contracts.resolveContract({ conId: leg.conId })),
          ),
        );
        const multipliers = new Set(resolved.map((leg) => leg.multiplier ?? 1));
        const needQuotes = order.limitPrice === undefined || multipliers.size > 1;
        const priced = await Promise.all(
          legs.map(async (leg, index) => {
            const legContract = resolved[index] ?? { conId: leg.conId };
            const quote = needQuotes
              ? await this.broker.quote(legContract, legSide(leg, order.side)).catch(() => undefined)
              : { price: 0 };
            return quote === undefined
              ? undefined
              : {
                  ratio: leg.ratio,
                  multiplier: legContract.multiplier ?? 1,
                  price: quote.price,
                  sign: leg.action === 'SELL' ? (-1 as const) : (1 as const),
                };
          }),
        );
        if (priced.some((leg) => leg === undefined)) return undefined;
        const { perUnit, source } = comboUnitNotional(
          priced.filter((leg) => leg !== undefined),
          order.limitPrice,
        );
        return { price: perUnit, source: `combo notional per unit (${source})` };
      },
    };
  }
}
