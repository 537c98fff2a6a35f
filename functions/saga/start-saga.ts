import { SFNClient } from '@aws-sdk/client-sfn';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '#contracts/environment.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { sqsRecords } from '#shared/middleware/batch.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import * as z from '#shared/zod.ts';
import { startSaga } from './starter.ts';

const config = loadConfig(z.object({ [ENV.STATE_MACHINE_ARN]: requiredString(ENV.STATE_MACHINE_ARN) }));
const deps = { sfn: new SFNClient({}), stateMachineArn: config.STATE_MACHINE_ARN };

export const handler = lambdaChain<SQSEvent, SQSBatchResponse>().handler(
  sqsRecords(async (record, log) => {
    // An envelope that does not parse throws: the record fails and ends in the DLQ, where it can be inspected.
    const event = parseOrderEvent(record.body, ['OrderPlaced']);
    const outcome = await startSaga(deps, event);
    log.info(outcome === 'started' ? 'saga started' : 'saga already started', {
      orderId: event.detail.orderId,
    });
  }),
);
