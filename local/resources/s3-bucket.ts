import { z } from 'zod';
import { defineResource } from './module.ts';

/**
 * `AWS::S3::Bucket` → a bucket in the runtime's s3rver (local/engines/s3.ts). Encryption, versioning, lifecycle and
 * public access settings are the deployed bucket's business: locally the objects are files under the data directory.
 *
 * `NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled`: s3rver's object events go to the local
 * EventBridge's default bus in AWS's EventBridge S3 event shape (`source` `aws.s3`, `detail-type` `Object Created` /
 * `Object Deleted`), so a rule on them starts its target as on AWS. Direct notifications to a queue, topic or function
 * are not run locally: a bucket with one stops the start with its logical id.
 */
export const s3Bucket = defineResource({
  types: ['AWS::S3::Bucket'],
  engine:
    's3rver on the file system (objects under the runtime data directory); events to the local EventBridge',
  properties: z.looseObject({
    BucketName: z.string().optional(),
    NotificationConfiguration: z
      .strictObject({
        EventBridgeConfiguration: z
          .looseObject({ EventBridgeEnabled: z.union([z.boolean(), z.literal('true'), z.literal('false')]) })
          .optional(),
      })
      .optional(),
  }),
  async start({ logicalId, properties }, { names, engines, started, account }) {
    const name = names.physicalName(logicalId);
    await engines.s3.createBucket(name);
    started.buckets[logicalId] = name;
    const enabled = properties.NotificationConfiguration?.EventBridgeConfiguration?.EventBridgeEnabled;
    if (enabled !== true && enabled !== 'true') return;
    engines.s3.sendEventsToEventBridge(name, (event) => {
      engines.events.putServiceEvent({
        source: 'aws.s3',
        detailType: event.detailType,
        resources: [`arn:aws:s3:::${event.bucket}`],
        detail: {
          version: '0',
          bucket: { name: event.bucket },
          object: {
            key: event.key,
            ...(event.size === undefined ? {} : { size: event.size }),
            ...(event.etag ? { etag: event.etag } : {}),
            sequencer: event.sequencer,
          },
          'request-id': event.requestId,
          requester: account.accountId,
          'source-ip-address': event.sourceIp,
          reason: event.reason,
          ...(event.detailType === 'Object Deleted' ? { 'deletion-type': 'Permanently Deleted' } : {}),
        },
      });
    });
  },
});
