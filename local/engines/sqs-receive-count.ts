/**
 * SQS counts receives: `ApproximateReceiveCount` goes up when a message is received, and a ChangeMessageVisibility
 * leaves it alone. local-aws-sqs raises it on a visibility change too. The workers back off their failed messages with
 * a visibility change each (`functions/shared/middleware/retry-backoff.ts`), so locally every failure counted twice:
 * a message moved to its dead-letter queue after three tries where AWS gives it the queue's `maxReceiveCount` of five,
 * and its mail or points credit waited for an operator's redrive (the SIGKILL e2e scenario found one such mail).
 *
 * Each queue's messages are watched from the outside as in `sqs-stats.ts` (every message is stored through the public
 * `newRecord`), and a visibility change puts the count back to what it was before the change.
 */

import { isStored, messageIdOf } from './sqs-stats.ts';

/** What local-aws-sqs keeps per message (the parts used here). */
interface Entry {
  record: { MessageId: string; attributes: { ApproximateReceiveCount?: string } };
  tmRetention?: { _destroyed?: boolean };
}

/** The public surface of a local-aws-sqs queue used here. */
export interface CountedQueue {
  newRecord: (message: Record<string, unknown>, delay?: number) => unknown;
  changeVisibility(receiptHandle: string, visibilityTimeout: string): boolean;
}

/** Dropped messages are forgotten every this many stores, so the map never grows unbounded. */
const PRUNE_EVERY = 1_000;

function countReceivesOf(queue: CountedQueue): void {
  const entries = new Map<string, Entry>();
  let storesSincePrune = 0;
  const newRecord = queue.newRecord;
  queue.newRecord = (message, delay) => {
    const entry = newRecord(message, delay) as Entry;
    if (entry?.record?.MessageId) entries.set(entry.record.MessageId, entry);
    if (++storesSincePrune >= PRUNE_EVERY) {
      storesSincePrune = 0;
      for (const [id, stored] of entries) if (!isStored(stored)) entries.delete(id);
    }
    return entry;
  };
  const changeVisibility = queue.changeVisibility.bind(queue);
  queue.changeVisibility = (receiptHandle, visibilityTimeout) => {
    const id = messageIdOf(receiptHandle);
    const attributes = id === undefined ? undefined : entries.get(id)?.record.attributes;
    const before = attributes?.ApproximateReceiveCount;
    const changed = changeVisibility(receiptHandle, visibilityTimeout);
    if (attributes && before !== undefined) attributes.ApproximateReceiveCount = before;
    return changed;
  };
}

/**
 * Makes every queue in `queues` (the engine's `service.Queues`), those created later included, leave the receive count
 * alone on a visibility change. Install it before the journal (`sqs-journal.ts`), whose wrapper then records the count
 * as put back.
 */
export function countReceivesOnly(queues: CountedQueue[]): void {
  const counted = new WeakSet<CountedQueue>();
  const install = (queue: CountedQueue) => {
    if (counted.has(queue)) return;
    counted.add(queue);
    countReceivesOf(queue);
  };
  for (const queue of queues) install(queue);
  const push = queues.push.bind(queues);
  queues.push = (...added: CountedQueue[]) => {
    for (const queue of added) install(queue);
    return push(...added);
  };
}
