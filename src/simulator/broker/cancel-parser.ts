import type { FieldReader } from '../protocol/field-reader';
import { ServerVersion } from '../protocol/versions';

/** An int field; empty or Integer.MAX_VALUE (the client's "unset") reads as undefined. */
function optionalInt(reader: FieldReader): number | undefined {
  const value = reader.optionalNumber();
  return value === undefined || value === 2147483647 ? undefined : Math.trunc(value);
}

/**
 * CANCEL_ORDER as @stoqey/ib and ibapi write it: a version field until v192 (CME tagging), the manual
 * cancel time from v169, three unset RFQ fields from v187 to v189, extOperator and manualOrderIndicator
 * from v192. (The broker's CANCEL_ORDER handler should read the request with parseCancelOrder.)
 */
export interface CancelOrderRequest {
  orderId: number;
  manualOrderCancelTime: string;
  extOperator: string;
  manualOrderIndicator: number | undefined;
}

export function parseCancelOrder(reader: FieldReader): CancelOrderRequest {
  const v = reader.serverVersion;
  if (v < ServerVersion.CME_TAGGING_FIELDS) reader.skip(1); // version
  const orderId = reader.int();
  const manualOrderCancelTime = reader.since(ServerVersion.MANUAL_ORDER_TIME, () => reader.string()) ?? '';
  if (v >= ServerVersion.RFQ_FIELDS && v < ServerVersion.UNDO_RFQ_FIELDS) reader.skip(3);
  const extOperator = reader.since(ServerVersion.CME_TAGGING_FIELDS, () => reader.string()) ?? '';
  const manualOrderIndicator = reader.since(ServerVersion.CME_TAGGING_FIELDS, () => optionalInt(reader));
  return { orderId, manualOrderCancelTime, extOperator, manualOrderIndicator };
}

/** REQ_GLOBAL_CANCEL: a version field until v192, then extOperator and manualOrderIndicator. */
export function parseGlobalCancel(
  reader: FieldReader,
): Omit<CancelOrderRequest, 'orderId' | 'manualOrderCancelTime'> {
  if (reader.serverVersion < ServerVersion.CME_TAGGING_FIELDS) {
    reader.skip(1); // version
    return { extOperator: '', manualOrderIndicator: undefined };
  }
  return { extOperator: reader.string(), manualOrderIndicator: optionalInt(reader) };
}
