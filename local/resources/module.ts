/**
 * What a template resource type needs to run locally: the properties it reads (a zod schema, so a property the
 * runtime cannot honour stops the start with the resource's logical id instead of surfacing later as a strange
 * engine error) and how the parsed properties become part of an engine. The support table is derived from these
 * modules, so what the runtime claims to run and what it runs cannot drift.
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import type { PollerTuning } from '#local/engines/event-source-mappings.ts';
import type { EventBridgeEngine } from '#local/engines/eventbridge/bus.ts';
import type { Gateway } from '#local/engines/gateway.ts';
import type { LocalJwtIssuer } from '#local/engines/http-api/jwt.ts';
import type { KmsEngine } from '#local/engines/kms.ts';
import type { LambdaService } from '#local/engines/lambda/service.ts';
import type { StreamPositionStore } from '#local/engines/pollers/positions.ts';
import type { S3Engine } from '#local/engines/s3.ts';
import type { Scheduler } from '#local/engines/scheduler.ts';
import type { SecretsEngine } from '#local/engines/secrets.ts';
import type { QueueSignals } from '#local/engines/sqs-doorbell.ts';
import type { StepFunctionsEngine } from '#local/engines/stepfunctions/engine.ts';
import type { CloudAssembly } from '#local/template/assembly.ts';
import type { LocalNames } from '#local/template/naming.ts';
import type { CfnResource, LocalAccount, RuntimeLogger } from '#local/types.ts';

/** A queue as the runtime created it. */
export interface LocalQueue {
  logicalId: string;
  name: string;
  url: string;
  arn: string;
}

/** What came up, by logical id: the runtime's description is built from it. */
export interface StartedResources {
  tables: Record<string, string>;
  queues: Record<string, LocalQueue>;
  stateMachines: Record<string, string>;
  functions: Record<string, string>;
  httpApis: Record<string, string>;
  rules: string[];
  schedules: string[];
  /** S3 bucket names by logical id. */
  buckets: Record<string, string>;
  /** Secrets Manager secret names by logical id. */
  secrets: Record<string, string>;
  /**
   * By API base URL: a token its JWT routes accept, signed by the runtime in place of the issuer (a Cognito user
   * pool), for a local user in every group of the template's user pools.
   */
  jwtTokens: Record<string, string>;
}

export interface LocalEngines {
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  /** Rings when a local queue may have a message to receive: SQS pollers wait for it instead of spinning. */
  queueSignals: QueueSignals;
  lambda: LambdaService;
  events: EventBridgeEngine;
  scheduler: Scheduler;
  stepFunctions: StepFunctionsEngine;
  kms: KmsEngine;
  s3: S3Engine;
  secrets: SecretsEngine;
  /** The runtime's AWS-protocol endpoint (`endpoints.gateway`): modules register the services they serve there. */
  gateway: Pick<Gateway, 'registerService' | 'registerRestJsonService'>;
}

/** The running engines and the template's names, as every resource module sees them. */
export interface StartContext {
  account: LocalAccount;
  logger: RuntimeLogger;
  assembly: CloudAssembly;
  names: LocalNames;
  engines: LocalEngines;
  started: StartedResources;
  /** The local queue with this ARN (created earlier: queues come before what reads them). */
  queueByArn(arn: string): LocalQueue | undefined;
  /** Port and URL of the HTTP API with this logical id. */
  httpApiPort(logicalId: string): number;
  httpApiUrl(logicalId: string): string;
  /** Credentials that AWS_IAM routes accept: the ones the functions sign with. */
  iamCredentials: Array<{ accessKeyId: string; secretAccessKey: string }>;
  pollerTuning?: Partial<PollerTuning>;
  /** Where stream event source mappings keep their shard positions (`persistDir` only). */
  streamPositions?: StreamPositionStore;
  /** The clock of the HTTP APIs' authorizer caches (`RuntimeOptions.gatewayClock`). */
  gatewayClock?: () => number;
  /** Signs and checks JWT routes' tokens in place of their issuer. @default none: JWT routes answer 500 */
  jwtIssuer?: LocalJwtIssuer;
  /** Stops `stop` with the runtime (in reverse order of registration). */
  onStop(name: string, stop: () => Promise<void>): void;
}

/** One template resource with its properties parsed by its module's schema. */
export interface LocalResource<P> {
  logicalId: string;
  resource: CfnResource;
  properties: P;
}

export interface ResourceModuleSpec<P> {
  /** The template resource types this module runs. */
  types: readonly string[];
  /** The local engine, as the support table and the start-up summary name it. */
  engine: string;
  /** The properties the module reads, after intrinsic resolution. Unknown keys pass through to the engine. */
  properties: z.ZodType<P>;
  /** Brings one resource up; resources come in dependency order. */
  start?(resource: LocalResource<P>, context: StartContext): Promise<void> | void;
  /**
   * Brings this module's resources up together, after every `start`: consumers (event source mappings) start last,
   * when every queue, function and bus they feed exists, and an HTTP API is assembled from several resources.
   */
  startAll?(resources: Array<LocalResource<P>>, context: StartContext): Promise<void> | void;
}

export interface ResourceModule<P = unknown> extends ResourceModuleSpec<P> {
  /** Parses a resource's resolved properties; a property of the wrong shape throws `ResourcePropertiesError`. */
  parse(logicalId: string, resource: CfnResource, properties: unknown): LocalResource<P>;
}

/** A resource's properties do not have the shape its local engine reads; the message names the logical id. */
export class ResourcePropertiesError extends Error {
  override name = 'ResourcePropertiesError';
  readonly logicalId: string;

  constructor(logicalId: string, type: string, issues: string[]) {
    super(`${type} ${logicalId}: ${issues.join('; ')}`);
    this.logicalId = logicalId;
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `Properties.${issue.path.map(String).join('.')}` : 'Properties';
  return `${where}: ${issue.message}`;
}

export function defineResource<P>(spec: ResourceModuleSpec<P>): ResourceModule<P> {
  return {
    ...spec,
    parse(logicalId, resource, properties) {
      const result = spec.properties.safeParse(properties ?? {});
      if (!result.success) {
        throw new ResourcePropertiesError(logicalId, resource.Type, result.error.issues.map(describeIssue));
      }
      return { logicalId, resource, properties: result.data };
    },
  };
}

/**
 * CloudFormation takes numbers and booleans as strings too (`"5"`, `"true"`), and templates use both forms, so the
 * schemas do as well.
 */
export const cfnNumber = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/, 'a number')
    .transform(Number),
]);

export const cfnBoolean = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((value) => value === 'true'),
]);

/**
 * What an engine's definition reader takes from a module's parts: the parts as resources with their resolved
 * properties, by logical id, and the template resource behind any logical id (to ask the names for its `Ref`).
 */
export function resolvedParts(
  parts: ReadonlyArray<LocalResource<Record<string, unknown>>>,
  context: Pick<StartContext, 'assembly'>,
): { resources: Record<string, CfnResource>; resourceOf(logicalId: string): CfnResource } {
  const resources: Record<string, CfnResource> = {};
  for (const { logicalId, resource, properties } of parts) {
    resources[logicalId] = { ...resource, Properties: properties };
  }
  return {
    resources,
    resourceOf(logicalId) {
      const resource = context.assembly.template.Resources[logicalId];
      if (!resource) throw new Error(`no resource ${logicalId}`);
      return resource;
    },
  };
}

/** Properties the engine reads itself, with its own property reader (`#local/template/props.ts`). */
export const engineReadProperties = z.record(z.string(), z.unknown());
