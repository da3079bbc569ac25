import { z } from 'zod';
import { gatewayArgument } from '../common/gateway-argument';
import { accountFilter, OrderContract, OrderLegView } from './orders.schemas';

const isoTime = (description: string) =>
  z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2026-01-02T15:00:00Z' })
    .optional()
    .describe(description);

export const CompletedOrdersInput = z.strictObject({
  account: accountFilter.describe('Only orders of this account'),
  since: isoTime('Only orders completed at or after this time (ISO 8601)'),
  until: isoTime('Only orders completed before this time (ISO 8601)'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .describe('Most orders to return, the most recently completed ones (default 100, max 1000)'),
  ...gatewayArgument,
});

export const CompletedOrder = z.object({
  permId: z.number().int().nullable().describe("IB's permanent id of the order"),
  orderId: z.number().int().nullable().describe('The order id, when IB reports it (it often does not)'),
  clientId: z.number().int().nullable().describe('API client that placed it, when IB reports it'),
  account: z.string().nullable(),
  contract: OrderContract,
  legs: z.array(OrderLegView).optional().describe("A combo's legs (contract.secType BAG)"),
  side: z.string().nullable().describe('BUY or SELL'),
  orderType: z.string().nullable(),
  quantity: z.number().nullable().describe('Total quantity'),
  filled: z.number().nullable().describe('Quantity filled'),
  limitPrice: z.number().nullable(),
  auxPrice: z.number().nullable().describe('Stop price (STP, STP LMT) or trailing amount (TRAIL)'),
  tif: z.string().nullable(),
  status: z.string().describe("IB's order status when it completed: Filled, Cancelled, Inactive, ..."),
  completedStatus: z.string().nullable().describe("IB's words for how it ended, e.g. 'Cancelled by Trader'"),
  completedAt: z.string().nullable().describe('When it completed (ISO 8601), when IB says'),
  idempotencyKey: z
    .string()
    .nullable()
    .describe("The order's orderRef: the idempotency key of orders placed here"),
});

export const CompletedOrders = z.object({
  orders: z
    .array(CompletedOrder)
    .describe('Filled, cancelled and rejected orders IB still lists, oldest first'),
  total: z.number().int().describe('How many matched before the limit'),
});
