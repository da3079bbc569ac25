/**
 * Bytes arriving in chunks of any size, read as exact counts: what a protocol handshake needs before the
 * connection becomes a plain pipe ({@link forwardTo}).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pending:
    { count: number; resolve: (bytes: Buffer) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private sink: ((chunk: Buffer) => void) | undefined;

  push(chunk: Buffer): void {
    if (this.sink) {
      this.sink(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.settle();
  }

  /** The source ended or broke: a pending and every later read fails with `error`. */
  fail(error: Error): void {
    this.failure ??= error;
    this.settle();
  }

  /** Resolves with exactly `count` bytes. One read at a time. */
  async read(count: number): Promise<Buffer> {
    if (this.pending) throw new Error('a read is already pending');
    return new Promise((resolve, reject) => {
      this.pending = { count, resolve, reject };
      this.settle();
    });
  }

  /** From now on every byte goes to `sink`, starting with those not read yet. */
  forwardTo(sink: (chunk: Buffer) => void): void {
    if (this.pending) throw new Error('cannot forward while a read is pending');
    this.sink = sink;
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    if (rest.length > 0) sink(rest);
  }

  private settle(): void {
    const pending = this.pending;
    if (!pending) return;
    if (this.buffered >= pending.count) {
      this.pending = undefined;
      pending.resolve(this.take(pending.count));
    } else if (this.failure) {
      this.pending = undefined;
      pending.reject(this.failure);
    }
  }

  private take(count: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const taken = all.subarray(0, count);
    const rest = all.subarray(count);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return taken;
  }
}
