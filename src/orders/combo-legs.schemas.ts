import { z } from 'zod';
import type { FieldIssue } from './order-types.schemas';

// The legs of a combo (IB's BAG contract) in the API's input, and their rules.

export const MIN_LEGS = 2;
export const MAX_LEGS = 4;
/** Order types a combo may be placed with. */
export const COMBO_ORDER_TYPES: readonly string[] = ['MKT', 'LMT'];

export const ComboLegInput = z.strictObject({
  symbol: z.string().trim().min(1).max(32).optional().describe('Ticker of the leg (or give conId)'),
  conId: z.number().int().positive().optional().describe("IB's contract id of the leg (or give symbol)"),
  secType: z.enum(['STK', 'OPT']).default('STK').describe('STK (default) or OPT'),
  expiry: z
    .string()
    .regex(/^\d{8}$/, 'must be a date as YYYYMMDD')
    .optional()
    .describe('OPT: expiry date, YYYYMMDD'),
  strike: z.number().positive('must be positive').optional().describe('OPT: strike price'),
  right: z.enum(['C', 'P']).optional().describe('OPT: C (call) or P (put)'),
  ratio: z
    .number()
    .int('must be a whole number')
    .positive('must be positive')
    .describe(
      'Units of the leg per combo unit: contracts for options, shares for stock (100 for a buy-write)',
    ),
  action: z
    .enum(['BUY', 'SELL'])
    .describe("The leg's side when the combo is bought (reversed when it is sold)"),
});
export type ComboLegInput = z.infer<typeof ComboLegInput>;

export const comboLegsField = z
  .array(ComboLegInput)
  .min(MIN_LEGS, `a combo needs ${MIN_LEGS} to ${MAX_LEGS} legs`)
  .max(MAX_LEGS, `a combo needs ${MIN_LEGS} to ${MAX_LEGS} legs`)
  .optional()
  .describe(
    "Makes this a combo (IB's BAG contract) of 2 to 4 legs: vertical and calendar spreads, stock and option (buy-write). symbol/conId/secType/expiry/strike/right then stay unset: the order's symbol is the legs' underlying. limitPrice is the net price per combo unit (negative for a credit); only MKT and LMT",
  );

/** The contract fields a combo order must not carry: its contract is made of its legs. */
const SINGLE_CONTRACT_FIELDS = ['symbol', 'conId', 'secType', 'expiry', 'strike', 'right'] as const;

/** The rules between the legs and the rest of an order, as issues naming the field. */
export function comboIssues(order: {
  legs?: ComboLegInput[] | undefined;
  orderType: string;
  symbol?: string | undefined;
  conId?: number | undefined;
  secType?: string | undefined;
  expiry?: string | undefined;
  strike?: number | undefined;
  right?: string | undefined;
}): FieldIssue[] {
  const legs = order.legs;
  if (!legs) return [];
  const issues: FieldIssue[] = [];
  for (const field of SINGLE_CONTRACT_FIELDS) {
    if (order[field] !== undefined) {
      issues.push({ path: [field], message: 'must not be given with legs (a combo is made of its legs)' });
    }
  }
  if (!COMBO_ORDER_TYPES.includes(order.orderType)) {
    issues.push({
      path: ['orderType'],
      message: `${order.orderType} is not available for combos (use ${COMBO_ORDER_TYPES.join(' or ')})`,
    });
  }
  legs.forEach((leg, index) => issues.push(...legIssues(leg, index)));
  const keys = legs.map((leg) =>
    JSON.stringify([leg.conId, leg.symbol, leg.secType, leg.expiry, leg.strike, leg.right]),
  );
  keys.forEach((key, index) => {
    if (keys.indexOf(key) !== index) {
      issues.push({ path: ['legs', String(index)], message: 'names the same contract as an earlier leg' });
    }
  });
  return issues;
}

/** One leg's own rules: symbol or conId; an option leg by conId or expiry, strike and right; a stock leg none of those. */
export function legIssues(leg: ComboLegInput, index: number): FieldIssue[] {
  const path = (field?: string) => ['legs', String(index), ...(field === undefined ? [] : [field])];
  const issues: FieldIssue[] = [];
  if (leg.symbol === undefined && leg.conId === undefined) {
    issues.push({ path: path('symbol'), message: 'either symbol or conId is required' });
  }
  if (leg.secType === 'OPT' && leg.conId === undefined) {
    for (const field of ['expiry', 'strike', 'right'] as const) {
      if (leg[field] === undefined) issues.push({ path: path(field), message: 'is required for an OPT leg' });
    }
  }
  if (leg.secType === 'STK') {
    for (const field of ['expiry', 'strike', 'right'] as const) {
      if (leg[field] !== undefined) issues.push({ path: path(field), message: 'is only for OPT legs' });
    }
  }
  return issues;
}
