import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { finishFile, type ImportState, importStateSchema } from './import.ts';
import { ObjectStore } from './object-store.ts';
import { importTableConfig, settlementStep } from './step.ts';

const config = importTableConfig();
const deps = { doc: documentClient, tableName: config.tableName, store: new ObjectStore(config.bucket) };

/** Last state: the file to processed/, its claim marked PROCESSED. */
export const handler = lambdaChain<ImportState, ImportState>()
  .use(settlementStep('FinishFile', importStateSchema))
  .handler((state) => finishFile(deps, state));
