import { z } from 'zod';

// The order types, times in force and price rules of the orders API (orders.schemas.ts re-exports them).

export const ORDER_TYPES = [
  'MKT',
  'LMT',
  'STP',
  'STP LMT',
  'TRAIL',
  'TRAIL LIMIT',
  'MOC',
  'LOC',
  'MIT',
  'LIT',
  'REL',
] as const;
export type OrderTypeName = (typeof ORDER_TYPES)[number];
export const TIME_IN_FORCE = ['DAY', 'GTC', 'IOC', 'FOK', 'OPG', 'GTD'] as const;
export const SIDES = ['BUY', 'SELL'] as const;
export type Side = (typeof SIDES)[number];

/** Types modify_order can change (REL and TRAIL LIMIT offsets are not reported back by IB's open orders). */
export const MODIFIABLE_TYPES: readonly OrderTypeName[] = ORDER_TYPES.filter(
  (type) => type !== 'REL' && type !== 'TRAIL LIMIT',
);

/** The price fields of an order and the rules between them and the order type. */
export interface OrderPricing {
  orderType: OrderTypeName;
  limitPrice?: number | undefined;
  stopPrice?: number | undefined;
  trailingAmount?: number | undefined;
  trailingPercent?: number | undefined;
  limitPriceOffset?: number | undefined;
  pegOffset?: number | undefined;
  percentOffset?: number | undefined;
}

type PriceField =
  | 'limitPrice'
  | 'stopPrice'
  | 'trailingAmount'
  | 'trailingPercent'
  | 'limitPriceOffset'
  | 'pegOffset'
  | 'percentOffset';
const PRICE_FIELDS: readonly PriceField[] = [
  'limitPrice',
  'stopPrice',
  'trailingAmount',
  'trailingPercent',
  'limitPriceOffset',
  'pegOffset',
  'percentOffset',
];
const TRAILING: PriceField[] = ['trailingAmount', 'trailingPercent'];

/** Which price fields each order type needs and which it must not carry. */
const PRICE_RULES: Record<OrderTypeName, { needs: PriceField[]; allows: PriceField[] }> = {
  MKT: { needs: [], allows: [] },
  LMT: { needs: ['limitPrice'], allows: ['limitPrice'] },
  STP: { needs: ['stopPrice'], allows: ['stopPrice'] },
  'STP LMT': { needs: ['limitPrice', 'stopPrice'], allows: ['limitPrice', 'stopPrice'] },
  TRAIL: { needs: [], allows: TRAILING },
  'TRAIL LIMIT': { needs: ['limitPriceOffset'], allows: [...TRAILING, 'limitPriceOffset'] },
  MOC: { needs: [], allows: [] },
  LOC: { needs: ['limitPrice'], allows: ['limitPrice'] },
  MIT: { needs: ['stopPrice'], allows: ['stopPrice'] },
  LIT: { needs: ['limitPrice', 'stopPrice'], allows: ['limitPrice', 'stopPrice'] },
  REL: { needs: [], allows: ['pegOffset', 'percentOffset', 'limitPrice'] },
};

export interface FieldIssue {
  path: string[];
  message: string;
}

/**
 * The price rules, as issues naming the field: shared by the input schemas (place, preview) and by
 * modify_order, which can only check them once it knows the order's type.
 */
export function orderPricingIssues(order: OrderPricing): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const rules = PRICE_RULES[order.orderType];
  for (const field of rules.needs) {
    if (order[field] === undefined) {
      issues.push({ path: [field], message: `is required for ${order.orderType} orders` });
    }
  }
  for (const field of PRICE_FIELDS) {
    if (order[field] !== undefined && !rules.allows.includes(field)) {
      issues.push({
        path: [field],
        message:
          order.orderType === 'MKT'
            ? 'must not be given for MKT orders (a market order takes no price)'
            : `must not be given for ${order.orderType} orders`,
      });
    }
  }
  if (
    (order.orderType === 'TRAIL' || order.orderType === 'TRAIL LIMIT') &&
    (order.trailingAmount === undefined) === (order.trailingPercent === undefined)
  ) {
    issues.push({
      path: ['trailingAmount'],
      message: `${order.orderType} orders need exactly one of trailingAmount or trailingPercent`,
    });
  }
  if (order.orderType === 'REL' && (order.pegOffset === undefined) === (order.percentOffset === undefined)) {
    issues.push({
      path: ['pegOffset'],
      message: 'REL orders need exactly one of pegOffset or percentOffset',
    });
  }
  return issues;
}

/** GTD needs a goodTillDate in the future; other times in force must not carry one. */
export function goodTillDateIssues(
  order: { tif?: string | undefined; goodTillDate?: string | undefined },
  nowMs: number,
): FieldIssue[] {
  if (order.tif !== 'GTD') {
    return order.goodTillDate === undefined
      ? []
      : [{ path: ['goodTillDate'], message: 'is only allowed with tif GTD' }];
  }
  if (order.goodTillDate === undefined) {
    return [{ path: ['goodTillDate'], message: 'is required for tif GTD' }];
  }
  if (Date.parse(order.goodTillDate) <= nowMs) {
    return [{ path: ['goodTillDate'], message: `must be in the future (it is ${order.goodTillDate})` }];
  }
  return [];
}

const positive = () => z.number().positive('must be positive').optional();

/** The fields of the new order types, GTD, OCA and tick rounding, added to place_order and preview_order. */
export const orderTypeShape = {
  limitPriceOffset: positive().describe(
    'TRAIL LIMIT only: the limit is placed this far beyond the trailing stop once it triggers',
  ),
  pegOffset: positive().describe(
    'REL only: the order is pegged this far from the bid (BUY) or ask (SELL), toward the market; limitPrice caps it',
  ),
  percentOffset: z
    .number()
    .positive('must be positive')
    .max(100, 'must be at most 100')
    .optional()
    .describe(
      "REL only, instead of pegOffset: the offset as a percent of the bid (BUY) or ask (SELL), IB's percentOffset (0 < x <= 100)",
    ),
  goodTillDate: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2025-06-11T15:00:00Z' })
    .optional()
    .describe('GTD only (required with it): when the order expires, ISO 8601, in the future'),
  ocaGroup: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._:-]+$/, 'must be 1-64 characters of letters, digits, . _ : -')
    .optional()
    .describe('One-cancels-all group: when one order of the group fills, IB cancels the others'),
  ocaType: z
    .union([z.literal(1), z.literal(2), z.literal(3)])
    .optional()
    .describe(
      "With ocaGroup: 1 cancel the others with block (default), 2 reduce the others' size with block, 3 reduce without block",
    ),
  roundToTick: z
    .boolean()
    .optional()
    .describe(
      "Round prices that are off the contract's tick size (IB's market rule) instead of refusing with 400: toward the passive side (a buy limit down, a sell limit up); the answer lists the prices used",
    ),
};

export const PriceAdjustments = z
  .array(
    z.object({
      field: z.string().describe('The price field, e.g. limitPrice or bracket.takeProfitPrice'),
      requested: z.number(),
      used: z.number().describe('The price sent to IB'),
      tickSize: z.number().describe("The contract's tick size at this price (IB's market rule)"),
    }),
  )
  .optional()
  .describe('Prices rounded to the tick size (roundToTick: true); absent when none was');
