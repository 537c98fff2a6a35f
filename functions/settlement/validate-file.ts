import { lambdaChain } from '#shared/middleware/chain.ts';
import { type ImportState, importStateSchema, validateFile } from './import.ts';
import { ObjectStore } from './object-store.ts';
import { importConfig, settlementStep } from './step.ts';

const config = importConfig();
const deps = { store: new ObjectStore(config.bucket) };

/** The whole file checked before anything is applied; bad lines make the error report. */
export const handler = lambdaChain<ImportState, ImportState>()
  .use(settlementStep('ValidateFile', importStateSchema))
  .handler((state) => validateFile(deps, config, state));
