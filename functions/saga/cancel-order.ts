import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { sagaStep } from '#shared/middleware/saga-step.ts';
import * as z from '#shared/zod.ts';
import { type CancellationResult, cancelOrder } from './outcome.ts';
import type { SagaInput } from './saga-state.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = lambdaChain<SagaInput, CancellationResult>()
  .use(sagaStep('CancelOrder'))
  .handler((input) => cancelOrder(deps, input.orderId, input.error));
