import { Duration } from 'aws-cdk-lib';
import type { MailServiceName } from '#contracts/mail.ts';
import { DeploymentConfigError } from './deployment-config-error.ts';

/**
 * Back-pressure settings of the work queues: how many batches each queue's consumer may run at once (the event
 * source mapping's `ScalingConfig.MaximumConcurrency`), and how old the oldest message of each queue may get before
 * its age alarm fires. One name per queue everywhere: the stack setting, the alarm, `buzzer status` and
 * `buzzer dlq … <queue>` all say `notify`, `saga-start`, …
 */

export { DeploymentConfigError };

/** The work queues, by the alias operators know them by (lib/constructs/operations.ts derives the same aliases). */
export const WORK_QUEUES = [
  'saga-start',
  'notify',
  'points',
  'webhooks-fan-out',
  'webhooks-delivery',
  'mail',
  'mail-bulk',
] as const;
export type WorkQueueName = (typeof WORK_QUEUES)[number];

/**
 * Concurrent batches per consumer. They are today's deployed values; each is a ceiling on what a burst can do
 * downstream, while the rest waits in the queue (and shows up in its depth and age):
 *
 * - `saga-start` 5: at most 5 batches of 10 executions start at once, so a burst of orders reaches the payment step
 *   (and the provider) at the starter's pace instead of all together;
 * - `notify` 5: mail sends are bounded below SES's default sending rate for production accounts (14 a second);
 * - `points` 5, `webhooks-fan-out` 5: table writes and queue sends, bounded so a burst does not take the account's
 *   Lambda concurrency from the API;
 * - `webhooks-delivery` 10: each delivery waits on a client's endpoint (10 s deadline) and a dead endpoint opens its
 *   own circuit, so more slots keep healthy endpoints flowing;
 * - `mail` and `mail-bulk` 2 (the burst mail service's two lanes, `-c mailService=burst`): batches of 100 with 8 sends
 *   in flight each, so 16 sends at once per lane, the transport's pace; a burst waits in the queue.
 */
export const DEFAULT_MAX_CONCURRENCY: Readonly<Record<WorkQueueName, number>> = {
  'saga-start': 5,
  notify: 5,
  points: 5,
  'webhooks-fan-out': 5,
  'webhooks-delivery': 10,
  mail: 2,
  'mail-bulk': 2,
};

/**
 * Age of the oldest message above which a queue's alarm fires, relative to what each queue normally waits:
 *
 * - `saga-start` 5 minutes: a saga normally starts within seconds; 5 minutes is half the reconciler's `stuckAfter`
 *   (10 minutes), so operators hear of a stalled starter before the reconciler starts driving orders on;
 * - `notify` and `points` 15 minutes: nobody waits on them, and an open mail circuit re-queues mail (as new messages)
 *   every interval, so only a consumer that takes nothing trips it;
 * - `webhooks-fan-out` 5 minutes: fan-out is table work only;
 * - `webhooks-delivery` 30 minutes: retries wait in the queue as delayed messages of up to 15 minutes each;
 * - `mail` 15 minutes, as `notify` (the same order mail); `mail-bulk` 1 hour: a campaign of many thousands drains at
 *   the transport's pace, and nobody waits on its last mail.
 */
export const DEFAULT_MAX_AGE_SECONDS: Readonly<Record<WorkQueueName, number>> = {
  'saga-start': 300,
  notify: 900,
  points: 900,
  'webhooks-fan-out': 300,
  'webhooks-delivery': 1800,
  mail: 900,
  'mail-bulk': 3600,
};

/** The event source mapping's bounds (`ScalingConfig.MaximumConcurrency`). */
export const MAX_CONCURRENCY_RANGE = { min: 2, max: 1000 } as const;
/** An age alarm reads a 1-minute metric: anything shorter is noise; SQS keeps a message at most 14 days. */
export const MAX_AGE_RANGE_SECONDS = { min: 60, max: 1_209_600 } as const;

export interface BackPressureSettings {
  /**
   * Concurrent batches of each queue's consumer (`-c consumerMaxConcurrency=notify=3,saga-start=4`), 2 to 1000.
   * Queues left out keep their default.
   * @default DEFAULT_MAX_CONCURRENCY
   */
  readonly maxConcurrency?: Partial<Record<WorkQueueName, number>>;
  /**
   * Age of the oldest message that raises each queue's age alarm (`-c queueMaxAgeSeconds=notify=600`), 60 s to 14
   * days. Queues left out keep their default.
   * @default DEFAULT_MAX_AGE_SECONDS
   */
  readonly maxAge?: Partial<Record<WorkQueueName, Duration>>;
}

export interface WorkQueueSettings {
  readonly maxConcurrency: number;
  readonly maxAge: Duration;
}

const isWorkQueue = (name: string): name is WorkQueueName =>
  (WORK_QUEUES as readonly string[]).includes(name);

