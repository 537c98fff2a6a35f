import { z } from 'zod';
import { defineResource } from './module.ts';

/**
 * `Custom::S3BucketNotifications` (what CDK synthesizes for a bucket's notifications, `eventBridgeEnabled` among them;
 * on AWS its inline handler calls PutBucketNotificationConfiguration) → the runtime's s3rver sends the bucket's object
 * events to the local EventBridge's default bus, in AWS's EventBridge S3 event shape, so a rule on `aws.s3`
 * "Object Created" starts its target as it would on AWS. Only the EventBridge destination runs locally: a bucket that
 * notifies a queue, a topic or a function directly stops the start with this resource's logical id.
 */
export const s3BucketNotifications = defineResource({
  types: ['Custom::S3BucketNotifications'],
  engine: "s3rver's object events → the local EventBridge default bus (EventBridgeConfiguration)",
  properties: z.looseObject({
    BucketName: z.string(),
    NotificationConfiguration: z.strictObject({
      EventBridgeConfiguration: z.looseObject({}).optional(),
    }),
  }),
  start({ properties }, { engines, account }) {
    if (!properties.NotificationConfiguration.EventBridgeConfiguration) return;
    engines.s3.sendEventsToEventBridge(properties.BucketName, (event) => {
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
