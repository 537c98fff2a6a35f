import { SFNClient } from '@aws-sdk/client-sfn';
import { ENV } from '#contracts/environment.ts';
import { parseOrderEvent } from '#functions/orders/events.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { recordLogger } from '#shared/logger.ts';
import { sqsBatchHandler } from '#shared/sqs.ts';
import * as z from '#shared/zod.ts';
import { startSaga } from './starter.ts';

const config = loadConfig(z.object({ [ENV.STATE_MACHINE_ARN]: requiredString(ENV.STATE_MACHINE_ARN) }));
const deps = { sfn: new SFNClient({}), stateMachineArn: config.STATE_MACHINE_ARN };

export const handler = sqsBatchHandler(async (record) => {
  // An envelope that does not parse throws: the record fails and ends in the DLQ, where it can be inspected.
  const event = parseOrderEvent(record.body, ['OrderPlaced']);
  const outcome = await startSaga(deps, event);
  recordLogger(event.detail.correlationId, { orderId: event.detail.orderId }).info(
    outcome === 'started' ? 'saga started' : 'saga already started',
  );
});
