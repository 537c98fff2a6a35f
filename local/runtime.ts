/**
 * The local runtime: reads the synthesized CloudFormation template and brings every resource in it up on
 * 127.0.0.1 with real engines behind the real AWS SDK clients. Nothing about the topology is written here: tables,
 * queues, functions, rules, mappings, state machines, schedules and routes all come from the template.
 */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { authenticatedFetch, type RequestAuthenticator, SigV4Authenticator } from '#shared/request-auth.ts';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from './engines/dynamodb-local.ts';
import {
  type EventSourceMappingHandle,
  type PollerTuning,
  startEventSourceMapping,
} from './engines/event-source-mappings.ts';
import {
  createEventBridgeService,
  EVENTBRIDGE_TARGET,
  EventBridgeEngine,
} from './engines/eventbridge/bus.ts';
import { type TargetDeps, TargetDispatcher } from './engines/eventbridge/targets.ts';
import { startGateway } from './engines/gateway.ts';
import { collectHttpApis, type RunningHttpApi, startHttpApi } from './engines/http-api.ts';
import { createKmsService, KMS_TARGET, KmsEngine } from './engines/kms.ts';
import { LambdaService } from './engines/lambda/service.ts';
import type { RequestMeter } from './engines/metering.ts';
import { freePort, LOOPBACK } from './engines/ports.ts';
import { Scheduler } from './engines/scheduler.ts';
import { createQueueFromCfn, startSqs } from './engines/sqs.ts';
import { createStepFunctionsService, STEP_FUNCTIONS_TARGET } from './engines/stepfunctions/api.ts';
import { StepFunctionsEngine } from './engines/stepfunctions/engine.ts';
import { createTableFromCfn } from './engines/tables.ts';
import { formatFunctionLine } from './logging.ts';
import { createMetricsService, EmfStore, LOCAL_METRICS_TARGET } from './metrics/emf.ts';
import { writePrivateFile } from './private-file.ts';
import { DEMO_CATALOGUE, issueApiKeys, putStock } from './seed.ts';
import { synthesize } from './synth.ts';
import { type CloudAssembly, loadCloudAssembly } from './template/assembly.ts';
import { dependencyOrder } from './template/graph.ts';
import { type LocalEndpoints, LocalNames } from './template/naming.ts';
import { TemplateResolver } from './template/resolve.ts';
import { classifyResources, formatClassification, type ResourceClassification } from './template/support.ts';
import {
  type CfnResource,
  DEFAULT_ACCOUNT,
  type LocalAccount,
  type RuntimeLogger,
  silentLogger,
} from './types.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface RuntimeOptions {
  /** @default the repository root */
  projectRoot?: string;
  /** Cloud assembly directory, relative to the project root. @default 'cdk.out' */
  cdkOut?: string;
  /** Run `cdk synth` first (skipped when nothing changed since the last synthesis). @default true */
  synth?: boolean;
  /** CDK context for the synthesis, e.g. `{ workflowType: 'EXPRESS' }`. */
  context?: Record<string, string>;
  stackName?: string;
  /** Port of the first HTTP API (the client API); further APIs take the next ports. 0 = free ports. @default 3000 */
  apiPort?: number;
  /**
   * Keep DynamoDB tables, Step Functions executions and the local KMS master key (`kms/master.key`, mode 0600: data
   * sealed under it, such as webhook secrets, opens again after a restart) in this directory across restarts.
   */
  persistDir?: string;
  logger?: RuntimeLogger;
  /** Print the functions' own log lines. @default true */
  functionLogs?: boolean;
  /** Receives every function log line instead of the console (tests use it to keep output quiet or to assert). */
  functionLogSink?: (functionName: string, line: string) => void;
  /** Run recurring schedules (the reconciler) at this interval instead of their expression. */
  scheduleIntervalMs?: number;
  /** Replace every Step Functions `Retry` interval (ms); tests use it to keep backoff short. */
  retryIntervalOverrideMs?: number;
  /** Seed the demo catalogue and issue API keys for these clients. @default ['demo'] */
  clients?: string[];
  /** Seed the demo catalogue. @default true */
  seed?: boolean;
  /**
   * Extra environment for every function, over the template's values: local-only knobs such as a compressed
   * webhook retry schedule in tests.
   */
  environment?: Record<string, string>;
  /** Let webhook registration accept http://127.0.0.1 receivers (an explicit local-only setting). @default false */
  allowLoopbackWebhooks?: boolean;
  /** Write `.buzzer/runtime.json` so the operator CLI and `npm run demo` find this runtime. @default false */
  writeDiscoveryFile?: boolean;
  /**
   * Execution environments per function that has no reserved concurrency (a deployed account allows far more).
   * Raise it when a run waits on slow downstreams rather than on the CPU. @default 4
   */
  lambdaConcurrency?: number;
  /**
   * Shut an execution environment down once it has been idle this long, as Lambda recycles idle ones: the next
   * invocation starts cold. A laptop gets its memory back after a burst. @default never
   */
  idleTimeoutMs?: number;
  /** Poller cadence overrides (tests). */
  pollerTuning?: Partial<PollerTuning>;
  /**
   * Counts the AWS requests the system makes (`npm run bench`, cost per order): the functions' DynamoDB,
   * EventBridge and Step Functions endpoints and the runtime's own SQS client (event deliveries, queue pollers)
   * go through this meter's proxies. The caller owns the meter and stops it after the runtime.
   */
  meter?: RequestMeter;
}

