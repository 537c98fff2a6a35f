/**
 * Task tokens of `.waitForTaskToken` tasks. A token is minted when the state's Parameters are evaluated
 * (`$$.Task.Token`), registered when the task submits its work, and settled by SendTaskSuccess/Failure.
 * Closed tokens are remembered so a late callback gets `TaskTimedOut` as on AWS, not `TaskDoesNotExist`.
 */
import { randomUUID } from 'node:crypto';
import { AwsServiceError } from '../gateway.ts';
import { HeartbeatTimeoutError, TaskFailedError } from './errors.ts';

interface PendingTask {
  executionArn: string;
  stateName: string;
  resolve(output: unknown): void;
  reject(error: Error): void;
  heartbeatSeconds?: number;
  heartbeatTimer?: NodeJS.Timeout;
}

interface TokenPayload {
  e: string;
  s: string;
  n: string;
}

export class TaskTokenRegistry {
  private readonly pending = new Map<string, PendingTask>();
  private readonly closed = new Set<string>();
  private readonly onChange: () => void;

  constructor(onChange: () => void = () => {}) {
    this.onChange = onChange;
  }

  mint(executionArn: string, stateName: string): string {
    const payload: TokenPayload = { e: executionArn, s: stateName, n: randomUUID() };
    return Buffer.from(JSON.stringify(payload)).toString('base64url');
  }

  /** Starts waiting for the token's callback; the promise settles with the task result or error. */
  register(token: string, task: { executionArn: string; stateName: string; heartbeatSeconds?: number }) {
    return new Promise<unknown>((resolve, reject) => {
      const entry: PendingTask = { ...task, resolve, reject };
      this.pending.set(token, entry);
      this.armHeartbeat(token, entry);
      this.onChange();
    });
  }

  succeed(token: string, output: unknown): void {
    const entry = this.take(token);
    entry.resolve(output);
  }

  fail(token: string, error: string | undefined, cause: string | undefined): void {
    const entry = this.take(token);
    entry.reject(new TaskFailedError(error ?? '', cause ?? ''));
  }

  heartbeat(token: string): void {
    const entry = this.lookup(token);
    this.armHeartbeat(token, entry);
  }

  /** Forgets a token without settling it: its task already ended (timeout, abort, failed submission). */
  close(token: string): void {
    const entry = this.pending.get(token);
    if (entry) clearTimeout(entry.heartbeatTimer);
    this.pending.delete(token);
    this.closed.add(token);
    this.onChange();
  }

  closeWhere(predicate: (executionArn: string, stateName: string) => boolean): void {
    for (const [token, entry] of this.pending) {
      if (predicate(entry.executionArn, entry.stateName)) this.close(token);
    }
  }

  isPending(token: string): boolean {
    return this.pending.has(token);
  }

  hasPendingFor(executionArn: string): boolean {
    for (const entry of this.pending.values()) if (entry.executionArn === executionArn) return true;
    return false;
  }

  private take(token: string): PendingTask {
    const entry = this.lookup(token);
    this.close(token);
    return entry;
  }

  private lookup(token: string): PendingTask {
    const entry = this.pending.get(token);
    if (entry) return entry;
    if (this.closed.has(token)) throw new AwsServiceError('TaskTimedOut', `Task Timed Out: '${token}'`);
    if (!isWellFormed(token)) throw new AwsServiceError('InvalidToken', `Invalid Token: '${token}'`);
    throw new AwsServiceError('TaskDoesNotExist', `Task Does Not Exist: '${token}'`);
  }

  private armHeartbeat(token: string, entry: PendingTask): void {
    if (!entry.heartbeatSeconds) return;
    clearTimeout(entry.heartbeatTimer);
    const seconds = entry.heartbeatSeconds;
    entry.heartbeatTimer = setTimeout(() => {
      this.close(token);
      entry.reject(new HeartbeatTimeoutError(entry.stateName, seconds));
    }, seconds * 1000);
  }
}

function isWellFormed(token: string): boolean {
  try {
    const payload = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenPayload>;
    return typeof payload.e === 'string' && typeof payload.s === 'string' && typeof payload.n === 'string';
  } catch {
    return false;
  }
}
