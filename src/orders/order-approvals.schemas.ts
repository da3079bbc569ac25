import { z } from 'zod';
import { gatewayArgument } from '../common/gateway-argument';
import {
  CancelOrderInput,
  ModifyOrderInput,
  NoOrderInput,
  PlaceOrderInput,
  TransmitOrderInput,
} from './orders.schemas';
import { CONFIRMABLE_OPERATIONS } from './order-approvals.store';

export const APPROVAL_ID_PATTERN = /^apv-[A-Za-z0-9_-]{22}$/;

const approvalIdText = z.string().regex(APPROVAL_ID_PATTERN, 'must be an approval id such as apv-…');

/**
 * The approval an order operation comes back with under --confirm-orders (REST, and MCP clients of the
 * 2025 revisions): the call is repeated with identical parameters and this id once a human approved it.
 */
const approvalIdArgument = {
  approvalId: approvalIdText
    .optional()
    .describe(
      'With --confirm-orders: the approval ticket this call was answered with (202 APPROVAL_PENDING). Repeat the call with identical parameters and this id once a person approved it (POST /orders/approvals/{approvalId}/approve); other parameters void it. Ignored when confirmation is off.',
    ),
};

export const ConfirmedPlaceOrderInput = PlaceOrderInput.safeExtend(approvalIdArgument);
export const ConfirmedModifyOrderInput = ModifyOrderInput.safeExtend(approvalIdArgument);
export const ConfirmedTransmitOrderInput = TransmitOrderInput.safeExtend(approvalIdArgument);
export const ConfirmedCancelOrderInput = CancelOrderInput.safeExtend(approvalIdArgument);
export const CancelAllOrdersInput = NoOrderInput.safeExtend(approvalIdArgument);

export const ApprovalIdInput = z.strictObject({
  approvalId: approvalIdText.describe('The approval id of the ticket'),
});

export const ListApprovalsInput = z.strictObject({ ...gatewayArgument });

const approvalStates = ['pending', 'approved', 'executing', 'done', 'declined', 'expired', 'void'] as const;

/** One approval as people and the status page see it. */
export const ApprovalView = z.object({
  approvalId: z.string(),
  gateway: z.string(),
  operation: z.enum(CONFIRMABLE_OPERATIONS),
  channel: z
    .enum(['mcp', 'ticket'])
    .describe('mcp: asked in an MCP client (answered there); ticket: approved or declined over REST'),
  state: z
    .enum(approvalStates)
    .describe(
      'pending (waiting for the answer), approved (the caller may now repeat its call), executing, done (used), declined, expired, void (the call came back with other parameters)',
    ),
  summary: z.string().describe('The exact operation, as the person approving it reads it'),
  details: z
    .record(z.string(), z.unknown())
    .describe('The facts of the summary: contract, side, quantity, type, prices, account, what-if'),
  orderHash: z.string().describe('sha256 of the operation and its parameters: the only call it lets through'),
  askedAt: z.string(),
  expiresAt: z.string().describe('Pending: the answer is due by then. Approved: the call must come by then'),
});
export type ApprovalView = z.infer<typeof ApprovalView>;

export const ApprovalsList = z.object({
  approvals: z.array(ApprovalView).describe('Newest first: waiting ones and recently finished ones'),
});

/**
 * The answer of an order operation that waits for a person (HTTP 202; over MCP for 2025 clients, a result
 * with this as structured content): nothing reached the broker yet.
 */
export const ApprovalTicket = z.object({
  statusCode: z.literal(202),
  code: z.literal('APPROVAL_PENDING'),
  message: z.string(),
  approvalId: z.string(),
  expiresAt: z.string(),
  operation: z.enum(CONFIRMABLE_OPERATIONS),
  summary: z.string(),
  details: z.record(z.string(), z.unknown()),
  orderHash: z.string(),
  approve: z.string().describe('How a person approves it (full API token)'),
  decline: z.string(),
  then: z.string().describe('What the caller does once approved'),
});
export type ApprovalTicket = z.infer<typeof ApprovalTicket>;
