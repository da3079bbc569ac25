import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { inputResponse, type InputResponseView, type ServerContext } from '@modelcontextprotocol/server';
import type { McpContext } from '@rekog/mcp-nest';
import { ApiAcceptedResponse } from '@nestjs/swagger';
import { toOpenApiSchema } from '../common/zod-json-schema';
import { ApprovalTicket } from './order-approvals.schemas';

/** The key of the confirmation question in an input-required result and in the retry's answers. */
export const CONFIRM_QUESTION = 'confirm';

/**
 * Who is calling an order operation, as far as asking a person goes:
 * - rest: no way to ask inside the call; an approval ticket
 * - mcp-legacy: an MCP client of the 2025 revisions (no input-required flow on this endpoint); a ticket
 * - mcp-modern: 2026-07-28: asked inside the tool result, answered in the client's retry
 */
export interface Asker {
  face: 'rest' | 'mcp-legacy' | 'mcp-modern';
  /** The request declared the elicitation capability (2026-07-28 declares it per request). */
  canElicit: boolean;
  /** The retry's answer to the confirmation question (untrusted: the client's word). */
  answer: InputResponseView;
  /** The request state the retry echoes (untrusted until its signature is checked). */
  requestState: string | undefined;
}

const REST: Asker = { face: 'rest', canElicit: false, answer: { kind: 'missing' }, requestState: undefined };

export function askerOf(context: ExecutionContext): Asker {
  if (context.getType() === 'http') return REST;
  const mcp = context.switchToRpc().getContext<McpContext | undefined>();
  if (mcp?.getSession().era !== 'modern') return { ...REST, face: 'mcp-legacy' };
  // The SDK's per-request context (mcp-nest keeps it private): the answers and state of a retry.
  const request = (mcp.getArgByIndex(4) as ServerContext | undefined)?.mcpReq;
  const state = request?.requestState();
  return {
    face: 'mcp-modern',
    canElicit: mcp.getClientCapabilities()?.elicitation !== undefined,
    answer: inputResponse(request?.inputResponses, CONFIRM_QUESTION),
    requestState: typeof state === 'string' ? state : undefined,
  };
}

/** The order operation's caller, for the confirmation (--confirm-orders). */
export const ApprovalAsker = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  askerOf(context),
);

/** The OpenAPI face of an operation that may wait for a person: its 202 answer, the ticket. */
export function AwaitsApproval(): MethodDecorator {
  return ApiAcceptedResponse({
    description:
      'With --confirm-orders: nothing was sent yet; a person approves the ticket (POST /orders/approvals/{approvalId}/approve), then the call is repeated with approvalId',
    schema: toOpenApiSchema(ApprovalTicket, 'output'),
  });
}
