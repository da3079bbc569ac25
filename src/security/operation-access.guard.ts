import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { McpContext } from '@rekog/mcp-nest';
import type { IncomingMessage } from 'node:http';
import { DomainError } from '../common/domain-error';
import { OPERATION_NAME, OPERATIONS } from '../common/operation.decorator';
import { AccessTokens } from './access-tokens';

/**
 * Lets the read-only token call only the operations declared `safety.readOnly`, on both faces: REST routes
 * and MCP tool calls run through this same guard. Whether the caller has a valid token at all was already
 * decided in front of the router (installHttpSecurity), which tagged the request with its access level.
 */
@Injectable()
export class OperationAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: AccessTokens,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const name = this.reflector.get<string | undefined>(OPERATION_NAME, context.getHandler());
    if (name === undefined) return true; // not an operation (health, metrics, pages): the middleware decided
    const operation = OPERATIONS.find((candidate) => candidate.name === name);
    if (operation?.safety.readOnly === true) return true;
    if (this.tokens.levelOfRequest(requestOf(context)) === 'full') return true;
    throw new DomainError(
      'FORBIDDEN',
      `${name} changes state, and the read-only API token may only call read-only operations; use the full API token`,
      { operation: name },
    );
  }
}

function requestOf(context: ExecutionContext): IncomingMessage | undefined {
  if (context.getType() === 'http') return context.switchToHttp().getRequest<IncomingMessage>();
  const rpc: unknown = context.switchToRpc().getContext();
  const raw = (rpc as Partial<McpContext> | undefined)?.getRawRequest?.();
  return raw as IncomingMessage | undefined;
}
