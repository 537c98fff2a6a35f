import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { beginInvocation } from '#shared/logger.ts';
import * as z from '#shared/zod.ts';
import { relayOutbox } from './relay.ts';

const config = loadConfig(
  z.object({
    TABLE_NAME: requiredString('TABLE_NAME'),
    EVENT_BUS_NAME: requiredString('EVENT_BUS_NAME'),
    RELAY_DLQ_URL: requiredString('RELAY_DLQ_URL'),
    RELAY_MAX_ATTEMPTS: positiveIntFromEnv('RELAY_MAX_ATTEMPTS', 5),
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
