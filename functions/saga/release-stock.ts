import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { sagaStep } from '#shared/middleware/saga-step.ts';
import * as z from '#shared/zod.ts';
import type { CompensationResult, SagaInput } from './saga-state.ts';
import { releaseStock } from './stock.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = lambdaChain<SagaInput, CompensationResult>()
  .use(sagaStep('ReleaseStock'))
  .handler((input) => releaseStock(deps, input.orderId, input.error));
