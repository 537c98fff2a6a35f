/**
 * Where the operator CLI finds the system it works on, and the SDK clients it talks to it with.
 *
 * - Local: `.buzzer/runtime.json`, written by `npm start` (endpoints, credentials, stack outputs, queues by logical id).
 * - AWS: `--stack <name>`: the stack's outputs (DescribeStacks) and, for each queue named there, its physical id
 *   (DescribeStackResources by logical id; an SQS queue's physical id is its URL).
 *
 * Queues are never typed by hand: the stack's `OperatorQueues` output maps short aliases (`notify`, `relay`, …) to the
 * logical ids of each dead-letter queue and its source queue (lib/constructs/operations.ts).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RecoveryDeps, WorkflowType } from '#functions/operations/recovery.ts';
import { objectStoreClient } from '#functions/settlement/object-store.ts';
import * as z from '#shared/zod.ts';
import type { UsagePlanKeys } from './usage-plans.ts';

/** Read when discovering a local runtime only: in the operator API's Lambda bundle (CommonJS) import.meta is empty. */
const projectRoot = () => path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Something the operator must fix before the CLI can work (no runtime, no such stack, unknown alias…). */
export class OperatorError extends Error {
  override name = 'OperatorError';
}

export interface QueueEndpoint {
  logicalId: string;
  url: string;
  arn: string;
}

export interface OperatorQueue {
  alias: string;
  dlq: QueueEndpoint;
  /** The queue whose failures land in the DLQ; absent when a function or a schedule feeds it directly. */
  source?: QueueEndpoint;
  /** The source (work) queue's age alarm threshold: an oldest message older than this needs attention. */
  maxAgeSeconds?: number;
}

export interface OpsTarget {
  kind: 'local' | 'aws';
  stackName: string;
  region: string;
  tableName: string;
  stateMachineArn: string;
  /** The settlement export's state machine (`SettlementStateMachineArn` output; absent on an older stack). */
  settlementStateMachineArn?: string;
  /** The settlement import's state machine (`SettlementImportStateMachineArn` output; absent on an older stack). */
  settlementImportStateMachineArn?: string;
  /** The bucket of the inbound settlement files (`SettlementInboxBucketName` output): files go under `inbox/`. */
  settlementInboxBucket?: string;
  eventBusName: string;
  queues: OperatorQueue[];
  /** Local: the runtime's gateway, which serves its EMF metrics (`buzzer metrics`). */
  metricsEndpoint?: string;
  /** The stack's CloudWatch dashboard (`DashboardName` output). */
  dashboardName?: string;
  /** The client API's flavour (`ApiFlavour` output; a stack older than the output is `http`). */
  apiFlavour: 'http' | 'rest';
  /** REST flavour: the usage plans by tier (`ClientUsagePlans` output), which client keys are attached to. */
  usagePlanIds?: Record<string, string>;
  /** Local: where the runtime serves API Gateway's management calls (`AWS_ENDPOINT_URL_API_GATEWAY`). */
  apiGatewayEndpoint?: string;
}

/** The client API flavour and usage plans a stack's outputs describe. */
export function apiOfOutputs(
  outputs: Record<string, unknown>,
  where: string,
): Pick<OpsTarget, 'apiFlavour' | 'usagePlanIds'> {
  if (outputs.ApiFlavour !== 'rest') return { apiFlavour: 'http' };
  const raw = outputString(outputs, 'ClientUsagePlans', where);
  try {
    return { apiFlavour: 'rest', usagePlanIds: z.record(z.string(), z.string()).parse(JSON.parse(raw)) };
  } catch (error) {
    throw new OperatorError(
      `${where}: the ClientUsagePlans output is not the expected JSON (${String(error)})`,
    );
  }
}

export interface OpsClients {
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  sfn: SFNClient;
  eventBridge: EventBridgeClient;
  /** S3 (`buzzer batch drop`); absent: the SDK's default client for the region is made when needed. */
  s3?: S3Client;
  /**
   * DynamoDB Streams (`buzzer relay replay` reads back the stream batches the relay's mapping gave up on); absent:
   * `streamsClient` makes it from `streamsConfig` the first time it is needed, and `close()` destroys it then.
   */
  streams?: DynamoDBStreamsClient;
  /** Where `streams` is made from: the DynamoDB settings. @default the SDK's (region from the environment) */
  streamsConfig?: ClientConfig;
}

