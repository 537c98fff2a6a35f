/**
 * Optional on-disk copy of executions (one JSON document each) so status, history and the state to redrive from
 * survive a restart of the local runtime. Writes are coalesced: a busy execution is written at most every
 * `WRITE_DELAY_MS`, and always atomically (temp file + rename) so a crash never leaves half a document.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeLogger } from '../../types.ts';
import type { ExecutionRecord } from './types.ts';

const WRITE_DELAY_MS = 25;

export class ExecutionStore {
  private readonly dir: string | undefined;
  private readonly logger: RuntimeLogger;
  private readonly dirty = new Map<string, ExecutionRecord>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string | undefined, logger: RuntimeLogger) {
    this.dir = dir;
    this.logger = logger;
    if (dir) mkdirSync(dir, { recursive: true });
  }

  loadAll(): ExecutionRecord[] {
    if (!this.dir) return [];
    const records: ExecutionRecord[] = [];
    for (const file of readdirSync(this.dir)) {
      if (!file.endsWith('.json')) continue;
      try {
        const parsed: unknown = JSON.parse(readFileSync(join(this.dir, file), 'utf8'));
        if (isExecutionRecord(parsed)) records.push(parsed);
        else this.logger.warn('stepfunctions: ignoring persisted file that is not an execution', { file });
      } catch (error) {
        this.logger.warn('stepfunctions: ignoring unreadable execution file', { file, error: String(error) });
      }
    }
    return records;
  }

  save(record: ExecutionRecord): void {
    if (!this.dir) return;
    this.dirty.set(record.executionArn, record);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.writeDirty();
    }, WRITE_DELAY_MS);
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writeDirty();
  }

  private writeDirty(): Promise<void> {
    const dir = this.dir;
    if (!dir) return Promise.resolve();
    const batch = [...this.dirty.values()].map(
      (record) => [record.executionArn, JSON.stringify(record)] as const,
    );
    this.dirty.clear();
    // Chained so two batches never write the same file concurrently.
    this.writing = this.writing.then(async () => {
      for (const [arn, document] of batch) {
        const file = join(dir, `${createHash('sha256').update(arn).digest('hex').slice(0, 40)}.json`);
        try {
          await writeFile(`${file}.tmp`, document);
          await rename(`${file}.tmp`, file);
        } catch (error) {
          this.logger.error('stepfunctions: cannot persist execution', {
            executionArn: arn,
            error: String(error),
          });
        }
      }
    });
    return this.writing;
  }
}

function isExecutionRecord(value: unknown): value is ExecutionRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<ExecutionRecord>;
  return (
    typeof record.executionArn === 'string' &&
    typeof record.stateMachineArn === 'string' &&
    typeof record.status === 'string' &&
    Array.isArray(record.history)
  );
}
