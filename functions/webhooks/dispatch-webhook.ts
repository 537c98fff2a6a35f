import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { METRIC_DIMENSIONS, METRICS } from '#contracts/metrics.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { InvalidMessage } from '#shared/errors.ts';
import { parseJsonMessage } from '#shared/json-message.ts';
import { metrics } from '#shared/metrics.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import * as z from '#shared/zod.ts';
import { DEFAULT_CIRCUIT_POLICY } from './circuit.ts';
import { type DispatchOutcome, dispatchDelivery } from './delivery-attempt.ts';
import { deliveryMessageSchema } from './messages.ts';
import { KmsSecretBox } from './secret-box.ts';
import { sendWebhook } from './sender.ts';
import {
  allowLoopbackHttpFromEnv,
  DEFAULT_DELIVERY_TIMEOUT_MS,
  retryScheduleFromEnv,
  secretsKeyIdFromEnv,
} from './settings.ts';

const config = loadConfig(
  z.object({
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.DELIVERY_QUEUE_URL]: requiredString(ENV.DELIVERY_QUEUE_URL),
    [ENV.DELIVERY_DLQ_URL]: requiredString(ENV.DELIVERY_DLQ_URL),
    [ENV.WEBHOOK_RETRY_SCHEDULE_SECONDS]: retryScheduleFromEnv,
    [ENV.WEBHOOK_TIMEOUT_MS]: positiveIntFromEnv(ENV.WEBHOOK_TIMEOUT_MS, DEFAULT_DELIVERY_TIMEOUT_MS),
    [ENV.WEBHOOK_ALLOW_LOOPBACK_HTTP]: allowLoopbackHttpFromEnv,
    [ENV.WEBHOOK_SECRETS_KEY_ID]: secretsKeyIdFromEnv,
    [ENV.WEBHOOK_CIRCUIT_FAILURE_THRESHOLD]: positiveIntFromEnv(
      ENV.WEBHOOK_CIRCUIT_FAILURE_THRESHOLD,
      DEFAULT_CIRCUIT_POLICY.failureThreshold,
    ),
    [ENV.WEBHOOK_CIRCUIT_COOLDOWN_SECONDS]: positiveIntFromEnv(
      ENV.WEBHOOK_CIRCUIT_COOLDOWN_SECONDS,
      DEFAULT_CIRCUIT_POLICY.baseCooldownMs / 1000,
    ),
  }),
);

const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  secretBox: new KmsSecretBox(new KMSClient({}), config.WEBHOOK_SECRETS_KEY_ID),
  queue: { sqs: new SQSClient({}), queueUrl: config.DELIVERY_QUEUE_URL },
  deadLetterQueueUrl: config.DELIVERY_DLQ_URL,
  send: sendWebhook,
  urlPolicy: { allowLoopbackHttp: config.WEBHOOK_ALLOW_LOOPBACK_HTTP },
  schedule: config.WEBHOOK_RETRY_SCHEDULE_SECONDS,
  timeoutMs: config.WEBHOOK_TIMEOUT_MS,
  circuit: {
    failureThreshold: config.WEBHOOK_CIRCUIT_FAILURE_THRESHOLD,
    baseCooldownMs: config.WEBHOOK_CIRCUIT_COOLDOWN_SECONDS * 1000,
    maxCooldownMs: Math.max(
      DEFAULT_CIRCUIT_POLICY.maxCooldownMs,
      config.WEBHOOK_CIRCUIT_COOLDOWN_SECONDS * 1000,
    ),
    slowAnswerRatio: DEFAULT_CIRCUIT_POLICY.slowAnswerRatio,
  },
};

function parseMessage(body: string) {
  const json = parseJsonMessage(body, 'delivery message');
  const parsed = deliveryMessageSchema.safeParse(json);
  if (!parsed.success) throw new InvalidMessage(`not a delivery message: ${parsed.error.message}`);
  return parsed.data;
}

/**
 * `WebhookDeliveries` by `outcome`, one per handled message: a metric of its own, since the records of one batch
 * come to different outcomes and one record's dimension must not reach another's.
 */
function countDelivery(outcome: DispatchOutcome): void {
  const single = metrics.singleMetric();
  single.addDimension(METRIC_DIMENSIONS.outcome, outcome);
  single.addMetric(METRICS.WebhookDeliveries, MetricUnit.Count, 1);
}

/** One attempt of one webhook delivery per message (functions/webhooks/delivery-attempt.ts). */
export const handler = lambdaChain<SQSEvent, SQSBatchResponse>().handler(
  sqsRecords(async (record, log) => {
    const message = parseMessage(record.body);
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1');
    const result = await dispatchDelivery(deps, message, receiveCount);
    countDelivery(result.outcome);
    const level = result.outcome === 'gave_up' || result.outcome === 'endpoint_disabled' ? 'warn' : 'info';
    log[level](`webhook delivery ${result.outcome}`, {
      webhookId: message.webhookId,
      ...result,
    });
  }),
);
