/**
 * Stream positions of the event source mappings (`--persist`): per mapping and shard, the sequence number of the last
 * record that is done (its batch succeeded, it was filtered out, or it was given up to the on-failure destination),
 * or `FINISHED_SHARD` for a closed shard read to its end. A restarted mapping resumes each shard right after its
 * position, so no record is skipped; the records after it are delivered again (at least once, as on AWS after a
 * failed checkpoint).
 *
 * The file is one small JSON document, rewritten atomically (temporary file, fsync, rename) at most every
 * `writeDelayMs`: a SIGKILL loses at most the positions saved in that last moment, whose records then come again.
 * Positions only ever move past records that are done, so a stale file never skips one.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import * as path from 'node:path';
import type { RuntimeLogger } from '../../types.ts';

export const FINISHED_SHARD = 'FINISHED';
export const POSITIONS_FILE = 'positions.json';

export interface StreamPositionStore {
  /** The positions a mapping saved before this start, per shard; undefined when it has never run on this state. */
  load(mapping: string): ReadonlyMap<string, string> | undefined;
  /** Records that the mapping runs (so a later start knows that shards it has no position for are new). */
  started(mapping: string): void;
  save(mapping: string, shardId: string, position: string): void;
}

export class FileStreamPositions implements StreamPositionStore {
  private readonly file: string;
  private readonly logger: RuntimeLogger;
  private readonly writeDelayMs: number;
  private readonly positions: Record<string, Record<string, string>>;
  private readonly atStart: Record<string, Record<string, string>>;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string, logger: RuntimeLogger, writeDelayMs = 20) {
    this.file = path.join(dir, POSITIONS_FILE);
    this.logger = logger;
    this.writeDelayMs = writeDelayMs;
    mkdirSync(dir, { recursive: true });
    this.positions = this.read();
    this.atStart = structuredClone(this.positions);
  }

  load(mapping: string): ReadonlyMap<string, string> | undefined {
    const saved = this.atStart[mapping];
    return saved === undefined ? undefined : new Map(Object.entries(saved));
  }

  started(mapping: string): void {
    if (this.positions[mapping]) return;
    this.positions[mapping] = {};
    this.schedule();
  }

  save(mapping: string, shardId: string, position: string): void {
    const shards = this.positions[mapping] ?? {};
    this.positions[mapping] = shards;
    if (shards[shardId] === position) return;
    shards[shardId] = position;
    this.schedule();
  }

  /** Writes what is pending now (on stop). */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.write();
    }
    await this.writing;
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.writeDelayMs);
  }

  private read(): Record<string, Record<string, string>> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return parsed as Record<string, Record<string, string>>;
      }
    } catch {
      // Only a file edited by hand can be unreadable: every write replaces it whole.
    }
    this.logger.warn('stream positions are unreadable; every stream is read again from its start', {
      file: this.file,
    });
    return {};
  }

  /** One write at a time (chained): a later document never lands before an earlier one. */
  private write(): Promise<void> {
    const document = JSON.stringify(this.positions);
    const temporary = `${this.file}.tmp`;
    this.writing = this.writing.then(async () => {
      try {
        const handle = await open(temporary, 'w');
        try {
          await handle.writeFile(document);
          await handle.datasync();
        } finally {
          await handle.close();
        }
        await rename(temporary, this.file);
      } catch (error) {
        this.logger.error('cannot save stream positions', { file: this.file, error: String(error) });
      }
    });
    return this.writing;
  }
}
