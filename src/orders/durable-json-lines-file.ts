import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

interface QueuedLine {
  line: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * An append-only JSON-lines file whose appends resolve only once the line is on disk (fsync). Appends
 * that arrive while a write is in flight are committed together, so a burst costs one fsync, not one each.
 */
export class DurableJsonLinesFile {
  private handle: FileHandle | undefined;
  private queue: QueuedLine[] = [];
  private flushing: Promise<void> | undefined;

  constructor(readonly path: string) {}

  async open(): Promise<void> {
    const directory = dirname(this.path);
    // The data dir holds the user's order history: private to the user (dirs it creates are 0700).
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const isNew = !existsSync(this.path);
    this.handle = await open(this.path, 'a+');
    if (isNew) {
      // A new file's directory entry must be durable too, or a crash can lose the whole file.
      await this.handle.sync();
      const directoryHandle = await open(directory, 'r');
      try {
        await directoryHandle.sync();
      } finally {
        await directoryHandle.close();
      }
    } else {
      await this.endTornLine(this.handle);
    }
  }

  /** Resolves once the line is written and fsynced; rejects if the disk refused it. */
  async append(value: unknown): Promise<void> {
    const line = `${JSON.stringify(value)}\n`;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      this.kick();
    });
  }

  /** Every complete line, oldest first; a torn last line (a crash mid-write) is skipped. */
  async *read(): AsyncGenerator<unknown> {
    if (!existsSync(this.path)) return;
    const lines = createInterface({ input: createReadStream(this.path, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      try {
        yield JSON.parse(line) as unknown;
      } catch {
        continue;
      }
    }
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /**
   * A crash mid-write leaves a last line without its newline: end it, or the next line would be glued to it
   * and lost with it when the file is read.
   */
  private async endTornLine(handle: FileHandle): Promise<void> {
    const { size } = await handle.stat();
    if (size === 0) return;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return;
    await handle.write('\n');
    await handle.sync();
  }

  private kick(): void {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      this.kick();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    try {
      const handle = this.handle;
      if (!handle) throw new Error(`${this.path} is not open`);
      await handle.write(batch.map((queued) => queued.line).join(''));
      await handle.sync();
      for (const queued of batch) queued.resolve();
    } catch (error) {
      for (const queued of batch) queued.reject(error);
    }
  }
}
