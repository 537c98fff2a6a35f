import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { type ExportState, planExport, type StartInput, startInputSchema } from './export.ts';
import { settlementConfig, settlementStep } from './step.ts';

const config = settlementConfig();
const deps = { doc: documentClient, tableName: config.tableName };

/** First state: the business date (the day before the schedule fired, or the operator's), its index windows. */
export const handler = lambdaChain<StartInput, ExportState>()
  .use(settlementStep('PlanExport', startInputSchema))
  .handler((input) => planExport(deps, config, input));
