import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { applyChunk, type ImportState, importStateSchema } from './import.ts';
import { ObjectStore } from './object-store.ts';
import { importTableConfig, settlementStep } from './step.ts';

const config = importTableConfig();
const deps = { doc: documentClient, tableName: config.tableName, store: new ObjectStore(config.bucket) };

/** One chunk of lines from the cursor's byte offset, each matched and recorded once; the state machine loops. */
export const handler = lambdaChain<ImportState, ImportState>()
  .use(settlementStep('ApplyChunk', importStateSchema))
  .handler((state) => applyChunk(deps, config, state));
