import { z } from 'zod';
import { cfnNumber, defineResource } from './module.ts';

/** `AWS::Scheduler::Schedule` → the runtime's scheduler invoking the target (`--reconcile-every` compresses it). */
export const schedulerSchedule = defineResource({
  types: ['AWS::Scheduler::Schedule'],
  engine: 'runtime scheduler invoking the target',
  properties: z.looseObject({
    Name: z.string().optional(),
    GroupName: z.string().optional(),
    ScheduleExpression: z.string(),
    ScheduleExpressionTimezone: z.string().optional(),
    State: z.string().optional(),
    StartDate: z.string().optional(),
    EndDate: z.string().optional(),
    FlexibleTimeWindow: z
      .looseObject({ Mode: z.string(), MaximumWindowInMinutes: cfnNumber.optional() })
      .optional(),
    Target: z.looseObject({
      Arn: z.string(),
      RoleArn: z.string().optional(),
      Input: z.string().optional(),
      RetryPolicy: z
        .looseObject({
          MaximumRetryAttempts: cfnNumber.optional(),
          MaximumEventAgeInSeconds: cfnNumber.optional(),
        })
        .optional(),
      DeadLetterConfig: z.looseObject({ Arn: z.string().optional() }).optional(),
      SqsParameters: z.looseObject({ MessageGroupId: z.string().optional() }).optional(),
      EventBridgeParameters: z.looseObject({ DetailType: z.string(), Source: z.string() }).optional(),
    }),
  }),
  start({ logicalId, properties }, { names, engines, started }) {
    const schedule = engines.scheduler.registerSchedule(properties, names.physicalName(logicalId));
    started.schedules.push(schedule.name);
  },
});
