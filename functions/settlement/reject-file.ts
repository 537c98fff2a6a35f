import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { type ImportState, importStateSchema, rejectFile } from './import.ts';
import { ObjectStore } from './object-store.ts';
import { importTableConfig, settlementStep } from './step.ts';

const config = importTableConfig();
const deps = { doc: documentClient, tableName: config.tableName, store: new ObjectStore(config.bucket) };

/** A duplicate or invalid file to failed/ with its error report; nothing of it was applied. */
export const handler = lambdaChain<ImportState, ImportState>()
  .use(settlementStep('RejectFile', importStateSchema))
  .handler((state) => rejectFile(deps, state));
