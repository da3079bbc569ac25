import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseBrokerState, type BrokerState } from './broker-state';

/** What reading the state file found. */
export type StateFileLoad =
  | { outcome: 'absent' }
  | { outcome: 'loaded'; state: BrokerState }
  | { outcome: 'unreadable'; reason: string };

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The broker's state on disk. Every save replaces the whole file by a rename, so a process killed at any
 * instant (SIGKILL, docker kill) leaves either the previous state or the new one, never a torn file.
 */
export class BrokerStateFile {
  /** What the file holds now, so that an unchanged state costs no write. */
  private written: string | undefined;

  constructor(readonly path: string) {}

  load(): StateFileLoad {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { outcome: 'absent' };
      return { outcome: 'unreadable', reason: reasonOf(error) };
    }
    try {
      const state = parseBrokerState(JSON.parse(text));
      this.written = text;
      return { outcome: 'loaded', state };
    } catch (error) {
      return { outcome: 'unreadable', reason: `${reasonOf(error)}${this.setAside()}` };
    }
  }

  /** Synchronous on purpose: callers acknowledge the change to clients only after this returns. */
  save(state: BrokerState): void {
    const text = JSON.stringify(state);
    if (text === this.written) return;
    // Same directory as the target, so the rename stays on one file system and is atomic.
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.path);
    this.written = text;
  }

  /** Keeps a corrupt file for inspection instead of overwriting it with the next change. */
  private setAside(): string {
    const aside = `${this.path}.corrupt`;
    try {
      renameSync(this.path, aside);
      return ` (kept as ${aside})`;
    } catch {
      return '';
    }
  }
}
