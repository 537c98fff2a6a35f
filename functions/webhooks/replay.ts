import type { TableDeps } from '#shared/dynamodb.ts';
import { attemptMessage, listFailedDeliveries } from './deliveries.ts';
import { enableEndpoint } from './endpoint-lifecycle.ts';
import { type DeliveryQueue, enqueueDeliveries } from './messages.ts';

/** Replays per call; a larger backlog is replayed by calling again. */
export const MAX_REPLAY_PER_CALL = 500;

export interface ReplayDeps extends TableDeps {
  queue: DeliveryQueue;
}

export interface ReplayResult {
  /** FAILED deliveries queued for replay, oldest first. */
  replayed: number;
  /** More FAILED deliveries wait: call again. */
  more: boolean;
}

/**
 * Enables the endpoint, then queues a `replay` message for each of its FAILED deliveries, the same message an
 * operator's DLQ redrive delivers: the dispatcher reopens the delivery (one conditional write, so duplicates do
 * nothing) and starts a fresh round of attempts. Nothing is changed here but the endpoint, so a crash halfway leaves
 * the rest FAILED for the next call instead of stranding them. Enabling comes first so the replayed attempts do not
 * find the endpoint still disabled.
 */
export async function enableAndReplay(
  deps: ReplayDeps,
  clientId: string,
  webhookId: string,
  now = new Date(),
): Promise<ReplayResult> {
  await enableEndpoint(deps, clientId, webhookId);
  const failed = await listFailedDeliveries(deps, webhookId, MAX_REPLAY_PER_CALL + 1);
  const batch = failed.slice(0, MAX_REPLAY_PER_CALL);
  await enqueueDeliveries(
    deps.queue,
    batch.map((record) => ({ ...attemptMessage(record, 'replay'), notBefore: now.toISOString() })),
    now,
  );
  return { replayed: batch.length, more: failed.length > MAX_REPLAY_PER_CALL };
}