/** The DynamoDB Streams client of `clients`, made on first use (most commands never read a stream). */
export function streamsClient(clients: OpsClients): DynamoDBStreamsClient {
  clients.streams ??= new DynamoDBStreamsClient(clients.streamsConfig ?? {});
  return clients.streams;
}

export interface OpsContext {
  target: OpsTarget;
  clients: OpsClients;
  /** REST flavour: API Gateway API keys of the clients (tests inject one; else made from the target when needed). */
  usagePlanKeys?: UsagePlanKeys;
  /** Progress of long work, for humans (stderr); silent in tests and with --json unless asked. */
  progress(message: string): void;
  close(): void;
}

/** What `npm start` writes (a subset, validated: the file is read by another process, maybe another version). */
const runtimeFileSchema = z.object({
  pid: z.number().optional(),
  stackName: z.string(),
  outputs: z.record(z.string(), z.unknown()),
  queues: z.record(z.string(), z.object({ logicalId: z.string(), url: z.string(), arn: z.string() })),
  clientEnvironment: z.record(z.string(), z.string()),
  endpoints: z.object({ gateway: z.string().optional() }).optional(),
});
export type RuntimeFile = z.infer<typeof runtimeFileSchema>;

const operatorQueuesSchema = z.record(
  z.string(),
  z.object({ dlq: z.string(), source: z.string().optional(), maxAgeSeconds: z.number().optional() }),
);

/** `value`, the stack's `key` output, or an OperatorError saying the stack at `where` predates it. */
export function requiredOutput(value: unknown, key: string, where: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new OperatorError(
      `${where} has no ${key} output: deploy (or start) the current version of the stack`,
    );
  }
  return value;
}

function outputString(outputs: Record<string, unknown>, key: string, where: string): string {
  return requiredOutput(outputs[key], key, where);
}

function settlementOf(
  outputs: Record<string, unknown>,
): Pick<
  OpsTarget,
  'settlementStateMachineArn' | 'settlementImportStateMachineArn' | 'settlementInboxBucket'
> {
  const arn = outputs.SettlementStateMachineArn;
  const importArn = outputs.SettlementImportStateMachineArn;
  const inbox = outputs.SettlementInboxBucketName;
  return {
    ...(typeof inbox === 'string' && inbox !== '' ? { settlementInboxBucket: inbox } : {}),
    ...(typeof arn === 'string' && arn !== '' ? { settlementStateMachineArn: arn } : {}),
    ...(typeof importArn === 'string' && importArn !== ''
      ? { settlementImportStateMachineArn: importArn }
      : {}),
  };
}

function operatorQueueIds(outputs: Record<string, unknown>, where: string) {
  const raw = outputString(outputs, 'OperatorQueues', where);
  try {
    return operatorQueuesSchema.parse(JSON.parse(raw));
  } catch (error) {
    throw new OperatorError(
      `${where}: the OperatorQueues output is not the expected JSON (${String(error)})`,
    );
  }
}

/** A target from a running local runtime's description (runtime.json, or `runtime.info` in tests). */
export function targetFromRuntime(runtime: RuntimeFile): OpsTarget {
  const where = 'the local runtime';
  const queue = (logicalId: string): QueueEndpoint => {
    const found = runtime.queues[logicalId];
    if (!found) throw new OperatorError(`${where} runs no queue ${logicalId}`);
    return { logicalId, url: found.url, arn: found.arn };
  };
  const ids = operatorQueueIds(runtime.outputs, where);
  const dashboardName = runtime.outputs.DashboardName;
  return {
    kind: 'local',
    stackName: runtime.stackName,
    region: runtime.clientEnvironment.AWS_REGION ?? 'us-east-1',
    tableName: outputString(runtime.outputs, 'TableName', where),
    stateMachineArn: outputString(runtime.outputs, 'StateMachineArn', where),
    ...settlementOf(runtime.outputs),
    eventBusName: outputString(runtime.outputs, 'EventBusName', where),
    queues: Object.entries(ids).map(([alias, { dlq, source, maxAgeSeconds }]) => ({
      alias,
      dlq: queue(dlq),
      ...(source ? { source: queue(source) } : {}),
      ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
    })),
    ...(runtime.endpoints?.gateway ? { metricsEndpoint: runtime.endpoints.gateway } : {}),
    ...(typeof dashboardName === 'string' && dashboardName !== '' ? { dashboardName } : {}),
    ...apiOfOutputs(runtime.outputs, where),
    ...(runtime.clientEnvironment.AWS_ENDPOINT_URL_API_GATEWAY
      ? { apiGatewayEndpoint: runtime.clientEnvironment.AWS_ENDPOINT_URL_API_GATEWAY }
      : {}),
  };
}

