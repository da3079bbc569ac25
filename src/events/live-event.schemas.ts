import { z } from 'zod';
import { AccountPnlEntry, AccountSummaryEntry, PositionEntry } from '../account/account.schemas';
import { HealthEventSchema } from '../health/health.schemas';
import { Quote } from '../market-data/market-data.schemas';
import { NewsBulletins } from '../news/news.schemas';
import { ApprovalView } from '../orders/order-approvals.schemas';
import { OrderView } from '../orders/orders.schemas';
import { EVENT_TOPICS, type EventTopic } from './live-event';

/** What every pushed event carries around its payload (LiveEvent). */
const envelope = {
  id: z
    .string()
    .describe('"<run>.<sequence>": increasing within one run of the service; send it back as Last-Event-ID'),
  type: z
    .string()
    .describe("What happened within the topic: 'order', 'execution', 'quote', 'transition', ..."),
  at: z.string().describe('When the service published the event (ISO 8601)'),
  gateway: z.string().describe('The gateway the event concerns'),
  symbol: z.string().optional().describe("The contract's symbol, for events about one contract"),
  account: z.string().optional().describe('The account, for events about one account'),
};

export const ExecutionEventData = z.object({
  orderId: z.number().int(),
  execId: z.string(),
  permId: z.number().int().optional(),
  clientId: z.number().int().optional(),
  orderRef: z
    .string()
    .optional()
    .describe("The order's reference (the idempotency key of orders placed here)"),
  account: z.string().optional(),
  symbol: z.string().optional(),
  conId: z.number().int().optional(),
  side: z.string().optional().describe('BOT or SLD, as IB reports executions'),
  shares: z.number().optional(),
  price: z.number().optional(),
  cumQty: z.number().optional().describe("The order's filled quantity after this execution"),
  avgPrice: z.number().optional().describe("The order's average fill price after this execution"),
  exchange: z.string().optional(),
  time: z.string().optional().describe('Execution time, as IB reported it'),
  commission: z.number().nullable().describe('Commission of this execution; null until IB reported it'),
  commissionCurrency: z.string().nullable(),
  realizedPnl: z.number().nullable().describe('PnL realized by this execution (null for an opening one)'),
});

const Bulletin = NewsBulletins.shape.bulletins.element;

/** type 'order-absent': an order found never to have reached the broker, forgotten. */
const OrderAbsence = z.object({
  orderId: z.number().int(),
  reason: z.string().describe('How the service found out (the reconciliation that asked IB)'),
});

/** type 'values': every value IB keeps for one account (get_account_values' entry, without filters). */
const AccountValuesData = z.object({
  account: z.string(),
  updatedAt: z.string().nullable().describe("IB's time of the values, as it sent it"),
  values: z.array(z.object({ tag: z.string(), currency: z.string(), value: z.string() })),
});

/** Each topic's payload (`data`). */
export const TOPIC_PAYLOADS: Readonly<Record<EventTopic, z.ZodType>> = {
  orders: z
    .union([OrderView, OrderAbsence])
    .describe(
      "type 'order': an order's new state (get_order_status's shape), with its commission so far; type 'order-absent': an order the broker provably never got",
    ),
  executions: ExecutionEventData.describe('A fill of an order placed by this service, with its commission'),
  positions: PositionEntry.describe(
    "type 'position': a position as get_positions lists it; its valuation is null here (IB values positions in a later push of one account: get_positions has it)",
  ),
  account: z
    .union([AccountSummaryEntry, AccountValuesData])
    .describe(
      "type 'summary': one account's balances and margin (get_account_summary's entry); type 'values': every account value IB keeps for the account",
    ),
  pnl: AccountPnlEntry.describe("type 'pnl': one account's daily, unrealized and realized PnL"),
  quotes: Quote.describe("A streamed contract's quote (get_quote's shape, source 'stream')"),
  news: Bulletin.describe('An IB news bulletin'),
  gateway: HealthEventSchema.describe('A transition of the gateway or its API session'),
  health: HealthEventSchema.describe(
    'A transition of the health verdict, the recovery ladder or the breaker',
  ),
  approvals: ApprovalView.describe(
    'A step of an order approval (type: asked, approved, declined, expired, placed, ...), as GET /orders/approvals lists it',
  ),
};

/** One event of `topic`, as SSE `data:` and WebSocket messages carry it. */
export function liveEventSchema(topic: EventTopic): z.ZodObject {
  return z
    .object({ ...envelope, topic: z.literal(topic), data: TOPIC_PAYLOADS[topic] })
    .describe(`A "${topic}" event`);
}

export const LiveEventSchema = z.union(EVENT_TOPICS.map((topic) => liveEventSchema(topic)));

/** Sent first when a resume could not give back everything since the client's last event. */
export const GapNotice = z
  .object({
    type: z.literal('gap'),
    lastEventId: z.string().describe('The id the client resumed from'),
    topics: z.array(z.enum(EVENT_TOPICS)).describe('Topics with events missing'),
    reason: z
      .enum(['window', 'restarted', 'unknown-id'])
      .describe(
        'window: older than the kept events; restarted: an id of an earlier run; unknown-id: not an id of this run',
      ),
  })
  .describe('SSE "gap" event, WebSocket {type: "gap"} message');

/** Sent once when the client falls behind; it is disconnected if it falls further behind. */
export const LaggingNotice = z
  .object({
    type: z.literal('lagging'),
    unsentBytes: z.number().int().describe('Events waiting for the client, in bytes'),
    limitBytes: z.number().int().describe('Beyond this the client is disconnected'),
    message: z.string(),
  })
  .describe('SSE "lagging" event, WebSocket {type: "lagging"} message');
