/**
 * The service integrations a Task `Resource` can name, performed against the local engines: Lambda through the
 * runtime's `LambdaInvoker`, SQS and DynamoDB through real SDK clients pointed at the local servers, EventBridge
 * through the local bus. Results and error names follow what Step Functions reports on AWS, so `Retry`/`Catch`
 * rules and `ResultSelector`s written against AWS behave the same locally.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as dynamodbSdk from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import * as sqsSdk from '@aws-sdk/client-sqs';
import type { LambdaInvoker, RuntimeLogger } from '../../types.ts';
import { StatesRuntimeError, TaskFailedError } from './errors.ts';
import type { EventPublisher, PutEventsEntryInput } from './types.ts';

export interface IntegrationDeps {
  lambda: LambdaInvoker;
  sqs?: SQSClient;
  dynamodb?: DynamoDBClient;
  events?: EventPublisher;
  logger: RuntimeLogger;
}

export type IntegrationKind =
  | 'lambda-function'
  | 'lambda-invoke'
  | 'sqs-send-message'
  | 'events-put-events'
  | 'dynamodb'
  | 'aws-sdk';

type SdkService = 'dynamodb' | 'sqs';

export interface ResourceSpec {
  arn: string;
  kind: IntegrationKind;
  /** API action in the resource, e.g. `invoke`, `putItem`, `transactWriteItems`. */
  action: string;
  sdkService?: SdkService;
  waitForTaskToken: boolean;
  /** `resourceType` / `resource` as the execution history reports them (`lambda` / `invoke.waitForTaskToken`). */
  resourceType: string;
  resource: string;
}

const DYNAMODB_OPTIMIZED_ACTIONS = new Set(['getItem', 'putItem', 'updateItem', 'deleteItem']);
/** AWS SDK integrations name errors `<ServiceInPascalCase>.<Error>`, unlike the optimized ones (`DynamoDB.`, `SQS.`). */
const SDK_SERVICES: Record<SdkService, { module: Record<string, unknown>; errorPrefix: string }> = {
  dynamodb: { module: dynamodbSdk, errorPrefix: 'DynamoDb' },
  sqs: { module: sqsSdk, errorPrefix: 'Sqs' },
};

/** Parses a Task `Resource`; undefined when the local engine cannot run it. */
export function parseResource(arn: string): ResourceSpec | undefined {
  if (/^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/.test(arn)) {
    return {
      arn,
      kind: 'lambda-function',
      action: 'invoke',
      waitForTaskToken: false,
      resourceType: 'lambda',
      resource: arn,
    };
  }
  const match = /^arn:aws[\w-]*:states:[^:]*:[^:]*:(.+)$/.exec(arn);
  if (!match?.[1]) return undefined;
  const waitForTaskToken = match[1].endsWith('.waitForTaskToken');
  const path = waitForTaskToken ? match[1].slice(0, -'.waitForTaskToken'.length) : match[1];
  if (path.includes('.')) return undefined; // `.sync` (run a job) patterns are not emulated
  const resourceSuffix = waitForTaskToken ? '.waitForTaskToken' : '';
  const parts = path.split(':');
  const base = { arn, waitForTaskToken };

  if (parts.length === 2) {
    const [service, action] = parts as [string, string];
    const resource = `${action}${resourceSuffix}`;
    if (service === 'lambda' && action === 'invoke') {
      return { ...base, kind: 'lambda-invoke', action, resourceType: 'lambda', resource };
    }
    if (service === 'sqs' && action === 'sendMessage') {
      return { ...base, kind: 'sqs-send-message', action, resourceType: 'sqs', resource };
    }
    if (service === 'events' && action === 'putEvents') {
      return { ...base, kind: 'events-put-events', action, resourceType: 'events', resource };
    }
    if (service === 'dynamodb' && DYNAMODB_OPTIMIZED_ACTIONS.has(action) && !waitForTaskToken) {
      return { ...base, kind: 'dynamodb', action, resourceType: 'dynamodb', resource };
    }
    return undefined;
  }
  if (parts.length === 3 && parts[0] === 'aws-sdk') {
    const service = parts[1];
    const action = parts[2] ?? '';
    if ((service === 'dynamodb' || service === 'sqs') && sdkCommand(service, action)) {
      return {
        ...base,
        kind: 'aws-sdk',
        action,
        sdkService: service,
        resourceType: `aws-sdk:${service}`,
        resource: `${action}${resourceSuffix}`,
      };
    }
  }
  return undefined;
}

/**
 * Performs one attempt of a Task. For `.waitForTaskToken` resources this is only the submission (the message
 * or invocation carrying the token); the caller then waits for `SendTaskSuccess`/`SendTaskFailure`.
 */