/** SDK clients pointed at the local runtime (its endpoints and credentials), never at AWS. */
export function clientsForRuntime(runtime: Pick<RuntimeFile, 'clientEnvironment'>): OpsClients {
  const env = runtime.clientEnvironment;
  const endpoint = (name: string): string => {
    const value = env[name];
    if (!value) throw new OperatorError(`the local runtime did not say where ${name} is`);
    return value;
  };
  const config = {
    region: env.AWS_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'local',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  };
  const dynamodb = { ...config, endpoint: endpoint('AWS_ENDPOINT_URL_DYNAMODB') };
  const clients = makeClients({
    dynamodb,
    // DynamoDB Local serves the streams API too; the runtime names it apart, as its DynamoDB endpoint may be metered.
    streams: { ...dynamodb, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS ?? dynamodb.endpoint },
    sqs: { ...config, endpoint: endpoint('AWS_ENDPOINT_URL_SQS') },
    sfn: { ...config, endpoint: endpoint('AWS_ENDPOINT_URL_SFN') },
    eventBridge: { ...config, endpoint: endpoint('AWS_ENDPOINT_URL_EVENTBRIDGE') },
  });
  return env.AWS_ENDPOINT_URL_S3 ? { ...clients, s3: objectStoreClient(env) } : clients;
}

export interface ClientConfig {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

function makeClients(
  config: Record<'dynamodb' | 'sqs' | 'sfn' | 'eventBridge', ClientConfig> & { streams?: ClientConfig },
): OpsClients {
  return {
    doc: DynamoDBDocumentClient.from(new DynamoDBClient(config.dynamodb), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    sqs: new SQSClient(config.sqs),
    sfn: new SFNClient(config.sfn),
    eventBridge: new EventBridgeClient(config.eventBridge),
    streamsConfig: config.streams ?? config.dynamodb,
  };
}

function closeClients(clients: OpsClients): void {
  clients.doc.destroy();
  clients.sqs.destroy();
  clients.sfn.destroy();
  clients.eventBridge.destroy();
  clients.s3?.destroy();
  clients.streams?.destroy();
}

export function contextFor(
  target: OpsTarget,
  clients: OpsClients,
  progress: (message: string) => void = () => {},
): OpsContext {
  return { target, clients, progress, close: () => closeClients(clients) };
}

/** `arn:aws:sqs:<region>:<account>:<name>` of a queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`). */
export function queueArnFromUrl(url: string, region: string, partition: string): string {
  const [, account, name] = new URL(url).pathname.split('/');
  if (!account || !name) throw new OperatorError(`${url} is not an SQS queue URL`);
  return `arn:${partition}:sqs:${region}:${account}:${name}`;
}

/** A target from a deployed CloudFormation stack. */
export async function targetFromStack(stackName: string, region: string): Promise<OpsTarget> {
  const cfn = new CloudFormationClient({ region });
  try {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stackName })).catch((error) => {
      throw new OperatorError(`cannot describe stack ${stackName} in ${region}: ${String(error)}`);
    });
    const stack = Stacks?.[0];
    if (!stack) throw new OperatorError(`no stack ${stackName} in ${region}`);
    const outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue]));
    const where = `stack ${stackName}`;
    const stateMachineArn = outputString(outputs, 'StateMachineArn', where);
    const partition = stateMachineArn.split(':')[1] ?? 'aws';
    const queue = async (logicalId: string): Promise<QueueEndpoint> => {
      // One logical id per call: DescribeStackResources answers at most 100 resources for a whole stack.
      const { StackResources } = await cfn.send(
        new DescribeStackResourcesCommand({ StackName: stackName, LogicalResourceId: logicalId }),
      );
      const url = StackResources?.[0]?.PhysicalResourceId;
      if (!url) throw new OperatorError(`${where} has no queue ${logicalId}`);
      return { logicalId, url, arn: queueArnFromUrl(url, region, partition) };
    };
    const ids = operatorQueueIds(outputs, where);
    const queues = await Promise.all(
      Object.entries(ids).map(async ([alias, { dlq, source, maxAgeSeconds }]) => ({
        alias,
        dlq: await queue(dlq),
        ...(source ? { source: await queue(source) } : {}),
        ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
      })),
    );
    return {
      kind: 'aws',
      stackName,
      region,
      tableName: outputString(outputs, 'TableName', where),
      stateMachineArn,
      ...settlementOf(outputs),
      eventBusName: outputString(outputs, 'EventBusName', where),
      queues,
      ...(outputs.DashboardName ? { dashboardName: outputs.DashboardName } : {}),
      ...apiOfOutputs(outputs, where),
    };
  } finally {
    cfn.destroy();
  }
}

