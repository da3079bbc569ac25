import { inputRequired } from '@modelcontextprotocol/server';
import { DomainError } from '../common/domain-error';
import { CONFIRM_QUESTION, type Asker } from './order-approvals.asker';
import type { ApprovalTicket, ApprovalView } from './order-approvals.schemas';
import type { StateCheck } from './order-approvals.signing';
import type { Approval, ConfirmableOperation } from './order-approvals.store';

export const NOTHING_SENT = 'Nothing was sent to the broker.';

/** An MCP tool answer handed to the client as it is (mcp-nest passes a result with a content array on). */
export interface McpToolAnswer {
  content: { type: 'text'; text: string }[];
  [field: string]: unknown;
}

export const STATE_REFUSALS: Record<Exclude<StateCheck, { ok: true }>['reason'], string> = {
  malformed: 'the confirmation state sent back is not one this service issued',
  forged: 'the confirmation state sent back was altered (its signature does not match)',
  expired: 'the confirmation expired before the answer came',
  restarted:
    'the supervisor restarted since it asked: a confirmation does not survive a restart (its signing key is gone)',
};

/** The input-required result asking the person (form elicitation), with the signed state to echo back. */
export function question(message: string, requestState: string | undefined): McpToolAnswer {
  return {
    ...inputRequired({
      inputRequests: {
        [CONFIRM_QUESTION]: inputRequired.elicit({
          message,
          requestedSchema: {
            type: 'object',
            properties: {
              confirm: {
                type: 'boolean',
                title: 'Yes, do exactly this',
                description: 'Check to let the service send this to Interactive Brokers',
                default: false,
              },
            },
            required: ['confirm'],
          },
        }),
      },
      ...(requestState === undefined ? {} : { requestState }),
    }),
    // mcp-nest passes a result on as it is only when it carries a content array.
    content: [],
  };
}

export function questionText(approval: Approval): string {
  return (
    `${approval.summary.text}\n\nNothing reaches the broker unless you accept with "confirm" checked. ` +
    `This question expires at ${new Date(approval.expiresAt).toISOString()}.`
  );
}

export function viewOf(approval: Approval): ApprovalView {
  return {
    approvalId: approval.id,
    gateway: approval.gateway,
    operation: approval.operation,
    channel: approval.channel,
    state: approval.state,
    summary: approval.summary.text,
    details: approval.summary.details,
    orderHash: approval.hash,
    askedAt: new Date(approval.askedAt).toISOString(),
    expiresAt: new Date(approval.expiresAt).toISOString(),
  };
}

export function ticketOf(approval: Approval): ApprovalTicket {
  const expiresAt = new Date(approval.expiresAt).toISOString();
  return {
    statusCode: 202,
    code: 'APPROVAL_PENDING',
    message:
      `Waiting for a person's approval: nothing was sent to the broker. ${approval.summary.text} ` +
      `Approve with the full API token: POST /orders/approvals/${approval.id}/approve (or /decline) before ` +
      `${expiresAt}, then repeat this call with identical parameters and approvalId ${approval.id}.`,
    approvalId: approval.id,
    expiresAt,
    operation: approval.operation,
    summary: approval.summary.text,
    details: approval.summary.details,
    orderHash: approval.hash,
    approve: `POST /orders/approvals/${approval.id}/approve`,
    decline: `POST /orders/approvals/${approval.id}/decline`,
    then: `Repeat this ${approval.operation} call with identical parameters and approvalId ${approval.id}`,
  };
}

/** A ticket waiting: 202 over REST (the error mapping's APPROVAL_PENDING), a plain result over MCP. */
export function pendingAnswer(asker: Asker, approval: Approval): McpToolAnswer {
  const ticket = ticketOf(approval);
  if (asker.face === 'rest') {
    const { statusCode: _status, code: _code, message, ...details } = ticket;
    throw new DomainError('APPROVAL_PENDING', message, details);
  }
  return { content: [{ type: 'text', text: ticket.message }], structuredContent: ticket };
}

/** Why an approval that is not (or no longer) approved lets nothing through. */
export function stateRefusal(approval: Approval): DomainError {
  const details = { approvalId: approval.id, reason: approval.state };
  const again = 'Call again without approvalId to ask again.';
  switch (approval.state) {
    case 'declined':
      return new DomainError(
        'FORBIDDEN',
        `${approval.operation} was declined by the person asked. ${NOTHING_SENT}`,
        details,
      );
    case 'expired':
      return new DomainError(
        'CONFLICT',
        `${approval.operation} refused: approval ${approval.id} expired. ${NOTHING_SENT} ${again}`,
        details,
      );
    default:
      return new DomainError(
        'CONFLICT',
        `${approval.operation} refused: approval ${approval.id} is ${approval.state} (a call came with other parameters). ${NOTHING_SENT} ${again}`,
        details,
      );
  }
}

export function changedRefusal(approval: Approval, operation: ConfirmableOperation): DomainError {
  return new DomainError(
    'CONFLICT',
    `${operation} refused: its parameters differ from the ones the person was asked about, so approval ${approval.id} is void. ${NOTHING_SENT} Call again without approvalId to ask again.`,
    { approvalId: approval.id, reason: 'parameters-changed' },
  );
}

export function restartedRefusal(approvalId: string): DomainError {
  return new DomainError(
    'CONFLICT',
    `Approval ${approvalId} was issued before the supervisor restarted; approvals do not survive a restart. ${NOTHING_SENT} Call again without approvalId to ask again.`,
    { approvalId, reason: 'restarted' },
  );
}

/** The order ids an operation's result names, for the journal. */
export function orderIdsOf(result: unknown): number[] {
  const value = result as { orders?: { orderId: number }[]; orderId?: number; cancelledOrderIds?: number[] };
  if (Array.isArray(value.orders)) return value.orders.map((order) => order.orderId);
  if (typeof value.orderId === 'number') return [value.orderId];
  return Array.isArray(value.cancelledOrderIds) ? value.cancelledOrderIds : [];
}