export async function callIntegration(
  spec: ResourceSpec,
  params: unknown,
  deps: IntegrationDeps,
): Promise<unknown> {
  switch (spec.kind) {
    case 'lambda-function':
      return invokeLambdaFunction(spec.arn, params, deps);
    case 'lambda-invoke':
      return invokeLambda(params, deps);
    case 'sqs-send-message':
      return sendMessage(params, deps);
    case 'events-put-events':
      return putEvents(params, deps);
    case 'dynamodb':
      return callSdk('dynamodb', spec.action, params, deps, 'DynamoDB', true);
    case 'aws-sdk': {
      const service = spec.sdkService ?? 'dynamodb';
      return callSdk(service, spec.action, params, deps, SDK_SERVICES[service].errorPrefix, false);
    }
  }
}

/** The legacy `arn:aws:lambda:…:function:X` resource: the result is the function's return value itself. */
async function invokeLambdaFunction(
  functionArn: string,
  input: unknown,
  deps: IntegrationDeps,
): Promise<unknown> {
  const result = await invokeOrServiceError(deps, functionArn, input);
  if (result.error) throw functionError(result.error);
  return result.payload ?? null;
}

async function invokeLambda(params: unknown, deps: IntegrationDeps): Promise<unknown> {
  const input = requireObject(params, 'lambda:invoke');
  const functionName = input.FunctionName;
  if (typeof functionName !== 'string' || functionName === '') {
    throw new StatesRuntimeError('lambda:invoke requires a FunctionName string parameter');
  }
  const target = typeof input.Qualifier === 'string' ? `${functionName}:${input.Qualifier}` : functionName;
  const payload = input.Payload ?? {};
  const requestId = randomUUID();

  if (input.InvocationType === 'Event') {
    // Asynchronous invocation: Lambda accepts the event and runs it later; its outcome is not the task's.
    deps.lambda.invoke(target, payload).then(
      (result) => {
        if (result.error) deps.logger.warn('async lambda invocation failed', { target, error: result.error });
      },
      (error: unknown) =>
        deps.logger.warn('async lambda invocation failed', { target, error: String(error) }),
    );
    return { ...sdkHttpMetadata(202, requestId), Payload: '', StatusCode: 202 };
  }
  if (input.InvocationType === 'DryRun') {
    return { ...sdkHttpMetadata(204, requestId), Payload: '', StatusCode: 204 };
  }

  const result = await invokeOrServiceError(deps, target, payload);
  if (result.error) throw functionError(result.error);
  return {
    ExecutedVersion: '$LATEST',
    Payload: result.payload ?? null,
    ...sdkHttpMetadata(200, requestId, { 'X-Amz-Executed-Version': '$LATEST' }),
    StatusCode: 200,
  };
}

async function invokeOrServiceError(deps: IntegrationDeps, target: string, payload: unknown) {
  try {
    return await deps.lambda.invoke(target, payload);
  } catch (error) {
    // The invoker threw: Lambda itself failed (unknown function, throttled, crashed pool), not the function code.
    // The local Lambda service names its errors by the Lambda API codes (`ResourceNotFoundException`, …).
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    const errorName = /^[A-Z]\w*Exception$/.test(name)
      ? `Lambda.${name}`
      : /not ?found|does not exist/i.test(message)
        ? 'Lambda.ResourceNotFoundException'
        : 'Lambda.ServiceException';
    const status = errorName.endsWith('NotFoundException')
      ? 404
      : errorName.endsWith('TooManyRequestsException')
        ? 429
        : 500;
    throw new TaskFailedError(
      errorName,
      `${message} (Service: Lambda; Status Code: ${status}; Error Code: ${name})`,
    );
  }
}

/** A function error: Step Functions names it by the Lambda `errorType` and puts the error payload in the cause. */
function functionError(error: {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}): TaskFailedError {
  const cause = JSON.stringify({
    errorMessage: error.errorMessage,
    errorType: error.errorType,
    trace: error.trace ?? [],
  });
  return new TaskFailedError(error.errorType, cause);
}

async function sendMessage(params: unknown, deps: IntegrationDeps): Promise<unknown> {
  const input = requireObject(params, 'sqs:sendMessage');
  if (!deps.sqs)
    throw new StatesRuntimeError('sqs:sendMessage needs an SQS client; none was given to the engine');
  const body = input.MessageBody;
  const command = new sqsSdk.SendMessageCommand({
    ...(input as unknown as sqsSdk.SendMessageCommandInput),
    // Step Functions serializes a JSON MessageBody for you; SQS itself only takes strings.
    MessageBody: typeof body === 'string' ? body : JSON.stringify(body ?? null),
  });
  try {
    const output = await deps.sqs.send(command);
    return {
      MD5OfMessageBody: output.MD5OfMessageBody,
      MessageId: output.MessageId,
      ...(output.SequenceNumber ? { SequenceNumber: output.SequenceNumber } : {}),
      ...sdkHttpMetadata(200, output.$metadata.requestId ?? randomUUID()),
    };
  } catch (error) {
    throw sdkTaskError(error, 'SQS', 'AmazonSQS');
  }
}

