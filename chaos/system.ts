/**
 * The system a chaos run drives and checks: its URLs, an API key, and SDK clients for the table, the queues and the
 * state machines (for counting points, reading DLQs and redriving). It is either a runtime started in this process,
 * which also offers fault wrappers around the engines, or a running `npm start` found through `.buzzer/runtime.json`
 * (`--attach`), where only faults that can be set from outside (tokens, sandbox knobs) are available.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BuzzerDescription, BuzzerRuntime } from '#local/buzzer/start.ts';
import type { LocalQueue } from '#local/runtime.ts';
import { loadCloudAssembly } from '#local/template/assembly.ts';
import { type RequestAuthenticator, SigV4Authenticator, sigV4ForUrl } from '#shared/request-auth.ts';
import { type Topology, topologyOf } from './topology.ts';

export interface SystemUnderTest {
  apiUrl: string;
  sandboxUrl: string;
  /** Signs calls to the sandbox API, whose routes all require IAM. */
  sandboxAuth: RequestAuthenticator;
  clientId: string;
  apiKey: string;
  tableName: string;
  queues: Record<string, LocalQueue>;
  stateMachines: Record<string, string>;
  /** Function logical id → deployed function name. */
  functions: Record<string, string>;
  topology: Topology;
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  sfn: SFNClient;
  /** Present when the runtime runs in this process: fault wrappers around the engines. */
  runtime?: BuzzerRuntime;
  close(): void;
}

interface DiscoveryFile extends BuzzerDescription {
  clientEnvironment: Record<string, string>;
}

function clientsFor(env: Record<string, string>) {
  const config = {
    region: env.AWS_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'local',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  };
  const dynamodb = new DynamoDBClient({ ...config, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB });
  return {
    // The runtime's client credentials are those its functions sign with, which its sandbox API accepts.
    sandboxAuth: new SigV4Authenticator(config),
    dynamodb,
    doc: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    sqs: new SQSClient({ ...config, endpoint: env.AWS_ENDPOINT_URL_SQS }),
    sfn: new SFNClient({ ...config, endpoint: env.AWS_ENDPOINT_URL_SFN }),
  };
}

function describeSystem(
  info: BuzzerDescription,
  env: Record<string, string>,
  topology: Topology,
  clientId: string | undefined,
  runtime?: BuzzerRuntime,
): SystemUnderTest {
  const [chosenClient, apiKey] =
    Object.entries(info.apiKeys).find(([id]) => clientId === undefined || id === clientId) ?? [];
  if (!chosenClient || !apiKey) {
    throw new Error(`the runtime has no API key${clientId ? ` for client "${clientId}"` : ''}`);
  }
  const tableName = info.outputs.TableName;
  if (!info.apiUrl || !info.sandboxUrl || typeof tableName !== 'string') {
    throw new Error('the stack has no ApiUrl/SandboxUrl/TableName outputs: chaos needs the sandbox provider');
  }
  const { dynamodb, doc, sqs, sfn, sandboxAuth } = clientsFor(env);
  return {
    apiUrl: info.apiUrl,
    sandboxUrl: info.sandboxUrl,
    sandboxAuth: runtime?.sandboxAuth ?? sandboxAuth,
    clientId: chosenClient,
    apiKey,
    tableName,
    queues: info.queues,
    stateMachines: info.stateMachines,
    functions: info.functions,
    topology,
    doc,
    sqs,
    sfn,
    ...(runtime ? { runtime } : {}),
    close() {
      dynamodb.destroy();
      sqs.destroy();
      sfn.destroy();
    },
  };
}

/** A system around a runtime started in this process (its template is the one in `cdkOut`). */
export async function systemFromRuntime(
  runtime: BuzzerRuntime,
  cdkOut: string,
  clientId?: string,
): Promise<SystemUnderTest> {
  const assembly = await loadCloudAssembly(cdkOut, runtime.info.stackName);
  return describeSystem(
    runtime.info,
    runtime.clientEnvironment,
    topologyOf(assembly.template),
    clientId,
    runtime,
  );
}

/** A system around a running `npm start`, from the discovery file it writes. */
export async function attachToRunningSystem(
  projectRoot: string,
  clientId?: string,
): Promise<SystemUnderTest> {
  const file = path.join(projectRoot, '.buzzer', 'runtime.json');
  let discovery: DiscoveryFile;
  try {
    discovery = JSON.parse(await readFile(file, 'utf8')) as DiscoveryFile;
  } catch (error) {
    throw new Error(`cannot read ${file}: start the system with \`npm start\` first (${String(error)})`);
  }
  try {
    process.kill(discovery.pid, 0);
  } catch {
    throw new Error(
      `${file} names process ${discovery.pid}, which is not running: start \`npm start\` again`,
    );
  }
  const assembly = await loadCloudAssembly(path.join(projectRoot, 'cdk.out'), discovery.stackName);
  return describeSystem(discovery, discovery.clientEnvironment, topologyOf(assembly.template), clientId);
}

/**
 * A deployed stack (LocalStack or AWS), known by its stack outputs: the SDK clients use the default configuration
 * (credentials and `AWS_ENDPOINT_URL` from the environment). Queues are not among the outputs, so such a run waits for
 * effects instead of queue depths and cannot redrive DLQs; no engine fault wrappers either, so only outside faults apply.
 */
export function systemFromOutputs(options: {
  outputs: Record<string, string>;
  clientId: string;
  apiKey: string;
}): SystemUnderTest {
  const { outputs } = options;
  if (!outputs.ApiUrl || !outputs.SandboxUrl || !outputs.TableName) {
    throw new Error(
      'the stack outputs have no ApiUrl/SandboxUrl/TableName: chaos needs the sandbox provider',
    );
  }
  const dynamodb = new DynamoDBClient({});
  const sqs = new SQSClient({});
  const sfn = new SFNClient({});
  const sandboxUrl = outputs.SandboxUrl.replace(/\/+$/, '');
  return {
    apiUrl: outputs.ApiUrl.replace(/\/+$/, ''),
    sandboxUrl,
    sandboxAuth: sigV4ForUrl(sandboxUrl),
    clientId: options.clientId,
    apiKey: options.apiKey,
    tableName: outputs.TableName,
    queues: {},
    stateMachines: outputs.StateMachineArn ? { StateMachine: outputs.StateMachineArn } : {},
    functions: {},
    topology: { sqsConsumers: [], streamConsumers: [], stateMachineSteps: [], deadLetterSources: {} },
    doc: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    sqs,
    sfn,
    close() {
      dynamodb.destroy();
      sqs.destroy();
      sfn.destroy();
    },
  };
}

/**
 * The entry whose logical id is `name` plus the 8-character hash CDK appends (`NotifierQueue` finds
 * `NotifierQueue210FD83F`, not `NotifierQueueDlqD537F361`).
 */
export function byLogicalName<T>(record: Record<string, T>, name: string): T | undefined {
  const pattern = new RegExp(`^${name}([0-9A-F]{8})?$`);
  const id = Object.keys(record).find((candidate) => pattern.test(candidate));
  return id === undefined ? undefined : record[id];
}
