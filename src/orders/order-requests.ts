import type { z } from 'zod';
import { DomainError } from '../common/domain-error';
import type { ContractQuery } from '../contracts/contracts.schemas';
import {
  isOpenStatus,
  type OrderContractRef,
  type OrderFields,
  type OutgoingOrder,
  type TrackedOrder,
} from './order-model';
import { MODIFIABLE_TYPES } from './order-types.schemas';
import {
  orderPricingIssues,
  type FieldIssue,
  type ModifyOrderInput,
  type OrderTypeName,
  type PlaceOrderInput,
  type Side,
} from './orders.schemas';

// What order requests send, built from the API's input: the orders of a place, the fields of a modify.

export type PlaceInput = z.infer<typeof PlaceOrderInput>;
export type ModifyInput = z.infer<typeof ModifyOrderInput>;

export function fieldError(issues: FieldIssue[]): DomainError {
  const text = issues.map((issue) => `[${issue.path.join('.')}]: ${issue.message}`).join('; ');
  return new DomainError('INVALID_INPUT', `Invalid parameters: ${text}`);
}

/** The contract part of an order input. */
export function contractQueryOf(input: ContractQuery): ContractQuery {
  const { symbol, conId, secType, exchange, currency, expiry, strike, right } = input;
  return { symbol, conId, secType, exchange, currency, expiry, strike, right };
}

/** The orders of a place request: one, or IB's bracket (only the last child transmits the group). */
export function ordersToSend(input: PlaceInput, ids: number[], key: string | undefined): OutgoingOrder[] {
  const orderRef = key === undefined ? {} : { orderRef: key };
  const [entryId = 0, takeProfitId = 0, stopLossId = 0] = ids;
  if (!input.bracket) return [{ orderId: entryId, fields: { ...input, ...orderRef } }];
  const exit = {
    side: input.side === 'BUY' ? ('SELL' as const) : ('BUY' as const),
    quantity: input.quantity,
    tif: input.tif,
    outsideRth: input.outsideRth,
    account: input.account,
    ...orderRef,
    parentId: entryId,
  };
  const { takeProfitPrice, stopLossPrice } = input.bracket;
  return [
    { orderId: entryId, fields: { ...input, ...orderRef, transmit: false } },
    {
      orderId: takeProfitId,
      fields: { ...exit, orderType: 'LMT', limitPrice: takeProfitPrice, transmit: false },
    },
    { orderId: stopLossId, fields: { ...exit, orderType: 'STP', stopPrice: stopLossPrice, transmit: true } },
  ];
}

/** A working order with the requested changes; its type, side, account and contract stay. */
export function modifiedFields(
  current: TrackedOrder,
  input: ModifyInput,
): OrderFields & { issues: FieldIssue[] } {
  if (!isOpenStatus(current.status) || current.status === 'PendingSubmit') {
    throw new DomainError(
      'CONFLICT',
      `Order ${input.orderId} is ${current.status}; only working orders can be modified`,
    );
  }
  if (!(MODIFIABLE_TYPES as readonly string[]).includes(current.orderType)) {
    throw new DomainError(
      'INVALID_INPUT',
      `Order ${input.orderId} is a ${current.orderType} order; modify_order handles ${MODIFIABLE_TYPES.join(', ')}`,
    );
  }
  const orderType = current.orderType as OrderTypeName;
  const trailingChanged = input.trailingAmount !== undefined || input.trailingPercent !== undefined;
  const fields = {
    side: current.side as Side,
    orderType,
    quantity: input.quantity ?? current.quantity,
    limitPrice: input.limitPrice ?? current.limitPrice,
    stopPrice: orderType === 'TRAIL' ? input.stopPrice : (input.stopPrice ?? current.stopPrice),
    trailingAmount: trailingChanged ? input.trailingAmount : current.trailingAmount,
    trailingPercent: trailingChanged ? input.trailingPercent : current.trailingPercent,
    tif: input.tif ?? current.tif,
    goodTillDate:
      (input.tif ?? current.tif) === 'GTD' ? (input.goodTillDate ?? current.goodTillDate) : undefined,
    ocaGroup: current.ocaGroup,
    outsideRth: input.outsideRth ?? current.outsideRth,
    account: current.account,
  };
  const issues = orderPricingIssues(fields);
  if (input.goodTillDate !== undefined && fields.tif !== 'GTD') {
    issues.push({ path: ['goodTillDate'], message: 'is only allowed with tif GTD' });
  }
  if (current.contract.secType !== 'BAG' && fields.limitPrice !== undefined && !(fields.limitPrice > 0)) {
    issues.push({
      path: ['limitPrice'],
      message: 'must be positive (only a combo may have a negative net price)',
    });
  }
  if (fields.quantity < current.filled) {
    issues.push({ path: ['quantity'], message: `must not be below the ${current.filled} already filled` });
  }
  return { ...fields, issues };
}

/** The contract a modify of a tracked order goes out with: its conId and routing, as IB reported them. */
export function contractOfTracked(order: TrackedOrder): OrderContractRef {
  const { conId = 0, symbol, secType, exchange, currency } = order.contract;
  const comboLegs = order.legs?.map((leg) => ({ ...leg, exchange: 'SMART' }));
  return {
    conId,
    symbol,
    secType,
    exchange: exchange ?? 'SMART',
    currency,
    ...(comboLegs ? { comboLegs } : {}),
  };
}

/**
 * The fields of a staged order as the service knows them from IB's reports, when the ones it was placed with
 * are not at hand (a restart in between): the types modify_order handles; others are refused.
 */
export function stagedFieldsOf(current: TrackedOrder, orderId: number): OrderFields {
  const { issues, ...fields } = modifiedFields(current, { orderId });
  if (issues.length > 0) throw fieldError(issues);
  return fields;
}
