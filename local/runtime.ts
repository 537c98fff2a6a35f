/**
 * The local runtime: reads a synthesized CloudFormation template and brings every resource in it up on 127.0.0.1
 * with real engines behind the real AWS SDK clients. Nothing about any topology is written here: each resource type
 * has a module in `local/resources/` that turns its properties into an engine; this file starts the engines, walks
 * the template in dependency order and hands each resource to its module. What a particular application adds on top
 * (Buzzer's seeding, API keys, sandbox knobs and banner) lives in `local/buzzer/`.
 */

import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '#local/engines/dynamodb-local.ts';
import { engineClientConfig } from '#local/engines/engine-client.ts';
import type { PollerTuning } from '#local/engines/event-source-mappings.ts';
import {
  createEventBridgeService,
  EVENTBRIDGE_TARGET,
  EventBridgeEngine,
} from '#local/engines/eventbridge/bus.ts';
import { type TargetDeps, TargetDispatcher } from '#local/engines/eventbridge/targets.ts';
import { startGateway } from '#local/engines/gateway.ts';
import { LocalJwtIssuer } from '#local/engines/http-api/jwt.ts';
import { createKmsService, KMS_TARGET, KmsEngine } from '#local/engines/kms.ts';
import { LambdaService } from '#local/engines/lambda/service.ts';
import type { RequestMeter } from '#local/engines/metering.ts';
import { FileStreamPositions } from '#local/engines/pollers/positions.ts';
import { freePort, LOOPBACK } from '#local/engines/ports.ts';
import { startS3 } from '#local/engines/s3.ts';
import { type PersistedSchedules, Scheduler } from '#local/engines/scheduler.ts';
import { SECRETS_MANAGER_TARGET, SecretsEngine } from '#local/engines/secrets.ts';
import { startSqs } from '#local/engines/sqs.ts';
import { createQueueStatsService, LOCAL_QUEUES_TARGET } from '#local/engines/sqs-stats.ts';
import { JsonStateFile } from '#local/engines/state-file.ts';
import { createStepFunctionsService, STEP_FUNCTIONS_TARGET } from '#local/engines/stepfunctions/api.ts';
import { StepFunctionsEngine } from '#local/engines/stepfunctions/engine.ts';
import { formatFunctionLine, shortFunctionName } from '#local/logging.ts';
import { createMetricsService, EmfStore, LOCAL_METRICS_TARGET } from '#local/metrics/emf.ts';
import { writePrivateFile } from '#local/private-file.ts';
import { moduleFor, RESOURCE_MODULES } from '#local/resources/index.ts';
import type {
  LocalQueue,
  LocalResource,
  ResourceModule,
  StartContext,
  StartedResources,
} from '#local/resources/module.ts';
import {
  classifyResources,
  formatClassification,
  type ResourceClassification,
} from '#local/resources/support.ts';
import { synthesize } from '#local/synth.ts';
import { type CloudAssembly, loadCloudAssembly } from '#local/template/assembly.ts';
import { dependencyOrder } from '#local/template/graph.ts';
import { type LocalEndpoints, LocalNames } from '#local/template/naming.ts';
import { TemplateResolver } from '#local/template/resolve.ts';
import { DEFAULT_ACCOUNT, type LocalAccount, type RuntimeLogger, silentLogger } from '#local/types.ts';

export type { LocalQueue } from '#local/resources/module.ts';

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
  /**
   * Port of the first HTTP API (the one the stack outputs name first); further APIs take the next ports. 0 = free
   * ports. @default 3000
   */
  apiPort?: number;
  /**
   * Keep DynamoDB tables, Step Functions executions, SQS messages (`sqs/`, see `engines/sqs-journal.ts`), stream
   * positions (`streams/`), schedule firings (`scheduler/`) and the local KMS master key (`kms/master.key`, mode
   * 0600: data sealed under it opens again after a restart) in this directory across restarts. Without it the
   * runtime writes nothing to disk.
   */
  persistDir?: string;
  logger?: RuntimeLogger;
  /** Print the functions' own log lines. @default true */
  functionLogs?: boolean;
  /** Receives every function log line instead of the console (tests use it to keep output quiet or to assert). */
  functionLogSink?: (functionName: string, line: string) => void;
  /** Run recurring schedules at this interval instead of their expression. */
  scheduleIntervalMs?: number;
  /** Replace every Step Functions `Retry` interval (ms); tests use it to keep backoff short. */
  retryIntervalOverrideMs?: number;
  /**
   * The clock the HTTP APIs' authorizer result caches read: a test moves it past the cache TTL instead of waiting the
   * TTL out in real time. @default Date.now
   */
  gatewayClock?: () => number;
  /** Extra environment for every function, over the template's values (local-only knobs). */
  environment?: Record<string, string>;
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

