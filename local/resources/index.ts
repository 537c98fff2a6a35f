/**
 * The resource modules the local runtime runs, in the order their `startAll` steps run: event source mappings
 * before the HTTP APIs, so an API never takes a request its consumers cannot see yet.
 */

import { restApi } from './apigateway.ts';
import { httpApi } from './apigatewayv2.ts';
import { dynamodbTable } from './dynamodb-table.ts';
import { eventBus } from './events-bus.ts';
import { eventsRule } from './events-rule.ts';
import { kmsAlias } from './kms-alias.ts';
import { kmsKey } from './kms-key.ts';
import { eventSourceMapping } from './lambda-event-source-mapping.ts';
import { lambdaFunction } from './lambda-function.ts';
import type { ResourceModule } from './module.ts';
import { s3Bucket } from './s3-bucket.ts';
import { schedulerSchedule } from './scheduler-schedule.ts';
import { secretsManagerSecret } from './secretsmanager-secret.ts';
import { sqsQueue } from './sqs-queue.ts';
import { stateMachine } from './stepfunctions-state-machine.ts';

export const RESOURCE_MODULES: readonly ResourceModule[] = [
  dynamodbTable,
  sqsQueue,
  s3Bucket,
  secretsManagerSecret,
  lambdaFunction,
  eventSourceMapping,
  eventBus,
  eventsRule,
  stateMachine,
  httpApi,
  restApi,
  schedulerSchedule,
  kmsKey,
  kmsAlias,
];

const MODULE_BY_TYPE = new Map<string, ResourceModule>(
  RESOURCE_MODULES.flatMap((module) => module.types.map((type) => [type, module] as const)),
);

/** The module that runs `type`, if any. */
export function moduleFor(type: string): ResourceModule | undefined {
  return MODULE_BY_TYPE.get(type);
}
