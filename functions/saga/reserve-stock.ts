import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { sagaStep } from '#shared/middleware/saga-step.ts';
import * as z from '#shared/zod.ts';
import type { SagaInput } from './saga-state.ts';
import { type ReservationResult, reserveStock } from './stock.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = lambdaChain<SagaInput, ReservationResult>()
  .use(sagaStep('ReserveStock'))
  .handler((input) => reserveStock(deps, input.orderId));
