/**
 * What the sandbox's domain modules need from the outside world. The handler builds the real one; tests pass fake
 * clocks, sleeps and dice so that a 10 s timeout or a 30 % failure rate is tested in microseconds and exactly.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SandboxTable } from './store.ts';

export type IdPrefix = 'ch' | 're' | 'ml';

export interface SandboxContext {
  table: SandboxTable;
  logger: Logger;
  sleep(ms: number): Promise<void>;
  /** Uniform in [0, 1), as `Math.random`. */
  random(): number;
  now(): Date;
  newId(prefix: IdPrefix): string;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const newId = (prefix: IdPrefix): string => `${prefix}_${randomBytes(12).toString('hex')}`;
