import { ENV } from '#contracts/environment.ts';
import { PaymentHeld } from '#functions/orders/errors.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { sagaStep } from '#shared/middleware/saga-step.ts';
import * as z from '#shared/zod.ts';
import { type ConfirmationResult, confirmOrder } from './outcome.ts';
import { isPaymentHeld, type SagaInput } from './saga-state.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = lambdaChain<SagaInput, ConfirmationResult>()
  .use(sagaStep('ConfirmOrder'))
  .handler(async (input) => {
    // The state machine sends a held order here too, and this error sends it to its wait (lib/constructs/saga.ts):
    // a Choice between AuthorizePayment and ConfirmOrder would be one more billed STANDARD transition on every
    // confirmed order, this check is one more invocation per wait, during an outage only. Before any read or write.
    if (isPaymentHeld(input)) throw new PaymentHeld(input.orderId);
    return confirmOrder(deps, input.orderId);
  });
