import { z } from 'zod';
import { createQueueFromCfn } from '#local/engines/sqs.ts';
import { cfnBoolean, defineResource } from './module.ts';

/** A policy CloudFormation takes either as an object or as its JSON text. */
const policy = z.union([z.string(), z.record(z.string(), z.unknown())]);

/** `AWS::SQS::Queue` → a queue in local-aws-sqs (the engine maps the remaining attributes). */
export const sqsQueue = defineResource({
  types: ['AWS::SQS::Queue'],
  engine: 'local-aws-sqs (redrive to DLQ, FIFO, message move tasks)',
  properties: z.looseObject({
    FifoQueue: cfnBoolean.optional(),
    RedrivePolicy: policy.optional(),
    RedriveAllowPolicy: policy.optional(),
  }),
  async start({ logicalId, properties }, { names, engines, started }) {
    const name = names.physicalName(logicalId);
    const queue = await createQueueFromCfn(engines.sqs, name, properties);
    started.queues[logicalId] = { logicalId, name, url: queue.queueUrl, arn: queue.queueArn };
  },
});
