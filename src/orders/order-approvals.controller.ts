import { Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { ApiExtension, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { DomainError } from '../common/domain-error';
import { Input } from '../common/operation.decorator';
import { toOpenApiSchema } from '../common/zod-json-schema';
import { GatewayRouter } from '../gateway/gateway-router';
import { AccessTokens } from '../security/access-tokens';
import { OrderApprovals } from './order-approvals';
import { ApprovalIdInput, ApprovalsList, ApprovalView, ListApprovalsInput } from './order-approvals.schemas';

const REST_ONLY =
  'REST only, with the full API token: deciding is for a person, so no MCP tool exists for it (an assistant must not approve its own order).';

/**
 * The human side of --confirm-orders: the approval tickets of every gateway, approved or declined by a
 * person with the full API token. Deliberately not operations (no MCP tool): OpenAPI marks them
 * x-rest-only, which the REST/MCP parity check honours.
 */
@ApiTags('orders')
@Controller('orders/approvals')
export class OrderApprovalsController {
  constructor(
    private readonly router: GatewayRouter,
    private readonly tokens: AccessTokens,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'list_order_approvals',
    summary: 'List order approvals (--confirm-orders)',
    description: `Approvals waiting for a person's answer, and those recently answered, used or expired, newest first: the exact operation, its what-if, its hash and deadline. ${REST_ONLY}`,
  })
  @ApiExtension('x-rest-only', true)
  @ApiQuery({ name: 'gateway', required: false, schema: { type: 'string' } })
  @ApiOkResponse({ description: 'The approvals', schema: toOpenApiSchema(ApprovalsList, 'output') })
  async list(
    @Input(ListApprovalsInput) input: ListApprovalsInput,
    @Req() request: IncomingMessage,
  ): Promise<ApprovalsList> {
    this.requireFullToken(request, 'Listing order approvals');
    const units = input.gateway === undefined ? this.router.units : [this.router.named(input)];
    const lists = await Promise.all(units.map(async (unit) => unit.get(OrderApprovals).list()));
    return { approvals: lists.flat().sort((a, b) => b.askedAt.localeCompare(a.askedAt)) };
  }

  @Post(':approvalId/approve')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'approve_order_approval',
    summary: 'Approve an order operation waiting for a person',
    description: `Says yes to one approval ticket: the caller may then repeat its call, with identical parameters and the approvalId, before the new expiresAt; it runs once. ${REST_ONLY}`,
  })
  @ApiExtension('x-rest-only', true)
  @ApiParam({ name: 'approvalId', required: true, schema: { type: 'string' } })
  @ApiOkResponse({
    description: 'The approval, now approved',
    schema: toOpenApiSchema(ApprovalView, 'output'),
  })
  async approve(
    @Input(ApprovalIdInput) input: ApprovalIdInput,
    @Req() request: IncomingMessage,
  ): Promise<ApprovalView> {
    return this.decide(input.approvalId, 'approved', request);
  }

  @Post(':approvalId/decline')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'decline_order_approval',
    summary: 'Decline an order operation waiting for a person',
    description: `Says no to one approval ticket: nothing is sent, and the call repeated with it is refused (403). ${REST_ONLY}`,
  })
  @ApiExtension('x-rest-only', true)
  @ApiParam({ name: 'approvalId', required: true, schema: { type: 'string' } })
  @ApiOkResponse({
    description: 'The approval, now declined',
    schema: toOpenApiSchema(ApprovalView, 'output'),
  })
  async decline(
    @Input(ApprovalIdInput) input: ApprovalIdInput,
    @Req() request: IncomingMessage,
  ): Promise<ApprovalView> {
    return this.decide(input.approvalId, 'declined', request);
  }

  private async decide(
    approvalId: string,
    decision: 'approved' | 'declined',
    request: IncomingMessage,
  ): Promise<ApprovalView> {
    this.requireFullToken(request, decision === 'approved' ? 'Approving an order' : 'Declining an order');
    for (const unit of this.router.units) {
      const answered = await unit.get(OrderApprovals).answer(approvalId, decision);
      if (answered) return answered;
    }
    throw new DomainError('NOT_FOUND', `No approval ${approvalId} was issued`);
  }

  /** The read-only token reads; it does not decide about money (nor see what waits for a decision). */
  private requireFullToken(request: IncomingMessage, what: string): void {
    if (this.tokens.levelOfRequest(request) === 'full') return;
    throw new DomainError('FORBIDDEN', `${what} needs the full API token, not the read-only one`);
  }
}

type ListApprovalsInput = z.infer<typeof ListApprovalsInput>;
type ApprovalIdInput = z.infer<typeof ApprovalIdInput>;
type ApprovalsList = z.infer<typeof ApprovalsList>;