export interface LocalQueue {
  logicalId: string;
  name: string;
  url: string;
  arn: string;
}

/** What a running local system looks like to its users, the CLI and tests (also written to runtime.json). */
export interface RuntimeDescription {
  pid: number;
  stackName: string;
  startedAt: string;
  apiUrl?: string;
  sandboxUrl?: string;
  apiKeys: Record<string, string>;
  outputs: Record<string, unknown>;
  endpoints: { dynamodb: string; sqs: string; gateway: string };
  httpApis: Record<string, string>;
  tables: Record<string, string>;
  queues: Record<string, LocalQueue>;
  stateMachines: Record<string, string>;
  functions: Record<string, string>;
  rules: string[];
  schedules: string[];
  ignored: Record<string, string>;
  unsupported: Record<string, string[]>;
}

export interface BuzzerRuntime {
  readonly info: RuntimeDescription;
  /** Environment for SDK clients and tools that should talk to this runtime (`AWS_ENDPOINT_URL_*`, credentials). */
  readonly clientEnvironment: Record<string, string>;
  /** What every function gets on top of its own template environment: the client environment plus runtime settings. */
  readonly functionEnvironment: Record<string, string>;
  readonly engines: {
    lambda: LambdaService;
    stepFunctions: StepFunctionsEngine;
    events: EventBridgeEngine;
    scheduler: Scheduler;
    dispatcher: TargetDispatcher;
  };
  readonly clients: { dynamodb: DynamoDBClient; doc: DynamoDBDocumentClient; sqs: SQSClient };
  /** The functions' EMF metrics, read from their output (served on the gateway as `BuzzerLocalMetrics.GetMetrics`). */
  readonly metrics: EmfStore;
  readonly classification: ResourceClassification;
  /** Signs calls to the sandbox API (AWS_IAM routes) the way the runtime's functions do. */
  readonly sandboxAuth: RequestAuthenticator;
  /** Sets the sandbox provider's fault knobs (latency, failure rates, broken mail sink). */
  setSandboxFaults(faults: {
    paymentLatencyMs?: number;
    paymentFailureRate?: number;
    mailBroken?: boolean;
    mailFailureRate?: number;
  }): Promise<void>;
  /** A human summary of what came up. */
  describe(): string;
  stop(): Promise<void>;
}

