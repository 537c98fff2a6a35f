/**
 * The load generator, in its own worker thread: the runtime's engines (HTTP API, Step Functions, pollers) share
 * the bench's main thread, and a client living there would see their work as latency and fire late under load.
 * In a worker it keeps its own event loop; only the two CPU cores are shared, as with any client on the machine.
 */
import { parentPort } from 'node:worker_threads';
import type { LoadPlan, LoadRequest, LoadResult, LoadRun } from './load-types.ts';

type Sender = (
  request: LoadRequest,
  signal: AbortSignal,
) => Promise<{ status: number; body: string; retryAfter?: string }>;

const now = (): number => performance.timeOrigin + performance.now();
const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - now())));

async function createSender(plan: LoadPlan): Promise<Sender> {
  let transact: ((items: Array<Record<string, unknown>>) => Promise<void>) | undefined;
  if (plan.dynamodb) {
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient, TransactWriteCommand } = await import('@aws-sdk/lib-dynamodb');
    const { endpoint, region, accessKeyId, secretAccessKey } = plan.dynamodb;
    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey } }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    transact = async (items) => {
      await doc.send(new TransactWriteCommand({ TransactItems: items as never }));
    };
  }
  return async (request, signal) => {
    if (request.kind === 'transact') {
      if (!transact) throw new Error('a transact request needs plan.dynamodb');
      await transact(request.items);
      return { status: 200, body: '' };
    }
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      signal,
    });
    const text = await response.text();
    const retryAfter = response.status === 429 ? response.headers.get('retry-after') : null;
    return {
      status: response.status,
      body: text.slice(0, 2048),
      ...(retryAfter === null ? {} : { retryAfter }),
    };
  };
}

async function one(send: Sender, plan: LoadPlan, index: number, scheduledAt: number): Promise<LoadResult> {
  const request = plan.requests[index];
  const sentAt = now();
  if (!request) return { index, scheduledAt, sentAt, latencyMs: 0, status: 0, body: 'no such request' };
  try {
    const answer = await send(request, AbortSignal.timeout(plan.timeoutMs));
    return { index, scheduledAt, sentAt, latencyMs: now() - sentAt, ...answer };
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { index, scheduledAt, sentAt, latencyMs: now() - sentAt, status: 0, body: text.slice(0, 500) };
  }
}

async function closedLoop(
  send: Sender,
  plan: LoadPlan,
  count: number,
  concurrency: number,
  deadline: number,
  record: (result: LoadResult) => void,
): Promise<void> {
  let next = 0;
  const client = async () => {
    while (next < count && now() < deadline) {
      const index = next++;
      record(await one(send, plan, index, now()));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
}

/** One sender per DynamoDB endpoint for the worker's life: its SDK client stays warm from plan to plan. */
const senders = new Map<string, Promise<Sender>>();

async function run(plan: LoadPlan): Promise<LoadRun> {
  const key = JSON.stringify(plan.dynamodb ?? null);
  let sender = senders.get(key);
  if (!sender) {
    sender = createSender(plan);
    senders.set(key, sender);
  }
  const send = await sender;
  if (plan.warmup && plan.warmup.length > 0) {
    const warm = { ...plan, requests: plan.warmup };
    const concurrency = plan.mode.type === 'closed' ? plan.mode.concurrency : 4;
    await closedLoop(send, warm, plan.warmup.length, concurrency, Number.POSITIVE_INFINITY, () => {});
  }
  const results: LoadResult[] = [];
  const startedAt = now();
  if (plan.mode.type === 'closed') {
    const deadline = startedAt + (plan.mode.durationMs ?? Number.POSITIVE_INFINITY);
    await closedLoop(send, plan, plan.requests.length, plan.mode.concurrency, deadline, (r) =>
      results.push(r),
    );
  } else {
    const interval = 1000 / plan.mode.ratePerSecond;
    const pending: Promise<void>[] = [];
    for (let index = 0; index < plan.requests.length; index++) {
      const scheduledAt = startedAt + index * interval;
      await sleepUntil(scheduledAt);
      pending.push(one(send, plan, index, scheduledAt).then((result) => void results.push(result)));
    }
    await Promise.all(pending);
  }
  results.sort((a, b) => a.index - b.index);
  return { startedAt, wallMs: now() - startedAt, results };
}

parentPort?.on('message', ({ id, plan }: { id: number; plan: LoadPlan }) => {
  run(plan).then(
    (result) => parentPort?.postMessage({ id, ok: true, result }),
    (error: unknown) => parentPort?.postMessage({ id, ok: false, error: String(error) }),
  );
});