/** What a running local system looks like to its users, the CLI and tests. */
export interface RuntimeDescription extends StartedResources {
  pid: number;
  stackName: string;
  startedAt: string;
  outputs: Record<string, unknown>;
  endpoints: { dynamodb: string; sqs: string; gateway: string; s3: string };
  /** Where the S3 buckets' objects are on disk (`<dir>/<bucket>/<key>`). */
  s3Directory: string;
  ignored: Record<string, string>;
  unsupported: Record<string, string[]>;
}

export interface LocalRuntime {
  readonly info: RuntimeDescription;
  readonly projectRoot: string;
  readonly account: LocalAccount;
  /** Environment for SDK clients and tools that should talk to this runtime (`AWS_ENDPOINT_URL_*`, credentials). */
  readonly clientEnvironment: Record<string, string>;
  /** What every function gets on top of its own template environment: the client environment plus runtime settings. */
  readonly functionEnvironment: Record<string, string>;
  readonly engines: {
    lambda: LambdaService;
    secrets: SecretsEngine;
    stepFunctions: StepFunctionsEngine;
    events: EventBridgeEngine;
    scheduler: Scheduler;
    dispatcher: TargetDispatcher;
  };
  readonly clients: { dynamodb: DynamoDBClient; doc: DynamoDBDocumentClient; sqs: SQSClient };
  /** The functions' EMF metrics, read from their output (served on the gateway as `BuzzerLocalMetrics.GetMetrics`). */
  readonly metrics: EmfStore;
  readonly classification: ResourceClassification;
  /** The credentials the runtime's AWS_IAM routes accept: the ones its functions sign with. */
  readonly iamCredentials: { accessKeyId: string; secretAccessKey: string };
  /**
   * Runs `stop` when the runtime stops, last, once every engine has stopped (e.g. removes a file naming the runtime).
   */
  onStop(name: string, stop: () => Promise<void>): void;
  stop(): Promise<void>;
}

const API_TYPES = new Set(['AWS::ApiGatewayV2::Api', 'AWS::ApiGateway::RestApi']);

/**
 * Ports for the HTTP and REST APIs: the APIs named by stack outputs first (the client API, whichever flavour), in
 * output order.
 */
