import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { z } from 'zod';
import { DomainError } from '../common/domain-error';
import { GatewayService } from '../gateway/gateway.service';
import { IbSession } from './ib-session.repository';
import type { ConnectionStatus, ServerTime } from './connection.schemas';

/**
 * The IB API session follows the gateway: it connects once the gateway is logged in (in simulator mode at
 * once), holds off while the gateway is down or logging in, and reports what it is doing.
 */
@Injectable()
export class ConnectionService implements OnApplicationBootstrap, OnModuleDestroy {
  private since = new Date();
  private reconnects = 0;
  private everConnected = false;
  private lastError: z.infer<typeof ConnectionStatus>['lastError'] = null;
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly ibApi: IbSession,
    private readonly gateway: GatewayService,
  ) {
    this.subscriptions.push(
      ibApi.states.subscribe((state) => {
        this.since = new Date();
        if (state !== 'connected') return;
        if (this.everConnected) this.reconnects++;
        this.everConnected = true;
      }),
      ibApi.errors.subscribe((error) => {
        this.lastError = { code: error.code, message: error.message, at: error.at.toISOString() };
      }),
    );
  }

  onApplicationBootstrap(): void {
    this.subscriptions.push(this.gateway.states.subscribe(() => this.followGateway()));
    this.followGateway();
  }

  onModuleDestroy(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }

  get isConnected(): boolean {
    return this.ibApi.state === 'connected';
  }

  status(): z.infer<typeof ConnectionStatus> {
    const session = this.ibApi.status();
    const configuredClientId = session.target?.clientId ?? this.gateway.apiTarget()?.clientId ?? null;
    return {
      state: session.state,
      host: session.target?.host ?? null,
      port: session.target?.port ?? null,
      clientId: session.clientId ?? configuredClientId,
      configuredClientId,
      clientIdCollisions: session.clientIdCollisions,
      since: this.since.toISOString(),
      reconnects: this.reconnects,
      failedAttempts: session.failedAttempts,
      backoffSeconds: session.backoffMs === undefined ? null : session.backoffMs / 1000,
      nextAttemptAt: session.nextAttemptAt?.toISOString() ?? null,
      waitingFor: session.holdReason ?? null,
      lastError: this.lastError,
    };
  }

  /** Drops the session and opens a new one; answers once it is connected again. */
  async reconnect(timeoutSeconds: number): Promise<z.infer<typeof ConnectionStatus>> {
    const target = this.gateway.apiTarget();
    if (!target) {
      throw new DomainError(
        'NOT_CONNECTED',
        `The gateway is not logged in (state: ${this.gateway.state}); the session connects once it is`,
      );
    }
    this.ibApi.connect(target);
    this.ibApi.reconnect();
    try {
      await this.ibApi.waitUntilConnected(timeoutSeconds * 1000);
    } catch {
      throw new DomainError(
        'NOT_CONNECTED',
        `The IB API session did not reconnect to ${target.host}:${target.port} within ${timeoutSeconds} s; it keeps retrying`,
      );
    }
    return this.status();
  }

  async serverTime(): Promise<z.infer<typeof ServerTime>> {
    const epochSeconds = await this.ibApi.currentTime();
    return { epochSeconds, iso: new Date(epochSeconds * 1000).toISOString() };
  }

  private followGateway(): void {
    const target = this.gateway.apiTarget();
    if (target) this.ibApi.connect(target);
    else this.ibApi.disconnect(`waiting for the gateway to log in (gateway state: ${this.gateway.state})`);
  }
}
