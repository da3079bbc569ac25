import { Inject, Injectable } from '@nestjs/common';
import { parse as parseCookies } from 'cookie';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { APP_CONFIG } from '../config/config.tokens';
import type { AppConfig } from '../config/config.schema';
import type { Refusal } from './refusal';

/** What a caller may do: everything, or only the operations marked read-only. */
export type AccessLevel = 'full' | 'read-only';

/** The HttpOnly cookie a browser page keeps the token in after opening it once with ?token=. */
export const TOKEN_COOKIE = 'ibgs_token';

/** Each request's access level, set in front of the router and read by the guard (REST and MCP alike). */
const accessLevels = new WeakMap<IncomingMessage, AccessLevel>();

/** Remembers on the request who it comes from, for the guard that checks each operation. */
export function tagAccessLevel(request: IncomingMessage, level: AccessLevel): void {
  accessLevels.set(request, level);
}

export function accessLevelOf(request: IncomingMessage | undefined): AccessLevel | undefined {
  return request === undefined ? undefined : accessLevels.get(request);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The configured API tokens and the one check every way in uses (REST, MCP, /vnc and its websocket):
 * `Authorization: Bearer <token>`, or the page cookie. Comparisons take the same time for every guess.
 */
@Injectable()
export class AccessTokens {
  private readonly full: Buffer | undefined;
  private readonly readOnly: Buffer | undefined;
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const { apiToken, readOnlyToken } = config.security;
    this.full = apiToken === undefined ? undefined : digest(apiToken);
    this.readOnly = readOnlyToken === undefined ? undefined : digest(readOnlyToken);
  }

  /** Without any token configured the service is open to whoever reaches it (loopback by default). */
  get required(): boolean {
    return this.full !== undefined || this.readOnly !== undefined;
  }

  /**
   * The access level the security middleware tagged `request` with. Untagged means the middleware did not
   * run: full access only when no token is configured.
   */
  levelOfRequest(request: IncomingMessage | undefined): AccessLevel | undefined {
    return accessLevelOf(request) ?? (this.required ? undefined : 'full');
  }

  /** The access a token grants, if it is one of the configured tokens. */
  levelOf(token: string): AccessLevel | undefined {
    const candidate = digest(token);
    // Both comparisons always run, so timing tells nothing about which token (if any) matched.
    const isFull = this.full !== undefined && timingSafeEqual(candidate, this.full);
    const isReadOnly = this.readOnly !== undefined && timingSafeEqual(candidate, this.readOnly);
    if (isFull) return 'full';
    return isReadOnly ? 'read-only' : undefined;
  }

  /**
   * Who a request comes from, or why it is refused (401: no token or a wrong one). `acceptCookie` is off
   * for /mcp: MCP clients send the header, and SameSite cookies would reach it from any localhost port.
   */
  authenticate(
    request: IncomingMessage,
    { acceptCookie }: { acceptCookie: boolean },
  ): { level: AccessLevel } | { refusal: Refusal } {
    if (!this.required) return { level: 'full' };
    const token = bearerToken(request) ?? (acceptCookie ? cookieToken(request) : undefined);
    if (token === undefined) {
      return {
        refusal: {
          statusCode: 401,
          code: 'UNAUTHORIZED',
          message:
            'An API token is required: send "Authorization: Bearer <token>" (in a browser, open /vnc?token=<token> or /docs?token=<token> once)',
        },
      };
    }
    const level = this.levelOf(token);
    if (level === undefined) {
      return { refusal: { statusCode: 401, code: 'UNAUTHORIZED', message: 'The API token is not valid' } };
    }
    return { level };
  }
}

function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function cookieToken(request: IncomingMessage): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  const value = parseCookies(header)[TOKEN_COOKIE];
  return value === undefined || value === '' ? undefined : value;
}
