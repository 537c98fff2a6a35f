import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { countHeld } from '#functions/resilience/circuit-breaker.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { parseJsonMessage } from '#shared/json-message.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { holdOnQueue } from '#shared/requeue.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { parseResumeMessage, resumeSaga, startSaga } from './starter.ts';

const config = loadConfig(
  z.object({
    [ENV.STATE_MACHINE_ARN]: requiredString(ENV.STATE_MACHINE_ARN),
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
  }),
);
const deps = {
  sfn: new SFNClient({}),
  stateMachineArn: config.STATE_MACHINE_ARN,
  table: { doc: documentClient, tableName: config.TABLE_NAME },
};
const holds = {
  ...deps.table,
  sqs: new SQSClient({}),
  queueUrls: new Map<string, Promise<string>>(),
};

export const handler = lambdaChain<SQSEvent, SQSBatchResponse>().handler(
  sqsRecords(async (record, log) => {
    const resume = parseResumeMessage(parseJsonMessage(record.body, 'message body'));
    if (resume) {
      const outcome = await resumeSaga(deps, resume);
      if (typeof outcome === 'object') {
        // Sent before this record succeeds (and is deleted): a failed send leaves the original to come back.
        const held = await holdOnQueue(
          holds,
          record,
          keys.holdTicket('saga-start', resume.orderId),
          outcome.waitSeconds,
        );
        countHeld('payment');
        log.info(
          held === 'requeued'
            ? 'parked order held: the payment circuit is open'
            : 'surplus copy of a parked order dropped: another one waits',
          { orderId: resume.orderId, ...outcome },
        );
        return;
      }
      log.info('parked saga resumed', { orderId: resume.orderId, outcome });
      return;
    }
    // An envelope that does not parse throws: the record fails and ends in the DLQ, where it can be inspected.
    const event = parseOrderEvent(record.body, ['OrderPlaced']);
    const outcome = await startSaga(deps, event);
    log.info(outcome === 'started' ? 'saga started' : 'saga already started', {
      orderId: event.detail.orderId,
    });
  }),
);
