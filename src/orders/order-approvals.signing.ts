import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** JSON with sorted keys and undefined members dropped: equal parameters give equal text whatever their order. */
export function canonicalJson(value: unknown): string {
  const canonical = (member: unknown): unknown => {
    if (Array.isArray(member)) return member.map(canonical);
    if (member !== null && typeof member === 'object') {
      return Object.fromEntries(
        Object.entries(member as Record<string, unknown>)
          .filter(([, field]) => field !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, field]) => [name, canonical(field)]),
      );
    }
    return member;
  };
  return JSON.stringify(canonical(value));
}

/**
 * What a human's yes is bound to: sha256 of the operation, the gateway it goes to and its validated
 * parameters (defaults applied), in canonical JSON. Any other order, or this one elsewhere, hashes otherwise.
 */
export function operationHash(operation: string, gateway: string, parameters: object): string {
  return createHash('sha256').update(canonicalJson({ operation, gateway, parameters })).digest('hex');
}

/** A new approval id: 128 random bits, never derived from the order (it is shown to people and logs). */
export function newApprovalId(): string {
  return `apv-${randomBytes(16).toString('base64url')}`;
}

/** What a signed request state says: which approval, for which operation and parameters, until when. */
export interface ConfirmationClaim {
  /** The approval (kept in this process) the question belongs to. */
  id: string;
  operation: string;
  hash: string;
  /** Epoch ms after which the answer is no longer taken. */
  expiresAt: number;
  /** The run of the supervisor that signed it: another run's key cannot check it. */
  run: string;
}

export type StateCheck =
  | { ok: true; claim: ConfirmationClaim }
  | { ok: false; reason: 'malformed' | 'restarted' | 'forged' | 'expired' };

/**
 * Signs and checks the request state an MCP client echoes with its answer (HMAC-SHA256 under a key made
 * for this process alone). The state is readable (base64url JSON) but cannot be changed: a restart makes a
 * new key, so a state from before is refused, and says so rather than "forged".
 */
export class ConfirmationSigner {
  /** Tells this process's states from an earlier run's. */
  readonly run = randomBytes(6).toString('base64url');
  private readonly key = randomBytes(32);

  sign(claim: Omit<ConfirmationClaim, 'run'>): string {
    const payload = Buffer.from(JSON.stringify({ ...claim, run: this.run }), 'utf8').toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  verify(state: string, now: number): StateCheck {
    const [payload, signature, ...rest] = state.split('.');
    if (payload === undefined || signature === undefined || rest.length > 0) {
      return { ok: false, reason: 'malformed' };
    }
    const claim = parseClaim(payload);
    if (claim === undefined) return { ok: false, reason: 'malformed' };
    if (claim.run !== this.run) return { ok: false, reason: 'restarted' };
    const expected = Buffer.from(this.mac(payload), 'utf8');
    const given = Buffer.from(signature, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { ok: false, reason: 'forged' };
    }
    if (now > claim.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, claim };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload, 'utf8').digest('base64url');
  }
}

function parseClaim(payload: string): ConfirmationClaim | undefined {
  try {
    const value = JSON.parse(
      Buffer.from(payload, 'base64url').toString('utf8'),
    ) as Partial<ConfirmationClaim>;
    const texts = [value.id, value.operation, value.hash, value.run];
    if (texts.some((text) => typeof text !== 'string') || typeof value.expiresAt !== 'number') {
      return undefined;
    }
    return value as ConfirmationClaim;
  } catch {
    return undefined;
  }
}
