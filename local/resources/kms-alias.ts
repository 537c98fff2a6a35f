import { z } from 'zod';
import { defineResource } from './module.ts';

/** `AWS::KMS::Alias` → an alias the runtime's KMS resolves to its key. */
export const kmsAlias = defineResource({
  types: ['AWS::KMS::Alias'],
  engine: 'resolves to its key in the runtime KMS',
  properties: z.looseObject({
    AliasName: z.string().startsWith('alias/'),
    TargetKeyId: z.string(),
  }),
  start({ properties }, { engines }) {
    engines.kms.registerAlias(properties.AliasName, properties.TargetKeyId);
  },
});
