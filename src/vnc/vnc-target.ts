/** The gateway's VNC server as the service reaches it, with the password the service authenticates with. */
export interface VncEndpoint {
  host: string;
  port: number;
  /** VNC Authentication password (only its first 8 characters count); undefined when the server wants none. */
  password: string | undefined;
}

/**
 * Where the gateway's screen is right now: the in-process simulator's VNC server, or the VNC port the gateway
 * container publishes. Undefined while there is none (the container is not running).
 */
export interface VncTarget {
  /** `gateway`: the name a viewer asked for (`/vnc?gateway=`), when it asked. */
  endpoint(gateway?: string): VncEndpoint | undefined;
  /** Why there is no screen to show, in words for the viewer (when endpoint() is undefined). */
  unavailableReason?(gateway?: string): string;
}

export const VNC_TARGET = Symbol('VNC_TARGET');
