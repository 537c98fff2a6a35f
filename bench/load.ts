/**
 * Runs load plans in a worker thread (bench/load-worker.ts) and returns what each request saw. A `LoadGenerator`
 * keeps its worker (and the worker's warm HTTP and SDK clients) across plans.
 */
import { Worker } from 'node:worker_threads';
import type { LoadPlan, LoadRun } from './load-types.ts';

export type {
  HttpLoadRequest,
  LoadPlan,
  LoadRequest,
  LoadResult,
  LoadRun,
  TransactLoadRequest,
} from './load-types.ts';

type WorkerAnswer = { id: number; ok: true; result: LoadRun } | { id: number; ok: false; error: string };

export class LoadGenerator {
  private readonly worker = new Worker(new URL('./load-worker.ts', import.meta.url));
  private readonly pending = new Map<number, { resolve(run: LoadRun): void; reject(error: Error): void }>();
  private nextId = 0;

  constructor() {
    this.worker.on('message', (answer: WorkerAnswer) => {
      const waiting = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (answer.ok) waiting?.resolve(answer.result);
      else waiting?.reject(new Error(`load worker failed: ${answer.error}`));
    });
    const failAll = (error: Error) => {
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', failAll);
    this.worker.on('exit', (code) => failAll(new Error(`load worker exited with code ${code}`)));
  }

  run(plan: LoadPlan): Promise<LoadRun> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, plan });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
