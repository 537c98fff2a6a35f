import { z } from 'zod';
import { cfnNumber, defineResource } from './module.ts';

const retryPolicy = z.looseObject({
  MaximumRetryAttempts: cfnNumber.optional(),
  MaximumEventAgeInSeconds: cfnNumber.optional(),
});

const target = z.looseObject({
  Id: z.string(),
  Arn: z.string(),
  RoleArn: z.string().optional(),
  Input: z.string().optional(),
  InputPath: z.string().optional(),
  InputTransformer: z
    .looseObject({ InputPathsMap: z.record(z.string(), z.string()).optional(), InputTemplate: z.string() })
    .optional(),
  SqsParameters: z.looseObject({ MessageGroupId: z.string().optional() }).optional(),
  RetryPolicy: retryPolicy.optional(),
  DeadLetterConfig: z.looseObject({ Arn: z.string().optional() }).optional(),
});

/** `AWS::Events::Rule` → the runtime's event-pattern matcher, delivering to the rule's targets. */
export const eventsRule = defineResource({
  types: ['AWS::Events::Rule'],
  engine: 'runtime event-pattern matcher delivering to targets',
  properties: z.looseObject({
    Name: z.string().optional(),
    EventBusName: z.string().optional(),
    // CloudFormation takes the pattern as an object or as its JSON text; the engine validates the pattern itself.
    EventPattern: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
    ScheduleExpression: z.string().optional(),
    State: z.string().optional(),
    Description: z.string().optional(),
    RoleArn: z.string().optional(),
    Targets: z.array(target).optional(),
  }),
  start({ logicalId, properties }, { names, engines, started }) {
    const rule = engines.events.registerRule(properties, names.physicalName(logicalId));
    started.rules.push(rule.name);
  },
});
