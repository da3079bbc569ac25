import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { isOpenStatus, type OrderFields, type TrackedOrder } from './order-model';
import { stagedFieldsOf } from './order-requests';

/**
 * Staged orders (place_order with transmit: false): IB holds them, not working, until transmit_order sends
 * them again with transmit=1. Keeps the fields each was placed (or last modified) with, so that it is
 * transmitted exactly as staged (REL and TRAIL LIMIT offsets too, which IB's reports do not carry back);
 * after a restart the fields come from IB's reports (the types modify_order handles). Whether an order is
 * staged is the tracked order's `staged` flag, journaled with it.
 */
@Injectable()
export class StagedOrders {
  private readonly fields = new Map<number, OrderFields>();

  remember(orderId: number, fields: OrderFields): void {
    this.fields.set(orderId, fields);
  }

  forget(orderId: number): void {
    this.fields.delete(orderId);
  }

  /**
   * What transmit_order does with an order: send it (staged), or answer it as it stands (already transmitted,
   * or working without having been staged). CONFLICT when it is neither staged nor working, or was cancelled
   * while staged.
   */
  planFor(order: TrackedOrder): 'send' | 'answer' {
    if (order.staged === true && isOpenStatus(order.status)) return 'send';
    if (order.staged === false || (order.staged === undefined && isOpenStatus(order.status))) return 'answer';
    throw new DomainError(
      'CONFLICT',
      `Order ${order.orderId} is ${order.status}${order.staged === true ? ' (it was staged)' : ' and was not staged'}: there is nothing to transmit; nothing was sent`,
    );
  }

  /** The fields to transmit a staged order with: as placed, else as IB reports them. */
  fieldsOf(order: TrackedOrder): OrderFields {
    return this.fields.get(order.orderId) ?? stagedFieldsOf(order, order.orderId);
  }
}
