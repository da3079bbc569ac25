import type { AppConfig } from '../config/config.schema';
import { secretValues } from '../config/load-config';

/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Secrets shorter than this are not searched for: replacing one- or two-character strings would shred every
 * text while hiding next to nothing (such a secret is guessed faster than it is read out of a log).
 */
export const MIN_SECRET_LENGTH = 3;

/** DI token of the service's one {@link Redactor} (provided by AppModule's runtime module). */
export const REDACTOR = 'REDACTOR';

/** The forms a secret takes in text: as is, escaped inside a JSON string, URL-encoded, base64. */
function spellings(secret: string): string[] {
  const base64 = Buffer.from(secret, 'utf8').toString('base64');
  return [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    base64,
    base64.replace(/=+$/, ''),
  ];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const byConfig = new WeakMap<AppConfig, Redactor>();

/**
 * The one place that knows the service's secret values and takes them out of text: log lines (the pino
 * logger, the gateway's own log), the gateway log endpoint, the order journal and error messages all go
 * through it. Built from the configuration's settings marked secret (the IB password, the VNC password, the
 * API tokens) and the IB username, so a new secret setting is redacted everywhere at once.
 */
export class Redactor {
  /** Matches any spelling of any secret, longest first (a secret containing another goes whole). */
  private readonly pattern: RegExp | undefined;

  constructor(secrets: Iterable<string | undefined>) {
    const needles = new Set<string>();
    for (const secret of secrets) {
      if (secret === undefined || secret.length < MIN_SECRET_LENGTH) continue;
      for (const spelling of spellings(secret)) {
        if (spelling.length >= MIN_SECRET_LENGTH) needles.add(spelling);
      }
    }
    const sorted = [...needles].sort((a, b) => b.length - a.length);
    this.pattern = sorted.length === 0 ? undefined : new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
  }

  /** The redactor of a configuration's secret values; one per configuration object. */
  static fromConfig(config: AppConfig): Redactor {
    let redactor = byConfig.get(config);
    if (!redactor) {
      // The IB username is not a secret setting (the start banner shows it), but it names the account:
      // the gateway's log, the journal, error answers and log lines leave it out too.
      redactor = new Redactor([
        ...secretValues(config),
        config.ib.username,
        ...config.gateways.map((entry) => entry.ib?.username),
      ]);
      byConfig.set(config, redactor);
    }
    return redactor;
  }

  /** True when there is nothing to redact (no secret configured). */
  get isEmpty(): boolean {
    return this.pattern === undefined;
  }

  /** The text with every secret replaced by {@link REDACTED}. */
  redact(text: string): string {
    return this.pattern ? text.replace(this.pattern, REDACTED) : text;
  }

  /**
   * A copy of a JSON-like value (plain objects, arrays, strings, numbers...) with every secret taken out of its
   * strings, keys included; parts without a secret are shared, not copied, and a value without one comes back
   * as is. Objects are seen as JSON sees them: by their own enumerable fields (a changed class instance comes
   * back as a plain object), while what has a toJSON (Date, Buffer) is left alone.
   */
  redactDeep<T>(value: T): T {
    if (!this.pattern) return value;
    return this.deep(value, new WeakMap()) as T;
  }

  private deep(value: unknown, seen: WeakMap<object, unknown>): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (typeof value !== 'object' || value === null) return value;
    if (seen.has(value)) return seen.get(value);
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      seen.set(value, copy);
      let changed = false;
      for (const item of value) {
        const redacted = this.deep(item, seen);
        changed ||= redacted !== item;
        copy.push(redacted);
      }
      if (changed) return copy;
      seen.set(value, value);
      return value;
    }
    // As JSON would see it: what serialises itself (Date, Buffer) stays, other objects by their own fields.
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
    const copy: Record<string, unknown> = {};
    seen.set(value, copy);
    let changed = false;
    for (const [key, item] of Object.entries(value)) {
      const redactedKey = this.redact(key);
      const redacted = this.deep(item, seen);
      changed ||= redacted !== item || redactedKey !== key;
      copy[redactedKey] = redacted;
    }
    if (changed) return copy;
    seen.set(value, value);
    return value;
  }
}
