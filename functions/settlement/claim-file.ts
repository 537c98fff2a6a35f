import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { claimFile, type ImportState, type ObjectCreatedEvent, objectCreatedSchema } from './import.ts';
import { ObjectStore } from './object-store.ts';
import { importTableConfig, settlementStep } from './step.ts';

const config = importTableConfig();
const deps = { doc: documentClient, tableName: config.tableName, store: new ObjectStore(config.bucket) };

/** First state: the S3 event of a file in the inbox; claims its name and checksum once, moves it to work/. */
export const handler = lambdaChain<ObjectCreatedEvent, ImportState>()
  .use(settlementStep('ClaimFile', objectCreatedSchema))
  .handler((event) => claimFile(deps, config, event));
