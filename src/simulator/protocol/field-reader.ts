import { ServerVersion } from './versions';

/** The 12-field contract block that most requests carry. */
export interface WireContract {
  conId: number;
  symbol: string;
  secType: string;
  lastTradeDateOrContractMonth: string;
  strike: number;
  right: string;
  multiplier: string;
  exchange: string;
  primaryExch: string;
  currency: string;
  localSymbol: string;
  tradingClass: string;
}

/** A message that cannot be read (too few fields, a number that is not one): IB answers 320. */
export class MalformedRequest extends Error {}

/** A message that reads but asks for something the protocol does not allow: IB answers 321. */
export class InvalidRequest extends Error {}

/**
 * Reads the fields of one client message in order; an exhausted message is a malformed request. It knows
 * the session's negotiated version, because which fields a client sends depends on it.
 */
export class FieldReader {
  private index = 0;

  constructor(
    private readonly fields: readonly string[],
    readonly serverVersion: number = ServerVersion.NEWEST,
  ) {}

  /** Reads with `read` when the session's version has the field (it arrived at `version`), else undefined. */
  since<T>(version: number, read: () => T): T | undefined {
    return this.serverVersion >= version ? read() : undefined;
  }

  get remaining(): number {
    return this.fields.length - this.index;
  }

  string(): string {
    if (this.index >= this.fields.length) {
      throw new MalformedRequest(`Message ${this.fields[0] ?? '?'} ended after ${this.fields.length} fields`);
    }
    return this.fields[this.index++] ?? '';
  }

  /** An integer; an empty field reads as `fallback`. */
  int(fallback = 0): number {
    const text = this.string();
    if (text === '') return fallback;
    const value = Number.parseInt(text, 10);
    if (Number.isNaN(value)) throw new MalformedRequest(`Expected an integer, got "${text}"`);
    return value;
  }

  /** A number; an empty field (the client's "unset") reads as undefined. */
  optionalNumber(): number | undefined {
    const text = this.string();
    if (text === '') return undefined;
    const value = Number(text);
    if (Number.isNaN(value) || value >= 1.7e308) return undefined;
    return value;
  }

  number(fallback = 0): number {
    return this.optionalNumber() ?? fallback;
  }

  bool(): boolean {
    const text = this.string();
    return text !== '' && text !== '0' && text.toLowerCase() !== 'false';
  }

  skip(count: number): void {
    for (let i = 0; i < count; i++) this.string();
  }

  contract(): WireContract {
    return {
      conId: this.int(),
      symbol: this.string(),
      secType: this.string(),
      lastTradeDateOrContractMonth: this.string(),
      strike: this.number(),
      right: this.string(),
      multiplier: this.string(),
      exchange: this.string(),
      primaryExch: this.string(),
      currency: this.string(),
      localSymbol: this.string(),
      tradingClass: this.string(),
    };
  }
}
