import { gatewayArgument } from '../common/gateway-argument';
import { z } from 'zod';
import { contractQueryShape, requireSymbolOrConId } from '../contracts/contracts.schemas';
import { bracketIssues, entryReferencePrice } from './bracket-rules';
import { comboIssues, comboLegsField } from './combo-legs.schemas';

import {
  goodTillDateIssues,
  orderPricingIssues,
  orderTypeShape,
  PriceAdjustments,
  SIDES,
  TIME_IN_FORCE,
  type FieldIssue,
  type OrderPricing,
  type OrderTypeName,
  type Side,
  ORDER_TYPES,
} from './order-types.schemas';

export {
  bracketIssues,
  entryReferencePrice,
  ORDER_TYPES,
  SIDES,
  TIME_IN_FORCE,
  orderPricingIssues,
  type FieldIssue,
  type OrderPricing,
  type OrderTypeName,
  type Side,
};

const price = (what: string) => z.number().positive('must be positive').optional().describe(what);

function addIssues(context: z.RefinementCtx, issues: FieldIssue[]): void {
  for (const issue of issues) context.addIssue({ code: 'custom', path: issue.path, message: issue.message });
}

// ---- Inputs ----

const orderShape = {
  ...contractQueryShape,
  side: z.enum(SIDES).describe('BUY or SELL'),
  quantity: z
    .number()
    .positive('must be positive')

    .describe('How many shares or contracts; must be positive'),
  orderType: z
    .enum(ORDER_TYPES)
    .describe(
      'MKT (market), LMT (limit: limitPrice), STP (stop: stopPrice), STP LMT (stop limit: stopPrice and limitPrice), TRAIL (trailing stop: trailingAmount or trailingPercent), TRAIL LIMIT (trailing stop, then a limit limitPriceOffset beyond it), MOC / LOC (market / limit on close: limitPrice), MIT / LIT (market / limit if touched: stopPrice is the trigger, LIT also limitPrice), REL (relative: pegOffset from the bid/ask, limitPrice optional cap)',
    ),
  limitPrice: z
    .number()
    .optional()
    .describe(
      'Limit price; required for LMT, STP LMT, LOC and LIT, not allowed for MKT, STP, TRAIL, MOC, MIT. Positive, except for combos (legs): the net price per combo unit, negative for a credit',
    ),
  stopPrice: price('Stop (trigger) price; required for STP, STP LMT, MIT and LIT, not allowed otherwise'),
  trailingAmount: price('TRAIL only: distance of the stop from the market, in price units'),
  trailingPercent: z
    .number()
    .positive('must be positive')
    .max(100, 'must be at most 100')
    .optional()
    .describe('TRAIL only: distance of the stop from the market, in percent'),
  tif: z
    .enum(TIME_IN_FORCE)
    .default('DAY')
    .describe(
      'Time in force: DAY (default), GTC (until cancelled), IOC, FOK, OPG (at the open), GTD (until goodTillDate)',
    ),
  outsideRth: z
    .boolean()
    .default(false)
    .describe('Allow the order to work outside regular trading hours (default false)'),
  account: z
    .string()
    .regex(/^[A-Za-z0-9]{1,20}$/, 'must be an IB account id such as DU1234567')
    .optional()
    .describe('Account to place the order in; default the only (or first) managed account'),
  ...orderTypeShape,
  legs: comboLegsField,
};

type OrderInputShape = OrderPricing & {
  tif?: string;
  goodTillDate?: string | undefined;
  legs?: z.infer<typeof comboLegsField>;
  symbol?: string | undefined;
  conId?: number | undefined;
};

function refineOrder(value: OrderInputShape, context: z.RefinementCtx): void {
  addIssues(context, orderPricingIssues(value));
  addIssues(context, goodTillDateIssues(value, -Infinity));
  addIssues(context, comboIssues(value));
  if (value.legs === undefined && value.limitPrice !== undefined && !(value.limitPrice > 0)) {
    context.addIssue({
      code: 'custom',
      path: ['limitPrice'],
      message: 'must be positive (only a combo, with legs, may have a zero or negative net price)',
    });
  }
}

