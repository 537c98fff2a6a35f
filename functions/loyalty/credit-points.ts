import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import * as z from '#shared/zod.ts';
import { creditPoints } from './points.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = lambdaChain<SQSEvent, SQSBatchResponse>().handler(
  sqsRecords(async (record, log) => {
    const event = parseOrderEvent(record.body, ['OrderConfirmed']);
    const outcome = await creditPoints(deps, event);
    const keys = { orderId: event.detail.orderId, messageId: event.detail.messageId };
    if (outcome.status === 'credited') log.info('points credited', { ...keys, points: outcome.points });
    else log.info('duplicate event, points already credited', keys);
  }),
);
