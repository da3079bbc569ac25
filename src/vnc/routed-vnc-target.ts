import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { GatewayRouter } from '../gateway/gateway-router';
import { GatewayVncTarget } from './gateway-vnc-target';
import type { VncEndpoint, VncTarget } from './vnc-target';

/** The screen of the gateway a viewer asked for (`/vnc?gateway=name`), or of the only one. */
@Injectable()
export class RoutedVncTarget implements VncTarget {
  constructor(private readonly router: GatewayRouter) {}

  endpoint(gateway?: string): VncEndpoint | undefined {
    const target = this.targetOf(gateway);
    return target instanceof GatewayVncTarget ? target.endpoint() : undefined;
  }

  unavailableReason(gateway?: string): string {
    const target = this.targetOf(gateway);
    return target instanceof GatewayVncTarget ? target.unavailableReason() : target;
  }

  /** The gateway's own target, or why there is none to pick (an unknown name, several and none named). */
  private targetOf(gateway: string | undefined): GatewayVncTarget | string {
    try {
      return this.router.named({ gateway }).get(GatewayVncTarget);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const links = this.router.names().map((name) => `/vnc?gateway=${name}`);
      return `${error.message.split(':')[0] ?? 'No such gateway'}: open one of ${links.join(', ')}`;
    }
  }
}