/** A combo names no single contract: its legs do. */
function requireContract(value: OrderInputShape, context: z.RefinementCtx): void {
  if (value.legs === undefined) requireSymbolOrConId(value, context);
}

export const PreviewOrderInput = z
  .strictObject({ ...orderShape, ...gatewayArgument })
  .superRefine(requireContract)
  .superRefine(refineOrder);

/** Entry types a bracket takes: MKT, and those with a reference price its exits are checked against. */
export const BRACKET_ENTRY_TYPES: readonly OrderTypeName[] = [
  'MKT',
  'LMT',
  'STP',
  'STP LMT',
  'MIT',
  'LIT',
  'LOC',
  'REL',
];

export const PlaceOrderInput = z
  .strictObject({
    ...orderShape,
    bracket: z
      .strictObject({
        takeProfitPrice: z
          .number()
          .positive('must be positive')

          .describe(
            'Limit price of the take-profit child (SELL LMT for a BUY entry, BUY LMT for a SELL entry)',
          ),
        stopLossPrice: z
          .number()
          .positive('must be positive')

          .describe('Stop price of the stop-loss child (a STP order on the opposite side)'),
      })
      .optional()
      .describe(
        'Makes this a bracket: the entry plus a take-profit and a stop-loss child that work once it fills; one fills, the other is cancelled',
      ),
    transmit: z
      .boolean()
      .default(true)
      .describe(
        'False stages the order: IB holds it (transmit=0), not working, until transmit_order sends it; default true',
      ),
    idempotencyKey: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._:-]+$/, 'must be 1-64 characters of letters, digits, . _ : -')
      .optional()
      .describe(
        'Client key for safe retries: a retry with the same key returns the original order instead of placing another (also after a restart); the same key with different parameters is refused with 409',
      ),
    ...gatewayArgument,
  })
  .superRefine(requireContract)
  .superRefine(refineOrder)
  .superRefine((value, context) => {
    if (!value.bracket) return;
    const refuse = (message: string) => context.addIssue({ code: 'custom', path: ['bracket'], message });
    if (!BRACKET_ENTRY_TYPES.includes(value.orderType)) {
      return refuse(
        `is not available with ${value.orderType} entry orders (use ${BRACKET_ENTRY_TYPES.join(', ')})`,
      );
    }
    if (value.orderType === 'REL' && value.limitPrice === undefined) {
      return refuse('needs a REL entry with limitPrice (its cap is the price the exits are checked against)');
    }
    if (value.legs !== undefined) return refuse('is not available for combos (legs)');
    if (!value.transmit) return refuse('cannot be staged (transmit: false); place the bracket at once');
    const label = value.limitPrice !== undefined ? 'limitPrice' : 'stopPrice';
    addIssues(context, bracketIssues(value.side, entryReferencePrice(value), label, value.bracket));
  });

const orderIdField = z.number().int().positive('must be positive').describe('IB order id');

export const ModifyOrderInput = z
  .strictObject({
    orderId: orderIdField.describe('Id of the open order to modify'),
    quantity: z.number().positive('must be positive').optional().describe('New total quantity'),
    limitPrice: z
      .number()
      .optional()
      .describe("New limit price (LMT, STP LMT, LOC, LIT); a combo's net price may be negative (a credit)"),
    stopPrice: price('New stop or trigger price (STP, STP LMT, MIT, LIT)'),
    trailingAmount: price('New trailing amount (TRAIL)'),
    trailingPercent: z
      .number()
      .positive('must be positive')
      .max(100, 'must be at most 100')
      .optional()
      .describe('New trailing percent (TRAIL)'),
    tif: z.enum(TIME_IN_FORCE).optional().describe('New time in force'),
    goodTillDate: orderTypeShape.goodTillDate,
    outsideRth: z.boolean().optional().describe('Whether the order may work outside regular hours'),
    roundToTick: orderTypeShape.roundToTick,
    ...gatewayArgument,
  })
  .superRefine((value, context) => {
    const { orderId: _orderId, roundToTick: _roundToTick, ...changes } = value;
    if (Object.values(changes).every((change) => change === undefined)) {
      context.addIssue({
        code: 'custom',
        path: [],
        message:
          'name at least one change: quantity, limitPrice, stopPrice, trailingAmount, trailingPercent, tif or outsideRth',
      });
    }
  });

