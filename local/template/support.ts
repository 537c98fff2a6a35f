import { type CfnTemplate, DEFAULT_ACCOUNT, type LocalAccount } from '../types.ts';
import { conditionResolver } from './resolve.ts';

/**
 * What the local runtime does with each CloudFormation resource type. This table is the single place
 * that says it: the runtime prints it at start and the README lists it, so the two cannot drift.
 */

export type SupportLevel = 'supported' | 'ignored';

export interface ResourceSupport {
  type: string;
  level: SupportLevel;
  /** For supported types: the local engine. For ignored types: why skipping it changes nothing a client sees. */
  note: string;
}

const NO_IAM = 'local engines do not enforce IAM: every call is allowed';
const NO_METRICS = 'no CloudWatch metrics locally, so there is nothing to alarm on or chart';
const HTTP_API = 'local HTTP server that builds API Gateway v2 (payload 2.0) events';

export const RESOURCE_SUPPORT: readonly ResourceSupport[] = [
  {
    type: 'AWS::DynamoDB::Table',
    level: 'supported',
    note: 'DynamoDB Local (streams, TTL, GSIs, transactions)',
  },
  {
    type: 'AWS::SQS::Queue',
    level: 'supported',
    note: 'local-aws-sqs (redrive to DLQ, FIFO, message move tasks)',
  },
  {
    type: 'AWS::Lambda::Function',
    level: 'supported',
    note: 'bundled asset from cdk.out, run with its resolved environment',
  },
  {
    type: 'AWS::Lambda::EventSourceMapping',
    level: 'supported',
    note: 'runtime pollers for DynamoDB streams and SQS (batching, partial failures, bisect, retries, filters)',
  },
  { type: 'AWS::Events::EventBus', level: 'supported', note: 'runtime PutEvents endpoint' },
  {
    type: 'AWS::Events::Rule',
    level: 'supported',
    note: 'runtime event-pattern matcher delivering to targets',
  },
  {
    type: 'AWS::StepFunctions::StateMachine',
    level: 'supported',
    note: 'aws-local-stepfunctions with the runtime supplying service integrations',
  },
  { type: 'AWS::ApiGatewayV2::Api', level: 'supported', note: HTTP_API },
  { type: 'AWS::ApiGatewayV2::Route', level: 'supported', note: HTTP_API },
  { type: 'AWS::ApiGatewayV2::Integration', level: 'supported', note: HTTP_API },
  { type: 'AWS::ApiGatewayV2::Authorizer', level: 'supported', note: HTTP_API },
  { type: 'AWS::ApiGatewayV2::Stage', level: 'supported', note: HTTP_API },
  { type: 'AWS::Scheduler::Schedule', level: 'supported', note: 'runtime scheduler invoking the target' },
  {
    type: 'AWS::KMS::Key',
    level: 'supported',
    note: "runtime KMS (GenerateDataKey, Encrypt, Decrypt with encryption context) under the runtime's own master key; other services' encryption at rest is not emulated",
  },
  { type: 'AWS::KMS::Alias', level: 'supported', note: 'resolves to its key in the runtime KMS' },

  { type: 'AWS::SQS::QueuePolicy', level: 'ignored', note: NO_IAM },
  { type: 'AWS::IAM::Role', level: 'ignored', note: NO_IAM },
  { type: 'AWS::IAM::Policy', level: 'ignored', note: NO_IAM },
  { type: 'AWS::IAM::ManagedPolicy', level: 'ignored', note: NO_IAM },
  { type: 'AWS::Lambda::Permission', level: 'ignored', note: NO_IAM },
  { type: 'AWS::Events::EventBusPolicy', level: 'ignored', note: NO_IAM },
  { type: 'AWS::SNS::TopicPolicy', level: 'ignored', note: NO_IAM },
  {
    type: 'AWS::Lambda::Url',
    level: 'ignored',
    note: 'function URLs are not served locally; clients reach functions through the HTTP API',
  },
  {
    type: 'AWS::ApiGatewayV2::Deployment',
    level: 'ignored',
    note: 'the local gateway serves the current routes at once',
  },
  {
    type: 'AWS::Logs::LogGroup',
    level: 'ignored',
    note: 'functions log to the runtime output instead of CloudWatch Logs',
  },
  { type: 'AWS::Logs::MetricFilter', level: 'ignored', note: NO_METRICS },
  { type: 'AWS::CloudWatch::Alarm', level: 'ignored', note: NO_METRICS },
  { type: 'AWS::CloudWatch::CompositeAlarm', level: 'ignored', note: NO_METRICS },
  { type: 'AWS::CloudWatch::Dashboard', level: 'ignored', note: NO_METRICS },
  {
    type: 'AWS::SNS::Topic',
    level: 'ignored',
    note: 'alarm notification channel; alarms do not run locally, so nothing is published',
  },
  {
    type: 'AWS::SNS::Subscription',
    level: 'ignored',
    note: 'alarm notification channel; alarms do not run locally, so nothing is published',
  },
  {
    type: 'AWS::Scheduler::ScheduleGroup',
    level: 'ignored',
    note: 'only a namespace; schedules run without it',
  },
  { type: 'AWS::CDK::Metadata', level: 'ignored', note: 'CDK usage analytics; no behaviour' },
];