function orderHttpApis(assembly: CloudAssembly): string[] {
  const apis = Object.entries(assembly.template.Resources)
    .filter(([, r]) => API_TYPES.has(r.Type))
    .map(([id]) => id);
  const outputsText = Object.values(assembly.template.Outputs ?? {}).map((o) => JSON.stringify(o.Value));
  const rank = (id: string) => {
    const at = outputsText.findIndex((text) => text.includes(`"${id}"`));
    return at === -1 ? Number.MAX_SAFE_INTEGER : at;
  };
  return apis.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Writes `info` (and how to reach the runtime) to `file`, mode 0600, and removes it when the runtime stops. */
export async function writeDiscoveryFile(runtime: LocalRuntime, file: string, info: object): Promise<void> {
  await writePrivateFile(
    file,
    `${JSON.stringify({ ...info, clientEnvironment: runtime.clientEnvironment }, null, 2)}\n`,
  );
  runtime.onStop('discovery file', () => rm(file, { force: true }));
}

const modulePosition = (module: ResourceModule) => RESOURCE_MODULES.indexOf(module);

export async function startRuntime(options: RuntimeOptions = {}): Promise<LocalRuntime> {
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
    const [dynamo, sqsEngine, gateway, kms, s3] = await Promise.all([
      startDynamoDbLocal({
        logger,
        persistDir: options.persistDir ? path.resolve(options.persistDir, 'dynamodb') : undefined,
      }),
      startSqs({
        logger,
        region: account.region,
        accountId: account.accountId,
        persistDir: options.persistDir ? path.resolve(options.persistDir, 'sqs') : undefined,
      }),
      startGateway({ logger }),
      KmsEngine.start({
        persistDir: options.persistDir ? path.resolve(options.persistDir, 'kms') : undefined,
      }),
      startS3({
        logger,
        persistDir: options.persistDir ? path.resolve(options.persistDir, 's3') : undefined,
      }),
    ]);
    stoppables.push({ name: 'DynamoDB Local', stop: () => dynamo.stop() });
    stoppables.push({ name: 'SQS', stop: () => sqsEngine.stop() });
    stoppables.push({ name: 'gateway', stop: () => gateway.stop() });
    stoppables.push({ name: 'S3', stop: () => s3.stop() });
    const secrets = new SecretsEngine();

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
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: via.gateway,
      // API key management (REST flavour): operator calls, not part of the system's request bill, so not metered.
      AWS_ENDPOINT_URL_API_GATEWAY: gateway.endpoint,
    };
    const functionEnvironment: Record<string, string> = { ...clientEnvironment, ...options.environment };
    const clientConfig = engineClientConfig(account.region);
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

    const info: RuntimeDescription = {
      pid: process.pid,
      stackName: assembly.stackName,
      startedAt: new Date(started).toISOString(),
      outputs: {},
      endpoints: {
        dynamodb: dynamo.endpoint,
        sqs: sqsEngine.endpoint,
        gateway: gateway.endpoint,
        s3: s3.endpoint,
      },
      s3Directory: s3.directory,
      httpApis: {},
      tables: {},
      queues: {},
      stateMachines: {},
      functions: {},
      rules: [],
      schedules: [],
      buckets: {},
      secrets: {},
      jwtTokens: {},
      ignored: Object.fromEntries(
        Object.entries(classification.ignored).map(([type, { reason }]) => [type, reason]),
      ),
      unsupported: classification.unsupported,
    };
    const queueByArn = (arn: string): LocalQueue | undefined =>
      Object.values(info.queues).find((queue) => queue.arn === arn);

    const targetDeps: TargetDeps = {
      sqs,
      resolveQueueUrl: (arn) => queueByArn(arn)?.url,
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
      ...(options.persistDir
        ? {
            stateFile: new JsonStateFile<PersistedSchedules>(
              path.resolve(options.persistDir, 'scheduler', 'schedules.json'),
              logger,
            ),
          }
        : {}),
    });
    stoppables.push({
      name: 'scheduler',
      stop: async () => {
        await scheduler.stop();
        await scheduler.flush();
      },
    });
    const events = new EventBridgeEngine({
      dispatcher,
      scheduler,
      account,
      logger,
      // With persisted queues, an acknowledged event must already be on its (journaled) target queue.
      acknowledgeOnDelivery: options.persistDir !== undefined,
    });
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
    gateway.registerService(SECRETS_MANAGER_TARGET, secrets.service());
    gateway.registerService(LOCAL_METRICS_TARGET, createMetricsService(metrics));
    gateway.registerService(LOCAL_QUEUES_TARGET, createQueueStatsService(sqsEngine));

    const names = new LocalNames(template, account, endpoints);
    const resolver = new TemplateResolver(template, account, names);
    // AWS_IAM routes accept what the functions sign with: the credentials in their environment.
    const iamCredentials = {
      accessKeyId: functionEnvironment.AWS_ACCESS_KEY_ID ?? LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: functionEnvironment.AWS_SECRET_ACCESS_KEY ?? LOCAL_CREDENTIALS.secretAccessKey,
    };
    const streamPositions = options.persistDir
      ? new FileStreamPositions(path.resolve(options.persistDir, 'streams'), logger)
      : undefined;
    // Registered before the mappings, so it runs after they stopped: their last positions are written.
    if (streamPositions) stoppables.push({ name: 'stream positions', stop: () => streamPositions.flush() });
    const context: StartContext = {
      account,
      logger,
      assembly,
      names,
      engines: {
        dynamodb,
        streams,
        sqs,
        queueSignals: sqsEngine.signals,
        lambda,
        events,
        scheduler,
        stepFunctions,
        kms,
        s3,
        secrets,
        gateway,
      },
      started: info,
      queueByArn,
      httpApiPort: (logicalId) => apiPorts.get(logicalId) ?? 0,
      httpApiUrl: (logicalId) => endpoints.httpApi(logicalId),
      iamCredentials: [iamCredentials],
      pollerTuning: options.pollerTuning,
      streamPositions,
      gatewayClock: options.gatewayClock,
      jwtIssuer: new LocalJwtIssuer(),
      onStop: (name, stop) => stoppables.push({ name, stop }),
    };

    const deferred = new Map<ResourceModule, LocalResource<unknown>[]>();
    for (const logicalId of dependencyOrder(template, account)) {
      const resource = template.Resources[logicalId];
      const module = resource && moduleFor(resource.Type);
      if (!resource || !module) continue;
      const parsed = module.parse(logicalId, resource, resolver.resolveProperties(logicalId));
      if (module.start) await module.start(parsed, context);
      if (module.startAll) deferred.set(module, [...(deferred.get(module) ?? []), parsed]);
    }
    // In module order (`local/resources/index.ts`): consumers, then the APIs.
    for (const [module, resources] of [...deferred].sort(
      ([a], [b]) => modulePosition(a) - modulePosition(b),
    )) {
      await module.startAll?.(resources, context);
    }
    scheduler.start();
    info.outputs = resolver.outputs();
    logger.info(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    return {
      info,
      projectRoot,
      account,
      clientEnvironment,
      functionEnvironment,
      engines: { lambda, secrets, stepFunctions, events, scheduler, dispatcher },
      clients: { dynamodb, doc, sqs },
      metrics,
      classification,
      iamCredentials,
      onStop(name, stop) {
        stoppables.unshift({ name, stop });
      },
      async stop() {
        await stopAll();
        dynamodb.destroy();
        streams.destroy();
        sqs.destroy();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
