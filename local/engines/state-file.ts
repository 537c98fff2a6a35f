/**
 * A small JSON document the runtime keeps under `--persist` (stream positions, schedule firings): read once at start,
 * rewritten whole and atomically (temporary file, fsync, rename) at most every `writeDelayMs` after a change, one write
 * at a time. A SIGKILL leaves either the previous document or the new one, never half of one; what changed in the
 * last `writeDelayMs` before the kill may be missing, so callers save only facts whose loss is safe (a position that is
 * behind makes records come again, never skips one).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import * as path from 'node:path';
import type { RuntimeLogger } from '../types.ts';

export class JsonStateFile<T extends object> {
  readonly file: string;
  private readonly logger: RuntimeLogger;
  private readonly writeDelayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private current: (() => T) | undefined;

  constructor(file: string, logger: RuntimeLogger, writeDelayMs = 20) {
    this.file = file;
    this.logger = logger;
    this.writeDelayMs = writeDelayMs;
    mkdirSync(path.dirname(file), { recursive: true });
  }

  /** The document on disk; undefined when there is none or it cannot be read (logged). */
  read(): T | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as T;
    } catch {
      // Only a file edited by hand can be unreadable: every write replaces it whole.
    }
    this.logger.warn('ignoring an unreadable state file', { file: this.file });
    return undefined;
  }

  /** Writes `document()` soon (coalesced: one write for every change within `writeDelayMs`). */
  save(document: () => T): void {
    this.current = document;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.writeDelayMs);
  }

  /** Writes what is pending now and waits for it (on stop). */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.write();
    }
    await this.writing;
  }

  private write(): Promise<void> {
    const document = this.current;
    if (!document) return this.writing;
    const text = JSON.stringify(document());
    const temporary = `${this.file}.tmp`;
    this.writing = this.writing.then(async () => {
      try {
        const handle = await open(temporary, 'w');
        try {
          await handle.writeFile(text);
          await handle.datasync();
        } finally {
          await handle.close();
        }
        await rename(temporary, this.file);
      } catch (error) {
        this.logger.error('cannot save a state file', { file: this.file, error: String(error) });
      }
    });
    return this.writing;
  }
}
