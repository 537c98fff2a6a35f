import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS } from '#contracts/metrics.ts';
import { documentClient } from '#shared/dynamodb.ts';
import { metrics } from '#shared/metrics.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { type ImportState, importStateSchema, reconcileFile } from './import.ts';
import { ObjectStore } from './object-store.ts';
import { importTableConfig, settlementStep } from './step.ts';

const config = importTableConfig();
const deps = { doc: documentClient, tableName: config.tableName, store: new ObjectStore(config.bucket) };

/** The reconciliation report to reports/, and its mismatch count as a metric (the SettlementMismatches alarm). */
export const handler = lambdaChain<ImportState, ImportState>()
  .use(settlementStep('ReconcileFile', importStateSchema))
  .handler(async (state) => {
    const { mismatchCount, ...reconciled } = await reconcileFile(deps, config, state);
    metrics.addMetric(METRICS.SettlementMismatches, MetricUnit.Count, mismatchCount);
    return reconciled;
  });
