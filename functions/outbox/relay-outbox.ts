import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import * as z from '#shared/zod.ts';
import { relayOutbox } from './relay.ts';

const config = loadConfig(
  z.object({
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.EVENT_BUS_NAME]: requiredString(ENV.EVENT_BUS_NAME),
    [ENV.RELAY_DLQ_URL]: requiredString(ENV.RELAY_DLQ_URL),
    [ENV.RELAY_MAX_ATTEMPTS]: positiveIntFromEnv(ENV.RELAY_MAX_ATTEMPTS, 5),
  }),
);

const deps = {
  doc: documentClient,
  tableName: config.TABLE_NAME,
  eventBridge: new EventBridgeClient({}),
  sqs: new SQSClient({}),
  eventBusName: config.EVENT_BUS_NAME,
  dlqUrl: config.RELAY_DLQ_URL,
  maxAttempts: config.RELAY_MAX_ATTEMPTS,
};

/**
 * The stream batch is relayed as a whole (PutEvents takes ten entries a call), not record by record as Powertools
 * Batch would: relayOutbox answers the batch item failure itself (the first record to retry, in stream order).
 */
export const handler = lambdaChain<DynamoDBStreamEvent, DynamoDBBatchResponse>().handler((event) =>
  relayOutbox(deps, event.Records),
);
