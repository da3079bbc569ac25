import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccessTokens } from './access-tokens';
import { OperationAccessGuard } from './operation-access.guard';
import { RequestOriginPolicy } from './request-origin-policy';

/**
 * Who may call what: the API tokens, the Host/Origin policy (both also used in front of the router by
 * installHttpSecurity and by the VNC websocket), and the guard that keeps the read-only token to read-only
 * operations.
 */
@Module({
  providers: [AccessTokens, RequestOriginPolicy, { provide: APP_GUARD, useClass: OperationAccessGuard }],
  exports: [AccessTokens, RequestOriginPolicy],
})
export class SecurityModule {}