async function putEvents(params: unknown, deps: IntegrationDeps): Promise<unknown> {
  const input = requireObject(params, 'events:putEvents');
  if (!deps.events)
    throw new StatesRuntimeError('events:putEvents needs the local event bus; none was given');
  if (!Array.isArray(input.Entries))
    throw new StatesRuntimeError('events:putEvents requires an Entries array');
  const entries: PutEventsEntryInput[] = input.Entries.map((raw) => {
    const entry = requireObject(raw, 'events:putEvents entry');
    return {
      Source: optionalString(entry.Source),
      DetailType: optionalString(entry.DetailType),
      // A JSON Detail is serialized by Step Functions before it calls PutEvents.
      Detail:
        entry.Detail === undefined || typeof entry.Detail === 'string'
          ? entry.Detail
          : JSON.stringify(entry.Detail),
      EventBusName: optionalString(entry.EventBusName),
      Resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : undefined,
      Time: typeof entry.Time === 'string' ? new Date(entry.Time) : undefined,
      TraceHeader: optionalString(entry.TraceHeader),
    };
  });
  let output: Awaited<ReturnType<EventPublisher['putEvents']>>;
  try {
    output = await deps.events.putEvents(entries);
  } catch (error) {
    // A request the bus refuses as a whole (e.g. more than 10 entries): named as the SDK names the exception.
    const name = error instanceof Error ? error.name : 'Error';
    throw new TaskFailedError(`EventBridge.${name}`, error instanceof Error ? error.message : String(error));
  }
  const result = { Entries: output.Entries, FailedEntryCount: output.FailedEntryCount };
  if (output.FailedEntryCount > 0)
    throw new TaskFailedError('EventBridge.FailedEntry', JSON.stringify(result));
  return result;
}

type SdkCommandCtor = new (input: unknown) => Parameters<DynamoDBClient['send']>[0];

function sdkCommand(service: SdkService, action: string): SdkCommandCtor | undefined {
  if (!/^[a-z][A-Za-z0-9]*$/.test(action)) return undefined;
  const name = `${action[0]?.toUpperCase()}${action.slice(1)}Command`;
  const ctor = SDK_SERVICES[service].module[name];
  return typeof ctor === 'function' ? (ctor as SdkCommandCtor) : undefined;
}

async function callSdk(
  service: SdkService,
  action: string,
  params: unknown,
  deps: IntegrationDeps,
  errorPrefix: string,
  withHttpMetadata: boolean,
): Promise<unknown> {
  const input = requireObject(params, `${service}:${action}`);
  const client = service === 'dynamodb' ? deps.dynamodb : deps.sqs;
  if (!client) throw new StatesRuntimeError(`${service}:${action} needs a ${service} client; none was given`);
  const Command = sdkCommand(service, action);
  if (!Command) throw new StatesRuntimeError(`${service} has no API action '${action}'`);
  try {
    // Both clients accept any command of their own service; the constructor above came from that service's module.
    const send = client.send.bind(client) as (command: unknown) => Promise<Record<string, unknown>>;
    const { $metadata, ...output } = await send(new Command(input));
    const requestId = ($metadata as { requestId?: string } | undefined)?.requestId ?? randomUUID();
    const json = toJson(output) as Record<string, unknown>;
    return withHttpMetadata ? { ...json, ...sdkHttpMetadata(200, requestId) } : json;
  } catch (error) {
    throw sdkTaskError(error, errorPrefix, service === 'dynamodb' ? 'AmazonDynamoDBv2' : 'AmazonSQS');
  }
}

/** `<Service>.<Name>Exception` with a cause formatted like the Java SDK messages Step Functions reports. */
function sdkTaskError(error: unknown, prefix: string, serviceName: string): TaskFailedError {
  if (error instanceof TaskFailedError || error instanceof StatesRuntimeError) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  const metadata = (err as { $metadata?: { httpStatusCode?: number; requestId?: string } }).$metadata;
  if (!metadata?.httpStatusCode) {
    return new TaskFailedError(
      `${prefix}.SdkClientException`,
      `Unable to execute HTTP request: ${err.message}`,
    );
  }
  const name = err.name.endsWith('Exception') ? err.name : `${err.name}Exception`;
  const cause =
    `${err.message} (Service: ${serviceName}; Status Code: ${metadata.httpStatusCode}; ` +
    `Error Code: ${err.name}; Request ID: ${metadata.requestId ?? randomUUID()}; Proxy: null)`;
  return new TaskFailedError(`${prefix}.${name}`, cause);
}

function sdkHttpMetadata(status: number, requestId: string, extraHeaders: Record<string, string> = {}) {
  const headers: Record<string, string> = {
    Connection: 'keep-alive',
    'Content-Type': 'application/json',
    Date: new Date().toUTCString(),
    'x-amzn-RequestId': requestId,
    ...extraHeaders,
  };
  return {
    SdkHttpMetadata: {
      AllHttpHeaders: Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, [value]])),
      HttpHeaders: headers,
      HttpStatusCode: status,
    },
    SdkResponseMetadata: { RequestId: requestId },
  };
}

/** SDK outputs may hold binary values; Step Functions passes them on as base64 strings. */
function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Set) return [...value].map(toJson);
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, child]) => child !== undefined)
        .map(([key, child]) => [key, toJson(child)]),
    );
  }
  return value;
}

function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StatesRuntimeError(`${what} expects an object of parameters, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
