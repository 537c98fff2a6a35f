import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { documentClient } from '#shared/dynamodb.ts';
import { lambdaChain } from '#shared/middleware/chain.ts';
import { type DeliveryResult, deliverFile } from './deliver.ts';
import { type AssembledState, assembledStateSchema, partnerNamed } from './export.ts';
import { ObjectStore } from './object-store.ts';
import { settlementConfig, settlementStep } from './step.ts';

const config = settlementConfig();
const deps = {
  doc: documentClient,
  tableName: config.tableName,
  store: new ObjectStore(config.bucket),
  secrets: new SecretsManagerClient({}),
};

/** SFTP to the partner under a temporary name, then the rename; once per date unless `resend`. */
export const handler = lambdaChain<AssembledState, DeliveryResult>()
  .use(settlementStep('DeliverFile', assembledStateSchema))
  .handler((state) => deliverFile(deps, partnerNamed(config, state.partner), state));
