/**
 * Stream positions of the event source mappings (`--persist`): per mapping and shard, the sequence number of the last
 * record that is done (its batch succeeded, it was filtered out, or it was given up to the on-failure destination),
 * or `FINISHED_SHARD` for a closed shard read to its end. A restarted mapping resumes each shard right after its
 * position, so no record is skipped; the records after it are delivered again (at least once, as on AWS after a
 * failed checkpoint). Positions only ever move past records that are done, so a file that is behind (a SIGKILL
 * within the write delay of `JsonStateFile`) makes a few records come again and never skips one.
 */
import * as path from 'node:path';
import type { RuntimeLogger } from '../../types.ts';
import { JsonStateFile } from '../state-file.ts';

export const FINISHED_SHARD = 'FINISHED';
export const POSITIONS_FILE = 'positions.json';

export interface StreamPositionStore {
  /** The positions a mapping saved before this start, per shard; undefined when it has never run on this state. */
  load(mapping: string): ReadonlyMap<string, string> | undefined;
  /** Records that the mapping runs (so a later start knows that shards it has no position for are new). */
  started(mapping: string): void;
  save(mapping: string, shardId: string, position: string): void;
}

type Positions = Record<string, Record<string, string>>;

export class FileStreamPositions implements StreamPositionStore {
  private readonly file: JsonStateFile<Positions>;
  private readonly positions: Positions;
  private readonly atStart: Positions;

  constructor(dir: string, logger: RuntimeLogger) {
    this.file = new JsonStateFile<Positions>(path.join(dir, POSITIONS_FILE), logger);
    this.positions = this.file.read() ?? {};
    this.atStart = structuredClone(this.positions);
  }

  load(mapping: string): ReadonlyMap<string, string> | undefined {
    const saved = this.atStart[mapping];
    return saved === undefined ? undefined : new Map(Object.entries(saved));
  }

  started(mapping: string): void {
    if (this.positions[mapping]) return;
    this.positions[mapping] = {};
    this.file.save(() => this.positions);
  }

  save(mapping: string, shardId: string, position: string): void {
    const shards = this.positions[mapping] ?? {};
    this.positions[mapping] = shards;
    if (shards[shardId] === position) return;
    shards[shardId] = position;
    this.file.save(() => this.positions);
  }

  /** Writes what is pending now (on stop). */
  flush(): Promise<void> {
    return this.file.flush();
  }
}
