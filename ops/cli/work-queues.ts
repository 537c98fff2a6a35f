/**
 * Back-pressure of the work queues (the queues with a DLQ and a consumer: saga-start, notify, points, webhooks…), as
 * `buzzer status` shows it: how many messages wait and are in flight, how old the oldest one is next to its age alarm's
 * threshold, and how many were consumed in the last minute.
 *
 * Locally the runtime's SQS engine answers all of it (`BuzzerLocalQueues.GetQueueStats` on its gateway, see
 * local/engines/sqs-stats.ts). On AWS the counts come from GetQueueAttributes; the age of the oldest message and the
 * messages deleted are CloudWatch metrics only, which the CLI does not read: the dashboard shows them and the age
 * alarms fire on them. The queues are never sampled by receiving: a receive counts towards a message's
 * maxReceiveCount and would push it towards the DLQ.
 */
import type { QueueStatsResponse } from '#local/engines/sqs-stats.ts';
import type { OperatorQueue, OpsContext } from './context.ts';
import { humanAge, table } from './format.ts';
import { queueDepth } from './queues.ts';

/** The X-Amz-Target prefix of the runtime's queue figures (local/engines/sqs-stats.ts `LOCAL_QUEUES_TARGET`). */
const LOCAL_QUEUES_TARGET = 'BuzzerLocalQueues';

export interface WorkQueueStatus {
  alias: string;
  /** Messages a consumer can receive now. */
  waiting: number;
  /** Received by a consumer, neither deleted nor back yet. */
  inFlight: number;
  /** Sent with a delay (held mail, webhook retries, parked orders). */
  delayed: number;
  /** Seconds since the oldest message (not delayed) was sent; null when the queue holds none or the target cannot say. */
  oldestAgeSeconds: number | null;
  /** The queue's age alarm threshold (stack setting `queueMaxAgeSeconds`); null when the stack does not say. */
  maxAgeSeconds: number | null;
  /** Messages deleted (consumed) in the last minute; null when the target cannot say. */
  consumedLastMinute: number | null;
  /** The oldest message is older than the alarm threshold: the consumer falls behind or takes nothing. */
  tooOld: boolean;
}

export interface WorkQueuesReport {
  queues: WorkQueueStatus[];
  /** Why some figures are missing, or where else to look. */
  note?: string;
}

const queueName = (url: string): string => url.split('/').pop() ?? url;

function status(
  queue: OperatorQueue,
  figures: Omit<WorkQueueStatus, 'alias' | 'maxAgeSeconds' | 'tooOld'>,
): WorkQueueStatus {
  const maxAgeSeconds = queue.maxAgeSeconds ?? null;
  return {
    alias: queue.alias,
    ...figures,
    maxAgeSeconds,
    tooOld:
      maxAgeSeconds !== null && figures.oldestAgeSeconds !== null && figures.oldestAgeSeconds > maxAgeSeconds,
  };
}

/** The runtime's figures, or undefined when it does not serve them (a runtime of an older version). */
async function localFigures(
  endpoint: string,
  fetchImpl: typeof fetch,
): Promise<QueueStatsResponse | undefined> {
  try {
    const response = await fetchImpl(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `${LOCAL_QUEUES_TARGET}.GetQueueStats`,
      },
      body: '{}',
    });
    return response.ok ? ((await response.json()) as QueueStatsResponse) : undefined;
  } catch {
    return undefined;
  }
}

/** Counts only, from GetQueueAttributes. */
async function countsOnly(ctx: OpsContext, queues: OperatorQueue[], note: string): Promise<WorkQueuesReport> {
  return {
    queues: await Promise.all(
      queues.map(async (queue) => {
        const depth = await queueDepth(ctx.clients.sqs, queue.source?.url ?? '');
        return status(queue, {
          waiting: depth.visible,
          inFlight: depth.inFlight,
          delayed: depth.delayed,
          oldestAgeSeconds: null,
          consumedLastMinute: null,
        });
      }),
    ),
    note,
  };
}

export async function readWorkQueues(
  ctx: OpsContext,
  fetchImpl: typeof fetch = fetch,
): Promise<WorkQueuesReport> {
  const { target } = ctx;
  const queues = target.queues.filter((queue) => queue.source !== undefined);
  if (target.kind !== 'local') {
    return countsOnly(
      ctx,
      queues,
      'the age of the oldest message and consumption are CloudWatch metrics: see the dashboard (the age alarms ' +
        'fire on them)',
    );
  }
  const figures = target.metricsEndpoint ? await localFigures(target.metricsEndpoint, fetchImpl) : undefined;
  if (!figures) {
    return countsOnly(
      ctx,
      queues,
      'the local runtime serves no queue figures (age, consumption): restart npm start with this version',
    );
  }
  const byName = new Map(figures.queues.map((q) => [q.queueName, q]));
  return {
    queues: queues.map((queue) => {
      const found = byName.get(queueName(queue.source?.url ?? ''));
      return status(queue, {
        waiting: found?.visible ?? 0,
        inFlight: found?.inFlight ?? 0,
        delayed: found?.delayed ?? 0,
        oldestAgeSeconds: found?.oldestAgeSeconds ?? null,
        consumedLastMinute: found?.deletedLastMinute ?? null,
      });
    }),
  };
}

export function renderWorkQueues(report: WorkQueuesReport): string {
  return (
    table(
      ['queue', 'waiting', 'in flight', 'delayed', 'oldest', 'alarm above', 'consumed last min', 'state'],
      report.queues.map((q) => [
        q.alias,
        q.waiting,
        q.inFlight,
        q.delayed,
        humanAge(q.oldestAgeSeconds),
        humanAge(q.maxAgeSeconds),
        q.consumedLastMinute,
        q.tooOld ? 'TOO OLD (runbook: work-queue-message-too-old)' : 'ok',
      ]),
    ) + (report.note ? `  ${report.note}\n` : '')
  );
}