export const TransmitOrderInput = z.strictObject({
  orderId: orderIdField.describe('Id of the staged order (placed with transmit: false) to transmit'),
  ...gatewayArgument,
});

export const CancelOrderInput = z.strictObject({
  orderId: orderIdField.describe('Id of the order to cancel'),
  ...gatewayArgument,
});

export const NoOrderInput = z.strictObject({ ...gatewayArgument });

export const OrderStatusInput = z
  .strictObject({
    orderId: orderIdField.optional().describe('Order id; give this or idempotencyKey'),
    idempotencyKey: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('The idempotencyKey the order was placed with; give this or orderId'),
    ...gatewayArgument,
  })
  .superRefine((value, context) => {
    if ((value.orderId === undefined) === (value.idempotencyKey === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['orderId'],
        message: 'give exactly one of orderId or idempotencyKey',
      });
    }
  });

/** An optional account to filter a listing by (the journal, completed orders). */
export const accountFilter = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9]{1,20}$/, 'must be an IB account id such as DU1234567')
  .optional();

export const OrderJournalInput = z.strictObject({
  limit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .describe('Most entries to return, the newest ones (default 100, max 1000)'),
  since: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2025-06-11T15:00:00Z' })
    .optional()
    .describe('Only entries at or after this time (ISO 8601)'),
  orderId: orderIdField.optional().describe('Only entries about this order id'),
  account: accountFilter.describe("Only entries about this account's orders"),
  ...gatewayArgument,
});

// ---- Outputs ----

export const OrderContract = z.object({
  conId: z.number().int().optional().describe("IB's contract id"),
  symbol: z.string().optional(),
  secType: z.string().optional(),
  exchange: z.string().optional(),
  currency: z.string().optional(),
  localSymbol: z.string().optional(),
  expiry: z.string().optional().describe('Last trading day or contract month of a derivative'),
  strike: z.number().optional(),
  right: z.string().optional(),
});

export const OrderLegView = z.object({
  conId: z.number().int().describe("The leg's IB contract id"),
  symbol: z.string().optional(),
  secType: z.string().optional().describe('STK or OPT'),
  expiry: z.string().optional().describe('OPT: expiry, YYYYMMDD'),
  strike: z.number().optional(),
  right: z.string().optional(),
  ratio: z.number().describe('Units of the leg per combo unit'),
  action: z.string().describe("The leg's side when the combo is bought"),
});

