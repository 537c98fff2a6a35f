import { lambdaChain } from '#shared/middleware/chain.ts';
import { type AssembledState, assembleFile, type ExportState, exportStateSchema } from './export.ts';
import { ObjectStore } from './object-store.ts';
import { exportConfig, settlementStep } from './step.ts';

const config = exportConfig();
const deps = { store: new ObjectStore(config.bucket) };

/** The parts in page order between a header and a trailer, then the manifest. */
export const handler = lambdaChain<ExportState, AssembledState>()
  .use(settlementStep('AssembleFile', exportStateSchema))
  .handler((state) => assembleFile(deps, state));
