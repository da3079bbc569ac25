import { Inject, Injectable } from '@nestjs/common';
import type { McpTransportSecurityOptions } from '@rekog/mcp-nest';
import type { IncomingMessage } from 'node:http';
import { APP_CONFIG } from '../config/config.tokens';
import { isLoopback, type AppConfig } from '../config/config.schema';
import type { Refusal } from './refusal';

/** Host names that reach a loopback listener (bracketed IPv6, as in a Host header). */
const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'];
const MAX_HOST_VERDICTS = 64;
/** Wildcard listen addresses: no browser uses them as a host name. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

function asHostname(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host.toLowerCase();
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/**
 * Which web pages and host names may talk to the service. It defends the browser-reachable surface
 * against DNS rebinding (a foreign Host on a loopback listener) and against foreign pages driving the
 * API or the VNC websocket with the user's browser (a foreign Origin). Clients that are not browsers
 * send no Origin and are not affected.
 */
@Injectable()
export class RequestOriginPolicy {
  /** Allowed Host names; undefined when listening beyond loopback, where the required token protects. */
  private readonly hostnames: ReadonlySet<string> | undefined;
  private readonly corsOrigins: ReadonlySet<string>;
  private readonly hostVerdicts = new Map<string, Refusal | undefined>();
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.hostnames = loopbackHostnames(config);
    this.corsOrigins = new Set(
      config.security.corsOrigins.map((origin) => parseUrl(origin)?.origin ?? origin),
    );
  }

  /** Why the request must be refused (403), or undefined when its Host and Origin are fine. */
  check(request: IncomingMessage): Refusal | undefined {
    const host = request.headers.host;
    const hostRefusal = this.hostRefusal(host);
    if (hostRefusal) return hostRefusal;
    const origin = request.headers.origin;
    if (origin === undefined || origin === '') return undefined;
    const originUrl = parseUrl(origin);
    if (originUrl === undefined || originUrl.origin === 'null') {
      return forbidden(`Origin ${origin} is not allowed`);
    }
    const sameOrigin =
      host !== undefined && parseUrl(`${originUrl.protocol}//${host}`)?.host === originUrl.host;
    if (sameOrigin || this.corsOrigins.has(originUrl.origin)) return undefined;
    return forbidden(
      `Origin ${originUrl.origin} is not allowed: only pages of this service${this.corsOrigins.size > 0 ? ' and the configured CORS origins' : ''} may call it (security.corsOrigins)`,
    );
  }

  /** Host names are checked once each (parsing a URL per request shows up at thousands of requests/s). */
  private hostRefusal(host: string | undefined): Refusal | undefined {
    if (this.hostnames === undefined) return undefined;
    const key = host ?? '';
    if (this.hostVerdicts.has(key)) return this.hostVerdicts.get(key);
    const hostname = host === undefined ? undefined : parseUrl(`http://${host}`)?.hostname;
    const verdict =
      hostname !== undefined && this.hostnames.has(hostname)
        ? undefined
        : forbidden(
            `Host ${host ?? '(none)'} is not allowed: this service listens on loopback and answers only to ${[...this.hostnames].join(', ')}`,
          );
    // Host headers are the caller's to choose: the memo stays small whatever they send.
    if (this.hostVerdicts.size >= MAX_HOST_VERDICTS) this.hostVerdicts.clear();
    this.hostVerdicts.set(key, verdict);
    return verdict;
  }
}

function forbidden(message: string): Refusal {
  return { statusCode: 403, code: 'FORBIDDEN', message };
}

function loopbackHostnames(config: AppConfig): ReadonlySet<string> | undefined {
  if (!isLoopback(config.host)) return undefined;
  return new Set([...LOOPBACK_HOSTNAMES, asHostname(config.host)]);
}

/**
 * The same policy for the MCP endpoint, in the form mcp-nest's transport checks itself (403 with a JSON-RPC
 * error): its allowlists hold host names, without scheme or port.
 */
export function mcpTransportSecurity(config: AppConfig): McpTransportSecurityOptions {
  const ownHost = WILDCARD_HOSTS.has(config.host) ? [] : [asHostname(config.host)];
  const corsHostnames = config.security.corsOrigins.flatMap((origin) => {
    const hostname = parseUrl(origin)?.hostname;
    return hostname === undefined ? [] : [hostname];
  });
  const hostnames = loopbackHostnames(config);
  return {
    allowedOrigins: [...new Set([...LOOPBACK_HOSTNAMES, ...ownHost, ...corsHostnames])],
    ...(hostnames === undefined ? {} : { allowedHosts: [...hostnames] }),
  };
}