function checkNames(setting: string, values: object | undefined): void {
  for (const name of Object.keys(values ?? {})) {
    if (!isWorkQueue(name)) {
      throw new DeploymentConfigError(
        `Buzzer: ${setting} names no work queue "${name}"; the work queues are ${WORK_QUEUES.join(', ')}`,
      );
    }
  }
}

function within(setting: string, queue: WorkQueueName, value: number, range: { min: number; max: number }) {
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new DeploymentConfigError(
      `Buzzer: ${setting} of ${queue} must be a whole number from ${range.min} to ${range.max}, got ${value}`,
    );
  }
}

/** Every work queue's settings, defaults filled in; throws `DeploymentConfigError` for a value AWS would refuse. */
export function resolveBackPressure(
  settings: BackPressureSettings = {},
): Record<WorkQueueName, WorkQueueSettings> {
  checkNames('consumerMaxConcurrency', settings.maxConcurrency);
  checkNames('queueMaxAgeSeconds', settings.maxAge);
  const resolved = {} as Record<WorkQueueName, WorkQueueSettings>;
  for (const queue of WORK_QUEUES) {
    const maxConcurrency = settings.maxConcurrency?.[queue] ?? DEFAULT_MAX_CONCURRENCY[queue];
    within('consumerMaxConcurrency', queue, maxConcurrency, MAX_CONCURRENCY_RANGE);
    const maxAge = settings.maxAge?.[queue] ?? Duration.seconds(DEFAULT_MAX_AGE_SECONDS[queue]);
    within('queueMaxAgeSeconds', queue, maxAge.toSeconds({ integral: false }), MAX_AGE_RANGE_SECONDS);
    resolved[queue] = { maxConcurrency, maxAge };
  }
  return resolved;
}

/**
 * A per-queue context value: an object in cdk.json (`{"notify": 3}`), or on the command line `notify=3,points=4`
 * (or the same object as JSON). Values must be whole numbers.
 */
function perQueueNumbers(key: string, value: unknown): Record<string, number> | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let entries: Array<[string, unknown]>;
  if (typeof value === 'object' && !Array.isArray(value)) {
    entries = Object.entries(value);
  } else if (typeof value === 'string' && value.trim().startsWith('{')) {
    try {
      return perQueueNumbers(key, JSON.parse(value) as unknown);
    } catch (error) {
      if (error instanceof DeploymentConfigError) throw error;
      throw new DeploymentConfigError(`Buzzer: -c ${key} is not valid JSON: ${value}`);
    }
  } else if (typeof value === 'string') {
    entries = value.split(',').map((pair): [string, unknown] => {
      const [name = '', number, ...rest] = pair.split('=').map((part) => part.trim());
      if (number === undefined || rest.length > 0 || name === '') {
        throw new DeploymentConfigError(
          `Buzzer: -c ${key} takes <queue>=<number> pairs separated by commas (e.g. notify=3,points=4), got "${value}"`,
        );
      }
      return [name, number];
    });
  } else {
    throw new DeploymentConfigError(
      `Buzzer: -c ${key} takes <queue>=<number> pairs (e.g. notify=3,points=4), got ${JSON.stringify(value)}`,
    );
  }
  return Object.fromEntries(
    entries.map(([name, raw]) => {
      const number = typeof raw === 'number' ? raw : Number(raw);
      if (raw === '' || !Number.isInteger(number)) {
        throw new DeploymentConfigError(
          `Buzzer: -c ${key}: the value of ${name} must be a whole number, got "${String(raw)}"`,
        );
      }
      return [name, number];
    }),
  );
}

/**
 * The settings from the app's context keys `consumerMaxConcurrency` and `queueMaxAgeSeconds`, checked (unknown queue
 * names, values out of range) before anything is built.
 */
export function backPressureFromContext(context: (key: string) => unknown): BackPressureSettings {
  const concurrency = perQueueNumbers('consumerMaxConcurrency', context('consumerMaxConcurrency'));
  const ages = perQueueNumbers('queueMaxAgeSeconds', context('queueMaxAgeSeconds'));
  checkNames('queueMaxAgeSeconds', ages);
  // Checked before they become Durations, which refuse negative amounts with a message naming no setting.
  for (const [name, seconds] of Object.entries(ages ?? {}))
    within('queueMaxAgeSeconds', name as WorkQueueName, seconds, MAX_AGE_RANGE_SECONDS);
  const settings: BackPressureSettings = {
    ...(concurrency ? { maxConcurrency: concurrency } : {}),
    ...(ages
      ? {
          maxAge: Object.fromEntries(
            Object.entries(ages).map(([name, seconds]) => [name, Duration.seconds(seconds)]),
          ),
        }
      : {}),
  };
  resolveBackPressure(settings);
  return settings;
}

/** Whether the stack has this work queue: the notify worker's queue and the burst mail service's lanes exclude each other. */
export function deployedWorkQueue(name: WorkQueueName, mailService: MailServiceName): boolean {
  if (name === 'notify') return mailService !== 'burst';
  if (name === 'mail' || name === 'mail-bulk') return mailService === 'burst';
  return true;
}