/** Ports for the HTTP APIs: the APIs named by stack outputs first (the client API), in output order. */
function orderHttpApis(assembly: CloudAssembly): string[] {
  const apis = Object.entries(assembly.template.Resources)
    .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api')
    .map(([id]) => id);
  const outputsText = Object.values(assembly.template.Outputs ?? {}).map((o) => JSON.stringify(o.Value));
  const rank = (id: string) => {
    const at = outputsText.findIndex((text) => text.includes(`"${id}"`));
    return at === -1 ? Number.MAX_SAFE_INTEGER : at;
  };
  return apis.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Signs calls to a local runtime's sandbox API as its functions do: with the credentials the runtime gives them and
 * its region. The defaults are those of a runtime started without an environment override (e.g. in a child process).
 */
export function localSandboxAuth(
  account: LocalAccount = DEFAULT_ACCOUNT,
  credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS,
): RequestAuthenticator {
  return new SigV4Authenticator({ region: account.region, credentials });
}

/** `Buzzer-ApiAcceptOrderFunction1A2B3C4D` → `ApiAcceptOrder`, for log prefixes. */
export function shortFunctionName(functionName: string, stackName: string): string {
  return functionName
    .replace(new RegExp(`^${stackName}-`), '')
    .replace(/[0-9A-F]{8}$/, '')
    .replace(/Function$/, '')
    .replace(/Handler$/, '');
}

function stringRecord(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

export async function startRuntime(options: RuntimeOptions = {}): Promise<BuzzerRuntime> {
  const started = Date.now();
  const logger = options.logger ?? silentLogger;
  const projectRoot = options.projectRoot ?? PROJECT_ROOT;
  const cdkOut = path.resolve(projectRoot, options.cdkOut ?? 'cdk.out');
  const stoppables: Array<{ name: string; stop(): Promise<void> }> = [];
  const stopAll = async () => {
    for (const s of stoppables.reverse()) {
      await s
        .stop()
        .catch((error: unknown) => logger.warn(`stopping ${s.name} failed`, { error: String(error) }));
    }
    stoppables.length = 0;
  };

  try {
    if (options.synth ?? true) {
      await synthesize({ projectRoot, outdir: cdkOut, context: options.context, logger });
    }
    const assembly = await loadCloudAssembly(cdkOut, options.stackName);
    const template = assembly.template;
    const account: LocalAccount = { ...DEFAULT_ACCOUNT, stackName: assembly.stackName };
    const classification = classifyResources(template, account);
    const unsupportedTypes = Object.keys(classification.unsupported);
    if (unsupportedTypes.length > 0) {
      logger.warn(
        `the template has resource types the local runtime does not run: ${unsupportedTypes.join(', ')}`,
      );
    }
    logger.debug(formatClassification(classification));

    // Engines with their own servers start together: DynamoDB Local's JVM dominates start-up.
    const [dynamo, sqsEngine, gateway, kms] = await Promise.all([
      startDynamoDbLocal({
        logger,
        persistDir: options.persistDir ? path.resolve(options.persistDir, 'dynamodb') : undefined,
      }),
      startSqs({ logger, region: account.region, accountId: account.accountId }),
      startGateway({ logger }),
      KmsEngine.start({
        persistDir: options.persistDir ? path.resolve(options.persistDir, 'kms') : undefined,
      }),
    ]);
    stoppables.push({ name: 'DynamoDB Local', stop: () => dynamo.stop() });
    stoppables.push({ name: 'SQS', stop: () => sqsEngine.stop() });
    stoppables.push({ name: 'gateway', stop: () => gateway.stop() });

    const apiOrder = orderHttpApis(assembly);
    const apiPorts = new Map<string, number>();
    for (const [i, id] of apiOrder.entries()) {
      apiPorts.set(id, options.apiPort === 0 ? await freePort() : (options.apiPort ?? 3000) + i);
    }
    const endpoints: LocalEndpoints = {
      dynamodb: dynamo.endpoint,
      sqs: sqsEngine.endpoint,
      gateway: gateway.endpoint,
      httpApi: (logicalId) => `http://${LOOPBACK}:${apiPorts.get(logicalId) ?? 0}`,
    };
    const engineEndpoints = { dynamodb: dynamo.endpoint, sqs: sqsEngine.endpoint, gateway: gateway.endpoint };
    const via = options.meter ? await options.meter.route(engineEndpoints) : engineEndpoints;
    const clientEnvironment: Record<string, string> = {
      AWS_REGION: account.region,
      AWS_DEFAULT_REGION: account.region,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: via.dynamodb,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: via.sqs,
      AWS_ENDPOINT_URL_EVENTBRIDGE: via.gateway,
      AWS_ENDPOINT_URL_SFN: via.gateway,
      AWS_ENDPOINT_URL_KMS: via.gateway,
    };
    const functionEnvironment: Record<string, string> = {
      ...clientEnvironment,
      ...(options.allowLoopbackWebhooks ? { WEBHOOK_ALLOW_LOOPBACK_HTTP: 'true' } : {}),
      ...options.environment,
    };
    const clientConfig = {
      region: account.region,
      credentials: LOCAL_CREDENTIALS,
    };
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamo.endpoint });
    const doc = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
    const streams = new DynamoDBStreamsClient({ ...clientConfig, endpoint: dynamo.endpoint });
    const sqs = new SQSClient({ ...clientConfig, endpoint: via.sqs });

    const sinkLines = options.functionLogSink;
    const printLines = options.functionLogs ?? true;
    const metrics = new EmfStore();
    const lambda = new LambdaService({
      account,
      baseEnvironment: functionEnvironment,
      reportLines: false,
      ...(options.lambdaConcurrency === undefined ? {} : { defaultConcurrency: options.lambdaConcurrency }),
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      logSink: (fn, line) => {
        // EMF lines are metrics (local/metrics/emf.ts): counted, not printed.
        if (metrics.ingest(line) && !sinkLines) return;
        if (sinkLines) sinkLines(fn, line);
        else if (printLines)
          process.stdout.write(formatFunctionLine(fn, line, shortFunctionName(fn, account.stackName)));
      },
      logger,
    });
    stoppables.push({ name: 'Lambda', stop: () => lambda.stop() });

    const queuesByArn = new Map<string, LocalQueue>();
    const targetDeps: TargetDeps = {
      sqs,
      resolveQueueUrl: (arn) => queuesByArn.get(arn)?.url,
      lambda,
      logger,
    };
    const dispatcher = new TargetDispatcher(targetDeps, {
      // AWS retries for 24 h; locally a target that is down for a minute is already a finding.
      defaultRetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 300 },
    });
    stoppables.push({ name: 'event delivery', stop: () => dispatcher.stop() });
    const scheduler = new Scheduler({
      dispatcher,
      account,
      logger,
      intervalOverrideMs: options.scheduleIntervalMs,
    });
    stoppables.push({ name: 'scheduler', stop: async () => scheduler.stop() });
    const events = new EventBridgeEngine({ dispatcher, scheduler, account, logger });
    const stepFunctions = new StepFunctionsEngine({
      lambda,
      sqs,
      dynamodb,
      events,
      account,
      logger,
      persistDir: options.persistDir ? path.resolve(options.persistDir, 'stepfunctions') : undefined,
      retryIntervalOverrideMs: options.retryIntervalOverrideMs,
    });
    stoppables.push({ name: 'Step Functions', stop: () => stepFunctions.stop() });
    targetDeps.stepFunctions = stepFunctions;
    gateway.registerService(EVENTBRIDGE_TARGET, createEventBridgeService(events));
    gateway.registerService(STEP_FUNCTIONS_TARGET, createStepFunctionsService(stepFunctions));
    gateway.registerService(KMS_TARGET, createKmsService(kms));
    gateway.registerService(LOCAL_METRICS_TARGET, createMetricsService(metrics));

    const names = new LocalNames(template, account, endpoints);
    const resolver = new TemplateResolver(template, account, names);
    const info: RuntimeDescription = {
      pid: process.pid,
      stackName: assembly.stackName,
      startedAt: new Date(started).toISOString(),
      apiKeys: {},
      outputs: {},
      endpoints: { dynamodb: dynamo.endpoint, sqs: sqsEngine.endpoint, gateway: gateway.endpoint },
      httpApis: {},
      tables: {},
      queues: {},
      stateMachines: {},
      functions: {},
      rules: [],
      schedules: [],
      ignored: Object.fromEntries(
        Object.entries(classification.ignored).map(([type, { reason }]) => [type, reason]),
      ),
      unsupported: classification.unsupported,
    };

    const mappings: Array<[string, Record<string, unknown>]> = [];
    const apiResources: Record<string, CfnResource> = {};
    for (const logicalId of dependencyOrder(template, account)) {
      const resource = template.Resources[logicalId];
      if (!resource) continue;
      const props = () => resolver.resolveProperties(logicalId);
      switch (resource.Type) {
        case 'AWS::DynamoDB::Table': {
          const name = names.physicalName(logicalId);
          const table = await createTableFromCfn(dynamodb, name, props());
          if (table.streamArn) names.setAttribute(logicalId, 'StreamArn', table.streamArn);
          info.tables[logicalId] = name;
          break;
        }
        case 'AWS::SQS::Queue': {
          const name = names.physicalName(logicalId);
          const queue = await createQueueFromCfn(sqs, name, props());
          const local = { logicalId, name, url: queue.queueUrl, arn: queue.queueArn };
          queuesByArn.set(queue.queueArn, local);
          info.queues[logicalId] = local;
          break;
        }
        case 'AWS::KMS::Key':
          kms.registerKey({
            keyId: names.ref(logicalId, resource),
            arn: String(names.getAtt(logicalId, resource, 'Arn')),
          });
          break;
        case 'AWS::KMS::Alias': {
          const p = props();
          kms.registerAlias(String(p.AliasName), String(p.TargetKeyId));
          break;
        }
        case 'AWS::Events::EventBus':
          events.registerEventBus({ name: names.physicalName(logicalId) });
          break;
        case 'AWS::Events::Rule': {
          const rule = events.registerRule(props() as never, names.physicalName(logicalId));
          info.rules.push(rule.name);
          break;
        }
        case 'AWS::Scheduler::Schedule': {
          const schedule = scheduler.registerSchedule(props() as never, names.physicalName(logicalId));
          info.schedules.push(schedule.name);
          break;
        }
        case 'AWS::Lambda::Function': {
          const p = props();
          const codeDir = assembly.assetDirFor(logicalId);
          if (!codeDir) throw new Error(`function ${logicalId} has no local code directory in ${cdkOut}`);
          const functionName = names.physicalName(logicalId);
          const environment = stringRecord((p.Environment as { Variables?: unknown } | undefined)?.Variables);
          lambda.register({
            logicalId,
            functionName,
            arn: String(names.getAtt(logicalId, resource, 'Arn')),
            codeDir,
            handler: String(p.Handler ?? 'index.handler'),
            runtime: String(p.Runtime ?? 'nodejs24.x'),
            timeoutSeconds: typeof p.Timeout === 'number' ? p.Timeout : undefined,
            memoryMb: typeof p.MemorySize === 'number' ? p.MemorySize : undefined,
            reservedConcurrency:
              typeof p.ReservedConcurrentExecutions === 'number' ? p.ReservedConcurrentExecutions : undefined,
            environment,
          });
          info.functions[logicalId] = functionName;
          break;
        }
        case 'AWS::StepFunctions::StateMachine': {
          const p = props();
          const arn = names.ref(logicalId, resource);
          stepFunctions.registerStateMachine({
            name: names.physicalName(logicalId),
            arn,
            definition:
              typeof p.DefinitionString === 'string'
                ? p.DefinitionString
                : JSON.stringify(p.Definition ?? {}),
            type: p.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
            roleArn: typeof p.RoleArn === 'string' ? p.RoleArn : undefined,
          });
          info.stateMachines[logicalId] = arn;
          break;
        }
        case 'AWS::Lambda::EventSourceMapping':
          mappings.push([logicalId, props()]);
          break;
        default:
          if (resource.Type.startsWith('AWS::ApiGatewayV2::')) {
            apiResources[logicalId] = { ...resource, Properties: props() };
          }
      }
    }

    // Consumers start last, when every queue, function and bus they feed exists.
    const handles: EventSourceMappingHandle[] = [];
    stoppables.push({
      name: 'event source mappings',
      stop: async () => {
        await Promise.all(handles.map((h) => h.stop()));
      },
    });
    for (const [logicalId, p] of mappings) {
      handles.push(
        startEventSourceMapping(p, {
          invoker: lambda,
          functionName: String(p.FunctionName),
          dynamodbStreams: streams,
          sqs,
          queueUrlForArn: (arn) => {
            const queue = queuesByArn.get(arn);
            if (!queue) throw new Error(`event source mapping ${logicalId}: no local queue with ARN ${arn}`);
            return queue.url;
          },
          logger,
          account,
          tuning: options.pollerTuning,
        }),
      );
    }

    // AWS_IAM routes accept what the functions sign with: the credentials in their environment.
    const iamCredentials = [
      {
        accessKeyId: functionEnvironment.AWS_ACCESS_KEY_ID ?? LOCAL_CREDENTIALS.accessKeyId,
        secretAccessKey: functionEnvironment.AWS_SECRET_ACCESS_KEY ?? LOCAL_CREDENTIALS.secretAccessKey,
      },
    ];
    const sandboxAuth = localSandboxAuth(account, iamCredentials[0]);
    const servers: RunningHttpApi[] = [];
    stoppables.push({
      name: 'HTTP APIs',
      stop: async () => {
        await Promise.all(servers.map((s) => s.stop()));
      },
    });
    for (const definition of collectHttpApis(apiResources, (id) => {
      const resource = template.Resources[id];
      if (!resource) throw new Error(`no resource ${id}`);
      return names.ref(id, resource);
    })) {
      const port = apiPorts.get(definition.apiLogicalId) ?? 0;
      servers.push(
        await startHttpApi({ ...definition, invoker: lambda, logger, port, account, iamCredentials }),
      );
      info.httpApis[definition.apiLogicalId] = endpoints.httpApi(definition.apiLogicalId);
    }
    scheduler.start();

    info.outputs = resolver.outputs();
    const outputString = (key: string) => {
      const value = info.outputs[key];
      return typeof value === 'string' ? value.replace(/\/+$/, '') : undefined;
    };
    info.apiUrl = outputString('ApiUrl');
    info.sandboxUrl = outputString('SandboxUrl');
    const tableName = outputString('TableName');
    if (tableName) {
      if (options.seed ?? true) await putStock(doc, tableName, DEMO_CATALOGUE);
      info.apiKeys = await issueApiKeys(doc, tableName, options.clients ?? ['demo']);
    }

    const discoveryFile = path.join(projectRoot, '.buzzer', 'runtime.json');
    if (options.writeDiscoveryFile) {
      await writePrivateFile(discoveryFile, `${JSON.stringify({ ...info, clientEnvironment }, null, 2)}\n`);
      stoppables.unshift({ name: 'discovery file', stop: () => rm(discoveryFile, { force: true }) });
    }
    logger.info(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const runtime: BuzzerRuntime = {
      info,
      clientEnvironment,
      functionEnvironment,
      engines: { lambda, stepFunctions, events, scheduler, dispatcher },
      clients: { dynamodb, doc, sqs },
      metrics,
      classification,
      sandboxAuth,
      async setSandboxFaults(faults) {
        if (!info.sandboxUrl) throw new Error('this stack has no sandbox provider');
        const response = await authenticatedFetch(sandboxAuth, `${info.sandboxUrl}/v1/faults`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== undefined))),
        });
        if (!response.ok)
          throw new Error(`sandbox refused the fault knobs: ${response.status} ${await response.text()}`);
      },
      describe: () => describeRuntime(info),
      async stop() {
        await stopAll();
        dynamodb.destroy();
        streams.destroy();
        sqs.destroy();
      },
    };
    return runtime;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export function describeRuntime(info: RuntimeDescription): string {
  const lines = [
    '',
    `Buzzer (${info.stackName}) is running locally`,
    `  API             ${info.apiUrl ?? '(no ApiUrl output)'}`,
    ...Object.entries(info.apiKeys).map(([client, key]) => `  API key         ${key}   (client "${client}")`),
    ...(info.sandboxUrl ? [`  sandbox         ${info.sandboxUrl}   (payment provider + mail sink)`] : []),
    `  tables          ${Object.values(info.tables).join(', ')}`,
    `  queues          ${Object.keys(info.queues).length} (${Object.values(info.queues).filter((q) => /Dlq/i.test(q.logicalId)).length} dead-letter)`,
    `  rules           ${info.rules.join(', ')}`,
    `  state machines  ${Object.values(info.stateMachines).join(', ')}`,
    `  functions       ${Object.keys(info.functions).length}`,
    ...(info.schedules.length > 0 ? [`  schedules       ${info.schedules.join(', ')}`] : []),
    `  AWS endpoints   dynamodb ${info.endpoints.dynamodb}  sqs ${info.endpoints.sqs}  events+states ${info.endpoints.gateway}`,
    ...Object.entries(info.unsupported).map(([type, ids]) => `  NOT RUN         ${type}: ${ids.join(', ')}`),
    '',
    'Try:',
    `  curl -s -X POST ${info.apiUrl}/orders -H 'Authorization: Bearer ${Object.values(info.apiKeys)[0] ?? '<key>'}' \\`,
    `    -H 'Idempotency-Key: try-1' -H 'Content-Type: application/json' \\`,
    `    -d '{"customer":{"id":"c-1","email":"ada@example.com"},"items":[{"sku":"espresso","quantity":2}],"currency":"EUR","paymentToken":"tok_ok"}'`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  return `${lines.join('\n')}\n`;
}
