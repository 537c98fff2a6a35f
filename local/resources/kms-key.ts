import { z } from 'zod';
import { defineResource } from './module.ts';

/** `AWS::KMS::Key` → a key of the runtime's KMS engine (its key material is the runtime's own master key). */
export const kmsKey = defineResource({
  types: ['AWS::KMS::Key'],
  engine:
    "runtime KMS (GenerateDataKey, Encrypt, Decrypt with encryption context) under the runtime's own master key; other services' encryption at rest is not emulated",
  // Nothing of the key's properties has a local meaning: policy, rotation and spec are AWS-side settings.
  properties: z.looseObject({}),
  start({ logicalId, resource }, { names, engines }) {
    engines.kms.registerKey({
      keyId: names.ref(logicalId, resource),
      arn: String(names.getAtt(logicalId, resource, 'Arn')),
    });
  },
});
