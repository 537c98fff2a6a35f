import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { type ExportState, exportPage, exportStateSchema } from './export.ts';
import { ObjectStore } from './object-store.ts';
import { settlementConfig, settlementStep } from './step.ts';

const config = settlementConfig();
const deps = { doc: documentClient, tableName: config.tableName, store: new ObjectStore(config.bucket) };

/** One page of the day's terminal orders → part file `cursor.page`; the state machine loops until `done`. */
export const handler = lambdaChain<ExportState, ExportState>()
  .use(settlementStep('ExportPage', exportStateSchema))
  .handler((state) => exportPage(deps, config, state));
