import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import { GatewayService } from '../gateway/gateway.service';
import type { VncEndpoint, VncTarget } from './vnc-target';

/**
 * The gateway's screen as GatewayService reports it: the VNC port the container publishes on 127.0.0.1
 * (only when a VNC password is configured), or the in-process simulator's VNC server. Both use
 * gateway.vncPassword.
 */
@Injectable()
export class GatewayVncTarget implements VncTarget {
  constructor(
    private readonly gateway: GatewayService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  endpoint(): VncEndpoint | undefined {
    const port = this.gateway.status().ports.vnc;
    if (port === null) return undefined;
    // Published where the gateway's API is (the Docker daemon's host).
    const host = this.gateway.apiEndpoint()?.host ?? '127.0.0.1';
    return { host, port, password: this.config.gateway.vncPassword };
  }

  unavailableReason(): string {
    const { mode, address } = this.gateway.status();
    if (mode === 'address') {
      return `The gateway at ${address ?? 'its address'} runs outside the supervisor (--gateway-address): the supervisor has no view of its screen; look at it where it runs`;
    }
    return "The gateway's screen is not available: the gateway is not running";
  }
}
