import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { IbSession } from '../connection/ib-session.repository';

/** Where the gateway's time comes from: IB's reqCurrentTime (the IB session). */
export interface GatewayTimeSource {
  /** The gateway's clock, in epoch seconds; throws when not connected. */
  currentTime(): Promise<number>;
}

/**
 * The gateway's notion of "now": trading hours are judged on the gateway's clock, which may differ from
 * this machine's (and the simulator's can be set anywhere). Kept as an offset from the service's Clock,
 * measured with reqCurrentTime.
 */
@Injectable()
export class GatewayClock {
  private offsetMs = 0;
  private syncedAt: number | undefined;
  private syncing: Promise<void> | undefined;

  constructor(
    @Inject(IbSession) private readonly source: GatewayTimeSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The gateway's time in epoch ms (this machine's until the first sync). */
  now(): number {
    return this.clock.now() + this.offsetMs;
  }

  /** Gateway time minus local time, in ms. */
  get offset(): number {
    return this.offsetMs;
  }

  /** Milliseconds since the last successful sync; Infinity before the first. */
  get ageMs(): number {
    return this.syncedAt === undefined ? Number.POSITIVE_INFINITY : this.clock.now() - this.syncedAt;
  }

  toGatewayTime(localMs: number): number {
    return localMs + this.offsetMs;
  }

  toLocalTime(gatewayMs: number): number {
    return gatewayMs - this.offsetMs;
  }

  /** Asks the gateway for its time; concurrent callers share one round trip. Throws when not connected. */
  async sync(): Promise<void> {
    this.syncing ??= this.measure().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async measure(): Promise<void> {
    const sentAt = this.clock.now();
    const epochSeconds = await this.source.currentTime();
    const receivedAt = this.clock.now();
    // The gateway answers in whole seconds: assume the middle of that second, at the round trip's middle.
    this.offsetMs = Math.round(epochSeconds * 1000 + 500 - (sentAt + receivedAt) / 2);
    this.syncedAt = receivedAt;
  }
}