export const OrderView = z.object({
  orderId: z.number().int().describe('IB order id'),
  parentId: z.number().int().optional().describe('Parent order id of a bracket child'),
  permId: z.number().int().optional().describe("IB's permanent id of the order"),
  clientId: z.number().int().optional().describe('API client that placed the order'),
  account: z.string().optional(),
  contract: OrderContract,
  legs: z.array(OrderLegView).optional().describe("A combo's legs (contract.secType BAG)"),
  staged: z
    .boolean()
    .optional()
    .describe('True while the order is staged: held at IB, not working, until transmit_order sends it'),
  side: z.string().describe('BUY or SELL'),
  quantity: z.number().describe('Total quantity'),
  orderType: z.string(),
  limitPrice: z.number().optional(),
  stopPrice: z
    .number()
    .optional()
    .describe('Stop price (STP, STP LMT); for TRAIL, the current trailing stop'),
  trailingAmount: z.number().optional(),
  trailingPercent: z.number().optional(),
  tif: z.string().optional(),
  goodTillDate: z.string().optional().describe('GTD: when the order expires (ISO 8601)'),
  ocaGroup: z.string().optional().describe('The one-cancels-all group of the order'),
  outsideRth: z.boolean(),
  idempotencyKey: z.string().optional(),
  status: z
    .string()
    .describe(
      "IB's order status: PendingSubmit, PreSubmitted, Submitted, Filled, Cancelled, ApiCancelled, Inactive (rejected), or Unknown",
    ),
  filled: z.number().describe('Quantity filled so far'),
  remaining: z.number().describe('Quantity still working'),
  avgFillPrice: z.number().optional(),
  lastFillPrice: z.number().optional(),
  commission: z.number().optional().describe('Commission charged so far, from the commission reports'),
  lastError: z
    .object({ code: z.number().int(), message: z.string(), at: z.string() })
    .optional()
    .describe("IB's last error or rejection for this order"),
  updatedAt: z.string().describe('When the service last heard about this order (ISO 8601)'),
});
export type OrderView = z.infer<typeof OrderView>;

export const PlaceOrderResult = z.object({
  orderId: z.number().int().describe('Id of the (entry) order'),
  orders: z.array(OrderView).describe('The order, or the bracket: entry, take-profit, stop-loss'),
  bracket: z
    .object({
      parentOrderId: z.number().int(),
      takeProfitOrderId: z.number().int(),
      stopLossOrderId: z.number().int(),
    })
    .optional()
    .describe('The ids of a bracket'),
  idempotencyKey: z.string().optional(),
  priceAdjustments: PriceAdjustments,
  replayed: z
    .boolean()
    .describe(
      'True when the idempotency key was seen before: nothing new was placed, this is the original order',
    ),
});

const money = z.number().optional();

export const PreviewOrderResult = z.object({
  contract: OrderContract.describe('The contract the order is for'),
  legs: z.array(OrderLegView).optional().describe("A combo's legs, each resolved to its contract"),
  margin: z
    .object({
      initMarginBefore: money,
      initMarginChange: money,
      initMarginAfter: money,
      maintMarginBefore: money,
      maintMarginChange: money,
      maintMarginAfter: money,
      equityWithLoanBefore: money,
      equityWithLoanChange: money,
      equityWithLoanAfter: money,
    })
    .describe("IB's what-if margin impact, in the account's base currency"),
  commission: z
    .object({
      commission: money,
      minCommission: money,
      maxCommission: money,
      currency: z.string().optional(),
    })
    .describe("IB's commission estimate"),
  warningText: z.string().optional().describe("IB's warning about the order, if any"),
  priceAdjustments: PriceAdjustments,
  safety: z
    .object({
      allowed: z
        .boolean()
        .describe("Whether place_order would accept this order under the service's safety settings"),
      refusal: z.string().optional().describe('Why place_order would refuse it'),
    })
    .describe("The service's own checks (read-only mode, live account, limits)"),
});

export const OrderStatusResult = z.object({
  order: OrderView,
  children: z.array(OrderView).describe("A bracket's take-profit and stop-loss orders (empty otherwise)"),
});

export const CancelAllOrdersResult = z.object({
  cancelledOrderIds: z.array(z.number().int()).describe('Orders of this service seen cancelled'),
  stillOpen: z.array(OrderView).describe('Orders IB still reports open after the global cancel'),
});

export const OpenOrdersResult = z.object({
  orders: z.array(OrderView).describe("Every open order in the gateway's accounts"),
});

export const OrderJournalResult = z.object({
  entries: z
    .array(z.looseObject({ at: z.string(), type: z.string() }))
    .describe('Journal entries, oldest first: requests, refusals, broker responses'),
  total: z.number().int().describe('How many entries matched before the limit'),
});
