import { z } from 'zod';
import { defineResource } from './module.ts';

/** `AWS::SecretsManager::Secret` → a secret of the local Secrets Manager (local/engines/secrets.ts). */
export const secretsManagerSecret = defineResource({
  types: ['AWS::SecretsManager::Secret'],
  engine: 'runtime Secrets Manager (in memory; GetSecretValue, PutSecretValue)',
  properties: z.looseObject({
    Name: z.string().optional(),
    SecretString: z.string().optional(),
    GenerateSecretString: z.looseObject({}).optional(),
  }),
  start({ logicalId, resource, properties }, { names, engines, started }) {
    const name = names.physicalName(logicalId);
    const arn = names.ref(logicalId, resource);
    engines.secrets.register(name, arn, properties.SecretString);
    started.secrets[logicalId] = name;
  },
});
