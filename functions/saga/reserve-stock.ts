import { ENV } from '#contracts/environment.ts';
import { loadConfig, requiredString } from '#shared/config.ts';
import { documentClient } from '#shared/dynamodb.ts';
import * as z from '#shared/zod.ts';
import { sagaStep } from './step.ts';
import { reserveStock } from './stock.ts';

const config = loadConfig(z.object({ [ENV.TABLE_NAME]: requiredString(ENV.TABLE_NAME) }));
const deps = { doc: documentClient, tableName: config.TABLE_NAME };

export const handler = sagaStep('ReserveStock', (input) => reserveStock(deps, input.orderId));
