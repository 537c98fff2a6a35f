import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { beginInvocation } from '#shared/logger.ts';
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

export const handler = async (
  event: DynamoDBStreamEvent,
  context?: Context,
): Promise<DynamoDBBatchResponse> => {
  beginInvocation(context);
  return relayOutbox(deps, event.Records);
};
