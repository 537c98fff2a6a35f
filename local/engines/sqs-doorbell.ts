/**
 * Tells the runtime's SQS pollers when a queue may have a message for them, so an idle poller waits instead of asking
 * the engine ten times a second (AWS's long poll answers as soon as a message is there; local-aws-sqs's does not, see
 * `pollers/queue-poller.ts`). A message becomes receivable at a time the engine's public methods reveal:
 * - stored (sent, moved to a DLQ, redriven): `newRecord`, now or after its delay;
 * - received and not deleted: `receive`, after the visibility timeout it was received with;
 * - its visibility changed: `changeVisibility`, after the new timeout.
 * Each of those rings the queue's bell at that time. The engine's timers make the message visible at the same instant,
 * so the ring comes a few milliseconds later to find it so.
 */

/** The public surface of a local-aws-sqs queue that the bells use. */
export interface RingableQueue {
  readonly QueueName: string;
  DelaySeconds: number;
  VisibilityTimeout: number;
  newRecord: (message: Record<string, unknown>, delay?: number) => unknown;
  receive: (params: { VisibilityTimeout?: unknown }) => Promise<unknown[]>;
  changeVisibility: (receiptHandle: string, visibilityTimeout: string) => boolean;
}

/** Subscribes to a queue's bell by queue name; the answer unsubscribes. */
export interface QueueSignals {
  subscribe(queueName: string, ring: () => void): () => void;
}

/** Rung after the engine's own timer has made the message visible. */
const AFTER_ENGINE_MS = 5;

function seconds(value: unknown, fallback: number): number {
  const parsed = typeof value === 'number' ? value : Number(value);
  return value === undefined || value === null || value === '' || !Number.isFinite(parsed)
    ? fallback
    : parsed;
}

/**
 * Rings for every queue in `queues` (the engine's `service.Queues`), those created later included. Call before any
 * message is sent: a message stored before is not rung for (its poller still finds it on its next look).
 */
export function ringQueues(queues: RingableQueue[]): QueueSignals {
  const listeners = new Map<string, Set<() => void>>();
  const ring = (queueName: string): void => {
    for (const listener of listeners.get(queueName) ?? []) listener();
  };
  const ringIn = (queueName: string, delaySeconds: number): void => {
    // A send rings after the request that stored it has been answered; never synchronously inside the engine.
    setTimeout(() => ring(queueName), delaySeconds > 0 ? delaySeconds * 1000 + AFTER_ENGINE_MS : 0).unref();
  };
  const rung = new WeakSet<RingableQueue>();
  const install = (queue: RingableQueue): void => {
    if (rung.has(queue)) return;
    rung.add(queue);
    const newRecord = queue.newRecord;
    queue.newRecord = (message, delay) => {
      const entry = newRecord(message, delay);
      ringIn(queue.QueueName, seconds(delay, queue.DelaySeconds));
      return entry;
    };
    const receive = queue.receive.bind(queue);
    queue.receive = async (params) => {
      const received = await receive(params);
      if (received.length > 0)
        ringIn(queue.QueueName, seconds(params.VisibilityTimeout, queue.VisibilityTimeout));
      return received;
    };
    const changeVisibility = queue.changeVisibility.bind(queue);
    queue.changeVisibility = (receiptHandle, visibilityTimeout) => {
      const changed = changeVisibility(receiptHandle, visibilityTimeout);
      if (changed) ringIn(queue.QueueName, seconds(visibilityTimeout, 0));
      return changed;
    };
  };
  for (const queue of queues) install(queue);
  const push = queues.push.bind(queues);
  queues.push = (...added: RingableQueue[]) => {
    for (const queue of added) install(queue);
    return push(...added);
  };
  return {
    subscribe(queueName, listener) {
      const set = listeners.get(queueName) ?? new Set();
      listeners.set(queueName, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}