const SUPPORT_BY_TYPE = new Map(RESOURCE_SUPPORT.map((entry) => [entry.type, entry]));

/** How the runtime treats `type`; `undefined` means unsupported (the runtime cannot honour it). */
export function supportOf(type: string): ResourceSupport | undefined {
  return SUPPORT_BY_TYPE.get(type);
}

export interface ResourceClassification {
  supported: Record<string, string[]>;
  ignored: Record<string, { ids: string[]; reason: string }>;
  unsupported: Record<string, string[]>;
}

/** Groups the template's included resources (condition true) by what the runtime does with their type. */
export function classifyResources(
  template: CfnTemplate,
  account: LocalAccount = DEFAULT_ACCOUNT,
): ResourceClassification {
  const conditions = conditionResolver(template, account);
  const result: ResourceClassification = { supported: {}, ignored: {}, unsupported: {} };
  for (const logicalId of conditions.includedResources()) {
    const type = template.Resources[logicalId]?.Type ?? '';
    const support = supportOf(type);
    if (support?.level === 'supported') {
      result.supported[type] = [...(result.supported[type] ?? []), logicalId];
    } else if (support?.level === 'ignored') {
      const entry = result.ignored[type] ?? { ids: [], reason: support.note };
      entry.ids.push(logicalId);
      result.ignored[type] = entry;
    } else {
      result.unsupported[type] = [...(result.unsupported[type] ?? []), logicalId];
    }
  }
  return result;
}

/** The support table as Markdown, for the README. */
export function supportTableMarkdown(): string {
  const rows = RESOURCE_SUPPORT.map((entry) => `| \`${entry.type}\` | ${entry.level} | ${entry.note} |`);
  return ['| resource type | locally | how / why |', '|---|---|---|', ...rows].join('\n');
}

/** A start-up summary: one line per type, with counts, engines and reasons. */
export function formatClassification(classification: ResourceClassification): string {
  const lines: string[] = [];
  for (const [type, ids] of Object.entries(classification.supported)) {
    lines.push(`  run      ${type} x${ids.length}: ${supportOf(type)?.note ?? ''}`);
  }
  for (const [type, { ids, reason }] of Object.entries(classification.ignored)) {
    lines.push(`  ignore   ${type} x${ids.length}: ${reason}`);
  }
  for (const [type, ids] of Object.entries(classification.unsupported)) {
    lines.push(`  MISSING  ${type} x${ids.length}: not supported locally (${ids.join(', ')})`);
  }
  return lines.join('\n');
}
