import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ConnectionState } from '@stoqey/ib';
import type { z } from 'zod';
import { DomainError } from '../common/domain-error';
import { IB_API_TARGET, IbApiRepository, type IbApiTarget } from './ib-api.repository';
import type { ConnectionStatus, ServerTime } from './connection.schemas';

const STATE_NAMES = {
  [ConnectionState.Connected]: 'connected',
  [ConnectionState.Connecting]: 'connecting',
  [ConnectionState.Disconnected]: 'disconnected',
} as const;

/** The IB API session as the API reports it: state, since when, reconnects, last error. */
@Injectable()
export class ConnectionService implements OnApplicationBootstrap {
  private since = new Date();
  private reconnects = 0;
  private everConnected = false;
  private lastError: z.infer<typeof ConnectionStatus>['lastError'] = null;

  constructor(
    private readonly ibApi: IbApiRepository,
    @Inject(IB_API_TARGET) private readonly target: IbApiTarget,
  ) {
    ibApi.states.subscribe((state) => {
      this.since = new Date();
      if (state !== ConnectionState.Connected) return;
      if (this.everConnected) this.reconnects++;
      this.everConnected = true;
    });
    ibApi.errors.subscribe((error) => {
      this.lastError = { code: error.code, message: error.error.message, at: new Date().toISOString() };
    });
  }

  onApplicationBootstrap(): void {
    this.ibApi.connect(this.target);
  }

  get isConnected(): boolean {
    return this.ibApi.state === ConnectionState.Connected;
  }

  status(): z.infer<typeof ConnectionStatus> {
    return {
      state: STATE_NAMES[this.ibApi.state],
      host: this.target.host,
      port: this.target.port,
      clientId: this.target.clientId,
      since: this.since.toISOString(),
      reconnects: this.reconnects,
      lastError: this.lastError,
    };
  }

  /** Drops the session and opens a new one; answers once it is connected again. */
  async reconnect(timeoutSeconds: number): Promise<z.infer<typeof ConnectionStatus>> {
    this.ibApi.disconnect();
    this.ibApi.connect(this.target);
    try {
      await this.ibApi.waitUntilConnected(timeoutSeconds * 1000);
    } catch {
      throw new DomainError(
        'NOT_CONNECTED',
        `The IB API session did not reconnect to ${this.target.host}:${this.target.port} within ${timeoutSeconds} s; it keeps retrying`,
      );
    }
    return this.status();
  }

  async serverTime(): Promise<z.infer<typeof ServerTime>> {
    const epochSeconds = await this.ibApi.currentTime();
    return { epochSeconds, iso: new Date(epochSeconds * 1000).toISOString() };
  }
}
