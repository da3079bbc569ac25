import { DomainError } from '../common/domain-error';
import type { ContractQuery } from '../contracts/contracts.schemas';
import type { ContractsService } from '../contracts/contracts.service';
import { contractQueryOf } from './order-requests';
import { legViews, type ComboLegRef, type LegView, type OrderContractRef } from './order-model';
import { orderContractOf } from './order-wire.repository';
import type { ComboLegInput } from './combo-legs.schemas';
import type { Side } from './order-types.schemas';

// Combos (IB's BAG contracts): the legs of the API's input, their resolution to conIds, and the pure
// policies of a combo's tick size and notional.

/**
 * A combo's tick size at a net price: the smallest tick among its legs at that price (the absolute value, as
 * a credit is priced like a debit). A combo's net price moves by any of its legs' ticks, and IB accepts a
 * combo limit on the finest of them: for option spreads usually 0.01 or 0.05, for a buy-write the stock's.
 */
export function comboTickSize(legTicks: readonly (number | undefined)[]): number | undefined {
  const ticks = legTicks.filter((tick): tick is number => tick !== undefined && tick > 0);
  return ticks.length === 0 ? undefined : Math.min(...ticks);
}

/** One leg priced for the notional: its ratio, multiplier and price per unit. */
export interface PricedLeg {
  ratio: number;
  multiplier: number;
  price: number;
}

/**
 * A combo's notional per combo unit, for the safety caps (orders.maxNotional):
 * - legs that share one multiplier (an option spread: 100): |net price| × multiplier, the net price being
 *   the limit price when given, else the legs' current net (Σ ±ratio × price);
 * - legs of different multipliers (stock and option): the legs' own notionals summed, Σ ratio × |price| ×
 *   multiplier, as their net would mix shares and contracts.
 */
export function comboUnitNotional(
  legs: readonly (PricedLeg & { sign: 1 | -1 })[],
  limitPrice: number | undefined,
): { perUnit: number; source: string } {
  const multipliers = new Set(legs.map((leg) => leg.multiplier));
  if (multipliers.size <= 1) {
    const [multiplier = 1] = multipliers;
    const net = limitPrice ?? legs.reduce((sum, leg) => sum + leg.sign * leg.ratio * leg.price, 0);
    return {
      perUnit: Math.abs(net) * multiplier,
      source: limitPrice === undefined ? "legs' net market price" : 'net limit price',
    };
  }
  return {
    perUnit: legs.reduce((sum, leg) => sum + leg.ratio * Math.abs(leg.price) * leg.multiplier, 0),
    source: "legs' notionals summed",
  };
}

/** The errors of a leg's contract lookup that mean the leg itself is wrong. */
const LEG_REFUSALS: readonly string[] = ['NOT_FOUND', 'INVALID_INPUT', 'CONFLICT'];

/** A resolved leg: what goes on the wire (conId, ratio, action) and what the views show. */
export interface ResolvedLeg extends ComboLegRef {
  contract: OrderContractRef;
}

/**
 * Every leg to its contract through the contracts service (contract details), before anything is sent; a
 * leg that does not resolve is INVALID_INPUT naming it (`legs[1]: ...`). The combo's BAG contract: the
 * underlying's symbol, its currency, SMART, and the legs.
 */
export async function resolveCombo(
  contracts: Pick<ContractsService, 'resolveContract'>,
  legs: readonly ComboLegInput[],
  currency: string | undefined,
): Promise<{ contract: OrderContractRef; legs: ResolvedLeg[] }> {
  const resolved = await Promise.all(
    legs.map(async (leg, index): Promise<ResolvedLeg> => {
      const query =
        leg.conId !== undefined
          ? { conId: leg.conId }
          : {
              symbol: leg.symbol,
              secType: leg.secType,
              ...(currency === undefined ? {} : { currency }),
              ...(leg.secType === 'OPT' ? { expiry: leg.expiry, strike: leg.strike, right: leg.right } : {}),
            };
      let contract: OrderContractRef;
      try {
        contract = orderContractOf(await contracts.resolveContract(query));
      } catch (error) {
        // Only "no such contract" (404), "not a valid contract" (400) and "ambiguous" (409) name the leg; a lost
        // session or a timeout stays what it is (retry later), never a 400.
        if (!(error instanceof DomainError && LEG_REFUSALS.includes(error.code))) throw error;
        const message = error.message;
        throw new DomainError(
          'INVALID_INPUT',
          `Invalid parameters: [legs.${index}]: legs[${index}] does not resolve to a contract: ${message}. Nothing was sent to the broker.`,
        );
      }
      if (contract.secType !== leg.secType) {
        throw new DomainError(
          'INVALID_INPUT',
          `Invalid parameters: [legs.${index}]: legs[${index}] is a ${contract.secType ?? 'contract'} (conId ${contract.conId}), not ${leg.secType}`,
        );
      }
      return { conId: contract.conId, ratio: leg.ratio, action: leg.action, exchange: 'SMART', contract };
    }),
  );
  const symbols = new Set(resolved.map((leg) => leg.contract.symbol));
  if (symbols.size > 1) {
    throw new DomainError(
      'INVALID_INPUT',
      `Invalid parameters: [legs]: the legs must share one underlying (they name ${[...symbols].join(', ')})`,
    );
  }
  const [first] = resolved;
  return {
    contract: {
      conId: 0,
      symbol: first?.contract.symbol,
      secType: 'BAG',
      exchange: 'SMART',
      currency: first?.contract.currency ?? currency,
      comboLegs: resolved.map(({ conId, ratio, action, exchange, contract: leg }) => ({
        conId,
        ratio,
        action,
        exchange,
        symbol: leg.symbol,
        secType: leg.secType,
        expiry: leg.expiry,
        strike: leg.strike,
        right: leg.right,
      })),
    },
    legs: resolved,
  };
}

/** A leg's side when the combo goes the order's way: its own action, reversed for a SELL combo. */
export function legSide(leg: Pick<ComboLegRef, 'action'>, side: Side): Side {
  return (leg.action === 'BUY') === (side === 'BUY') ? 'BUY' : 'SELL';
}

/** The contract of an order input: a combo's BAG contract of its resolved legs, else the one it names. */
export async function orderContractOfInput(
  contracts: Pick<ContractsService, 'resolveContract'>,
  input: ContractQuery & { legs?: ComboLegInput[] | undefined },
): Promise<OrderContractRef> {
  if (input.legs) return (await resolveCombo(contracts, input.legs, input.currency)).contract;
  return orderContractOf(await contracts.resolveContract(contractQueryOf(input)));
}

/**
 * A reported combo's legs with what describes each (symbol, secType, expiry, strike, right): IB's reports carry
 * only conId, ratio and action, so each leg is looked up by conId (contract details, cached); a leg that
 * cannot be looked up keeps what IB said.
 */
export async function describedLegs(
  contracts: Pick<ContractsService, 'resolveContract'>,
  legs: readonly ComboLegRef[],
): Promise<LegView[]> {
  const known = await Promise.all(
    legs.map(async (leg) => {
      const contract = await contracts
        .resolveContract({ conId: leg.conId })
        .then(orderContractOf, () => undefined);
      return contract === undefined ? [] : legViews([{ ...contract, ratio: leg.ratio, action: leg.action }]);
    }),
  );
  return legViews(legs, known.flat());
}
