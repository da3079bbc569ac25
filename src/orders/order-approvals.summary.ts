import type { z } from 'zod';
import type { ApprovalSummary } from './order-approvals.store';
import type { OrderView, PlaceOrderInput, PreviewOrderResult } from './orders.schemas';

type PlaceParameters = z.infer<typeof PlaceOrderInput>;
type Preview = z.infer<typeof PreviewOrderResult>;
type Contract = Preview['contract'];

const PRICE_FIELDS = [
  ['limitPrice', 'limit'],
  ['stopPrice', 'stop'],
  ['trailingAmount', 'trailing amount'],
  ['trailingPercent', 'trailing %'],
  ['limitPriceOffset', 'limit offset'],
  ['pegOffset', 'peg offset'],
] as const;

function amount(value: number | undefined, currency?: string): string {
  if (value === undefined) return 'n/a';
  const text = value.toLocaleString('en-US', { maximumFractionDigits: 4 });
  return currency === undefined ? text : `${text} ${currency}`;
}

function contractText(contract: Partial<Contract>): string {
  const name = contract.localSymbol ?? contract.symbol ?? `conId ${contract.conId ?? '?'}`;
  const facts = [contract.secType, contract.exchange, contract.currency, contract.expiry, contract.right]
    .concat(contract.strike === undefined ? [] : [String(contract.strike)])
    .filter((fact): fact is string => fact !== undefined && fact !== '');
  const id = contract.conId === undefined ? '' : `, conId ${contract.conId}`;
  return `${name} (${facts.join(' ')}${id})`;
}

function pricesText(fields: Partial<Record<(typeof PRICE_FIELDS)[number][0], number | undefined>>): string {
  return PRICE_FIELDS.filter(([field]) => fields[field] !== undefined)
    .map(([field, label]) => `${label} ${amount(fields[field])}`)
    .join(', ');
}

function whatIfText(preview: Preview): string {
  const { margin, commission } = preview;
  const parts = [
    `initial margin change ${amount(margin.initMarginChange)} (after ${amount(margin.initMarginAfter)})`,
    `maintenance margin change ${amount(margin.maintMarginChange)} (after ${amount(margin.maintMarginAfter)})`,
    `equity with loan after ${amount(margin.equityWithLoanAfter)}`,
    `commission ${amount(commission.commission, commission.currency)}`,
  ];
  const warning = preview.warningText === undefined ? '' : ` IB warns: ${preview.warningText}.`;
  const safety = preview.safety.allowed
    ? ''
    : ` The service would refuse it: ${preview.safety.refusal ?? ''}.`;
  return `IB what-if: ${parts.join('; ')}.${warning}${safety}`;
}

/** A new order with IB's what-if for it: everything the person needs to say yes or no. */
export function placeSummary(
  parameters: PlaceParameters,
  preview: Preview,
  defaultAccount: string | undefined,
): ApprovalSummary {
  const account = parameters.account ?? defaultAccount;
  const accountText =
    parameters.account !== undefined ? parameters.account : `${defaultAccount ?? '?'} (the default account)`;
  const prices = pricesText(parameters);
  const bracket = parameters.bracket
    ? ` Bracket: take profit at ${amount(parameters.bracket.takeProfitPrice)}, stop loss at ${amount(parameters.bracket.stopLossPrice)}.`
    : '';
  const legs = preview.legs
    ? ` Legs: ${preview.legs.map((leg) => `${leg.action} ${leg.ratio} ${contractText(leg)}`).join('; ')}.`
    : '';
  const staged = parameters.transmit ? '' : ' Staged: held at IB until transmit_order.';
  const text =
    `Place order: ${parameters.side} ${amount(parameters.quantity)} ${contractText(preview.contract)} ` +
    `${parameters.orderType}${prices === '' ? '' : ` (${prices})`}, ${parameters.tif}` +
    `${parameters.outsideRth ? ', outside regular hours' : ''}, account ${accountText}.` +
    `${bracket}${legs}${staged} ${whatIfText(preview)}`;
  const { approvalId: _approvalId, ...order } = parameters as PlaceParameters & { approvalId?: string };
  return {
    text,
    account,
    symbol: preview.contract.symbol,
    details: {
      order,
      contract: preview.contract,
      ...(preview.legs ? { legs: preview.legs } : {}),
      whatIf: { margin: preview.margin, commission: preview.commission, warningText: preview.warningText },
      safety: preview.safety,
    },
  };
}

const VERBS = {
  modify_order: 'Modify order',
  transmit_order: 'Transmit staged order',
  cancel_order: 'Cancel order',
} as const;

/**
 * The order as it would stand after a modification (or as it stands, to transmit), as preview_order takes
 * it: IB's what-if of it as a new order. Undefined for a combo (its legs are not in the view).
 */
export function previewInputOf(
  order: OrderView,
  changes: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (order.legs !== undefined || order.contract.conId === undefined) return undefined;
  const { side, quantity, orderType, limitPrice, stopPrice, trailingAmount, trailingPercent, tif } = order;
  const changed = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
  return {
    conId: order.contract.conId,
    ...{ side, quantity, orderType, limitPrice, stopPrice, trailingAmount, trailingPercent, tif },
    ...{ goodTillDate: order.goodTillDate, outsideRth: order.outsideRth, account: order.account },
    ...changed,
  };
}

/** An existing order of this service, for a modification what changes, and IB's what-if when it has one. */
export function existingOrderSummary(
  operation: keyof typeof VERBS,
  order: OrderView,
  changes: Record<string, unknown> = {},
  preview?: Preview,
): ApprovalSummary {
  const prices = pricesText(order);
  const changed = Object.entries(changes).filter(([, value]) => value !== undefined);
  const changeText =
    changed.length === 0
      ? ''
      : ` Changes: ${changed.map(([name, value]) => `${name} → ${String(value)}`).join(', ')}.`;
  const text =
    `${VERBS[operation]} ${order.orderId}: ${order.side} ${amount(order.quantity)} ${contractText(order.contract)} ` +
    `${order.orderType}${prices === '' ? '' : ` (${prices})`}, ${order.tif ?? ''}, account ${order.account ?? '?'}, ` +
    `status ${order.status}, filled ${amount(order.filled)}.${changeText}` +
    (preview === undefined ? '' : ` As it would then stand, ${whatIfText(preview)}`);
  return {
    text,
    account: order.account,
    symbol: order.contract.symbol,
    details: {
      order,
      ...(changed.length === 0 ? {} : { changes: Object.fromEntries(changed) }),
      ...(preview === undefined
        ? {}
        : {
            whatIf: {
              margin: preview.margin,
              commission: preview.commission,
              warningText: preview.warningText,
            },
          }),
    },
  };
}

/** IB's global cancel: every open order of the gateway's accounts, of every client and TWS. */
export function cancelAllSummary(open: OrderView[]): ApprovalSummary {
  const listed = open
    .slice(0, 20)
    .map(
      (order) => `${order.orderId}: ${order.side} ${amount(order.quantity)} ${contractText(order.contract)}`,
    );
  const more = open.length > listed.length ? `; and ${open.length - listed.length} more` : '';
  return {
    text: `Cancel ALL open orders (IB's global cancel, every client and TWS): ${open.length} open now${listed.length > 0 ? ` (${listed.join('; ')}${more})` : ''}.`,
    details: { openOrderIds: open.map((order) => order.orderId) },
  };
}