export function clientsForAws(region: string): OpsClients {
  const config = { region };
  return makeClients({ dynamodb: config, sqs: config, sfn: config, eventBridge: config });
}

export interface DiscoveryOptions {
  /** A deployed stack's name: work on AWS. */
  stack?: string;
  region?: string;
  /** Path of the local runtime's discovery file. @default .buzzer/runtime.json (here, then in the project) */
  runtimeFile?: string;
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readRuntimeFile(file: string): Promise<RuntimeFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new OperatorError(
      `no running local Buzzer (${file} not found): start it with npm start, or pass --stack`,
    );
  }
  const parsed = runtimeFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new OperatorError(`${file} is not a Buzzer runtime description`);
  if (!isAlive(parsed.data.pid)) {
    throw new OperatorError(`${file} describes a runtime that is no longer running (pid ${parsed.data.pid})`);
  }
  return parsed.data;
}

/** The default discovery of the `buzzer` command: `--stack` means AWS, otherwise the running local runtime. */
export async function discover(
  options: DiscoveryOptions,
  progress: (message: string) => void,
): Promise<OpsContext> {
  if (options.stack) {
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) throw new OperatorError('--stack needs a region: pass --region or set AWS_REGION');
    const target = await targetFromStack(options.stack, region);
    return contextFor(target, clientsForAws(region), progress);
  }
  const candidates = options.runtimeFile
    ? [path.resolve(options.runtimeFile)]
    : [path.resolve('.buzzer', 'runtime.json'), path.join(projectRoot(), '.buzzer', 'runtime.json')];
  const file =
    candidates.find((candidate) => existsSync(candidate)) ?? candidates[0] ?? '.buzzer/runtime.json';
  const runtime = await readRuntimeFile(file);
  return contextFor(targetFromRuntime(runtime), clientsForRuntime(runtime), progress);
}

/** Resolves `<queue>` (an alias, a unique prefix or word of one, or a logical id) to its queues. */
export function resolveQueue(target: OpsTarget, name: string): OperatorQueue {
  const wanted = name.trim().toLowerCase();
  const exact = target.queues.find(
    (q) =>
      q.alias === wanted ||
      q.dlq.logicalId.toLowerCase() === wanted ||
      q.source?.logicalId.toLowerCase() === wanted,
  );
  if (exact) return exact;
  // A prefix (`saga`) or whole words anywhere in the alias (`relay` of `outbox-relay`, `fan-out`).
  const loose = target.queues.filter(
    (q) => q.alias.startsWith(wanted) || `-${q.alias}-`.includes(`-${wanted}-`),
  );
  if (loose.length === 1 && loose[0]) return loose[0];
  const known = target.queues.map((q) => q.alias).join(', ');
  throw new OperatorError(
    loose.length > 1
      ? `"${name}" could be ${loose.map((q) => q.alias).join(' or ')}; say which`
      : `no queue "${name}"; known: ${known}`,
  );
}

/** What the shared recovery logic needs; the workflow type comes from the state machine itself. */
export async function recoveryDeps(ctx: OpsContext): Promise<RecoveryDeps> {
  const { type } = await ctx.clients.sfn.send(
    new DescribeStateMachineCommand({ stateMachineArn: ctx.target.stateMachineArn }),
  );
  const workflowType: WorkflowType = type === 'EXPRESS' ? 'EXPRESS' : 'STANDARD';
  return {
    doc: ctx.clients.doc,
    tableName: ctx.target.tableName,
    sfn: ctx.clients.sfn,
    stateMachineArn: ctx.target.stateMachineArn,
    workflowType,
  };
}
