import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DEFAULT_PAYMENT_RELEASE_PER_SECOND } from '#contracts/circuit.ts';
import { ENV } from '#contracts/environment.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { countHeld } from '#functions/resilience/circuit-breaker.ts';
import { loadConfig, positiveIntFromEnv, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { parseJsonMessage } from '#shared/json-message.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { holdOnQueue, releaseHold } from '#shared/requeue.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { parkedWait, parseResumeMessage, resumeSaga, startSaga } from './starter.ts';

const config = loadConfig(
  z.object({
    [ENV.STATE_MACHINE_ARN]: requiredString(ENV.STATE_MACHINE_ARN),
    [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME),
    [ENV.PAYMENT_RELEASE_PER_SECOND]: positiveIntFromEnv(
      ENV.PAYMENT_RELEASE_PER_SECOND,
      DEFAULT_PAYMENT_RELEASE_PER_SECOND,
    ),
  }),
);
const deps = {
  sfn: new SFNClient({}),
  stateMachineArn: config.STATE_MACHINE_ARN,
  table: { doc: documentClient, tableName: config.TABLE_NAME },
  releasePerSecond: config.PAYMENT_RELEASE_PER_SECOND,
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
      const ticket = keys.holdTicket('saga-start', resume.orderId);
      const wait = await parkedWait(deps, resume);
      if (wait) {
        // Sent before this record succeeds (and is deleted): a failed send leaves the original to come back.
        const held = await holdOnQueue(holds, record, ticket, wait.waitSeconds);
        countHeld('payment');
        log.info(
          held === 'requeued'
            ? 'parked order held: the payment circuit is open'
            : 'surplus copy of a parked order dropped: another one waits',
          { orderId: resume.orderId, ...wait },
        );
        return;
      }
      // Its saga may park the order again; that copy must find the ticket free.
      await releaseHold(holds, record, ticket);
      const outcome = await resumeSaga(deps, resume);
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
