/**
 * Queue chores of a chaos run: compressing visibility timeouts so a crashed batch comes back in seconds instead of
 * minutes, measuring queue depths for quiescence, and redriving dead-letter queues with `StartMessageMoveTask`, the
 * way an operator would after the fault is fixed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { LocalQueue } from '#local/runtime.ts';
import type { SystemUnderTest } from './system.ts';

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface DeadLetterOutcome {
  queue: string;
  /** Messages in the DLQ when the run had settled. */
  found: number;
  /** Messages moved back to the source queue. */
  redriven: number;
  /** Why the DLQ was not redriven (no single source queue, move task failed). */
  problem?: string;
}

export async function queueDepth(system: SystemUnderTest, queue: LocalQueue): Promise<QueueDepth> {
  const { Attributes = {} } = await system.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/** Whether any of `queues` holds a message: visible, in flight or delayed. */
export async function holdMessages(system: SystemUnderTest, queues: readonly LocalQueue[]): Promise<boolean> {
  return (await queuesHolding(system, queues)).length > 0;
}

/** Each of `queues` that holds a message, with its depths (e.g. `SagaStartQueue: 0 visible, 2 in flight, 5 delayed`). */
export async function queuesHolding(
  system: SystemUnderTest,
  queues: readonly LocalQueue[],
): Promise<string[]> {
  const depths = await Promise.all(queues.map((queue) => queueDepth(system, queue)));
  return queues.flatMap((queue, i) => {
    const depth = depths[i];
    if (!depth || depth.visible + depth.inFlight + depth.delayed === 0) return [];
    return [
      `${queue.logicalId}: ${depth.visible} visible, ${depth.inFlight} in flight, ${depth.delayed} delayed`,
    ];
  });
}

/** Dead-letter queues: targets of a RedrivePolicy, or named so (the relay's DLQ is the mapping's destination). */
export function deadLetterQueues(system: SystemUnderTest): LocalQueue[] {
  return Object.values(system.queues).filter(
    (queue) => queue.logicalId in system.topology.deadLetterSources || /Dlq/i.test(queue.logicalId),
  );
}

/** The queues consumers read from (their depth must reach zero before the run counts as settled). */
export function sourceQueues(system: SystemUnderTest): LocalQueue[] {
  const dlqs = new Set(deadLetterQueues(system).map((queue) => queue.logicalId));
  return Object.values(system.queues).filter((queue) => !dlqs.has(queue.logicalId));
}

/** Sets the visibility timeout of every consumer queue; returns what restores the deployed values. */
export async function compressVisibility(
  system: SystemUnderTest,
  seconds: number,
): Promise<() => Promise<void>> {
  const originals: Array<[LocalQueue, string]> = [];
  for (const { queueLogicalId } of system.topology.sqsConsumers) {
    const queue = system.queues[queueLogicalId];
    if (!queue) continue;
    const { Attributes } = await system.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['VisibilityTimeout'] }),
    );
    originals.push([queue, Attributes?.VisibilityTimeout ?? '30']);
    await system.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queue.url,
        Attributes: { VisibilityTimeout: String(seconds) },
      }),
    );
  }
  return async () => {
    for (const [queue, value] of originals) {
      await system.sqs.send(
        new SetQueueAttributesCommand({ QueueUrl: queue.url, Attributes: { VisibilityTimeout: value } }),
      );
    }
  };
}

/**
 * Moves every dead-lettered message back to its source queue. The destination is named explicitly: messages that
 * EventBridge dead-lettered (target delivery failures) carry no source queue of their own.
 */
export async function redriveDeadLetterQueues(
  system: SystemUnderTest,
  timeoutMs = 30_000,
): Promise<DeadLetterOutcome[]> {
  const outcomes: DeadLetterOutcome[] = [];
  for (const dlq of deadLetterQueues(system)) {
    const depth = await queueDepth(system, dlq);
    const found = depth.visible + depth.inFlight + depth.delayed;
    if (found === 0) continue;
    const sources = system.topology.deadLetterSources[dlq.logicalId] ?? [];
    const source = sources.length === 1 && sources[0] ? system.queues[sources[0]] : undefined;
    if (!source) {
      outcomes.push({
        queue: dlq.logicalId,
        found,
        redriven: 0,
        problem:
          sources.length === 0
            ? 'no source queue to move messages back to'
            : `several source queues: ${sources.join(', ')}`,
      });
      continue;
    }
    outcomes.push(await moveBack(system, dlq, source, found, timeoutMs));
  }
  return outcomes;
}

async function moveBack(
  system: SystemUnderTest,
  dlq: LocalQueue,
  source: LocalQueue,
  found: number,
  timeoutMs: number,
): Promise<DeadLetterOutcome> {
  await system.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, DestinationArn: source.arn }));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { Results = [] } = await system.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlq.arn }));
    const latest = Results[0];
    if (latest && latest.Status !== 'RUNNING') {
      return {
        queue: dlq.logicalId,
        found,
        redriven: Number(latest.ApproximateNumberOfMessagesMoved ?? 0),
        ...(latest.Status === 'COMPLETED'
          ? {}
          : { problem: `move task ${latest.Status}: ${latest.FailureReason ?? ''}` }),
      };
    }
    await sleep(200);
  }
  return {
    queue: dlq.logicalId,
    found,
    redriven: 0,
    problem: `move task still running after ${timeoutMs} ms`,
  };
}
