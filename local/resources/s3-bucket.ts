import { z } from 'zod';
import { defineResource } from './module.ts';

/**
 * `AWS::S3::Bucket` → a bucket in the runtime's s3rver (local/engines/s3.ts). Encryption, versioning, lifecycle and
 * public access settings are the deployed bucket's business: locally the objects are files under the data directory.
 */
export const s3Bucket = defineResource({
  types: ['AWS::S3::Bucket'],
  engine: 's3rver on the file system (objects under the runtime data directory)',
  properties: z.looseObject({ BucketName: z.string().optional() }),
  async start({ logicalId }, { names, engines, started }) {
    const name = names.physicalName(logicalId);
    await engines.s3.createBucket(name);
    started.buckets[logicalId] = name;
  },
});
