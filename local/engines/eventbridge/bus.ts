/**
 * Local EventBridge: event buses and rules registered from the template, PutEvents with the validation and
 * per-entry results of the AWS API, and asynchronous delivery of matching events to rule targets through the
 * `TargetDispatcher` (retry policy, DLQ). Rules with a `ScheduleExpression` are handed to the `Scheduler`.
 * `createEventBridgeService` exposes PutEvents and the read operations through the gateway (`AWSEvents`).
 *
 * One deliberate difference: AWS accepts PutEvents entries for a bus that does not exist and drops them
 * silently; locally such an entry fails with `ResourceNotFoundException`, so a misnamed bus shows up at once.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_ACCOUNT, type LocalAccount, type RuntimeLogger, silentLogger } from '../../types.ts';
import { AwsServiceError, type ServiceHandler } from '../gateway.ts';
import { isoSeconds, type Scheduler } from '../scheduler.ts';
import type { PutEventsEntryInput, PutEventsOutput } from '../stepfunctions/types.ts';
import { type CompiledEventPattern, compileEventPattern, type EventPattern } from './pattern.ts';
import {
  type DeliveryTarget,
  type RetryPolicy,
  TargetDeliveryError,
  type TargetDispatcher,
  targetTypeOf,
} from './targets.ts';
import { renderTargetInput, type TargetInput, validateTargetInput } from './transform.ts';

export const EVENTBRIDGE_TARGET = 'AWSEvents';

/** A rule target as `AWS::Events::Rule` declares it (resolved). */
export interface RuleTargetProperties extends TargetInput {
  Id: string;
  Arn: string;
  RoleArn?: string;
  SqsParameters?: { MessageGroupId?: string };
  RetryPolicy?: RetryPolicy;
  DeadLetterConfig?: { Arn?: string };
}

/** Resolved properties of `AWS::Events::Rule`. */
export interface RuleProperties {
  Name?: string;
  EventBusName?: string;
  EventPattern?: string | EventPattern;
  ScheduleExpression?: string;
  State?: string;
  Description?: string;
  RoleArn?: string;
  Targets?: RuleTargetProperties[];
}

export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export interface EventBridgeMetrics {
  entriesPut: number;
  entriesFailed: number;
  /** (event, rule) matches; each delivers to every target of the rule. */
  matched: number;
  deliveries: ReturnType<TargetDispatcher['metrics']>;
}

export interface EventBridgeEngineOptions {
  dispatcher: TargetDispatcher;
  scheduler?: Scheduler;
  account?: LocalAccount;
  logger?: RuntimeLogger;
  /**
   * PutEvents answers only once every matched target has had its first delivery attempt. AWS stores an accepted event
   * durably before it answers; this engine keeps events in memory until they are delivered, so a runtime that persists
   * its queues (`--persist`) waits for the journaled SendMessage instead, and a SIGKILL after the answer cannot take an
   * event the relay has already marked published. A delivery whose first attempt failed retries in memory, as before.
   * @default false
   */
  acknowledgeOnDelivery?: boolean;
}

/** The rule is unusable: unknown bus, invalid pattern or target input, neither pattern nor schedule. */
export class InvalidRuleError extends Error {
  override name = 'InvalidRuleError';
}

interface Bus {
  name: string;
  arn: string;
  description?: string;
  createdAt: Date;
}

interface Rule {
  name: string;
  arn: string;
  bus: Bus;
  props: RuleProperties;
  pattern?: CompiledEventPattern;
  enabled: boolean;
}

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

export class EventBridgeEngine {
  private readonly dispatcher: TargetDispatcher;
  private readonly scheduler: Scheduler | undefined;
  private readonly account: LocalAccount;
  private readonly logger: RuntimeLogger;
  private readonly buses = new Map<string, Bus>();
  private readonly rules = new Map<string, Rule>();
  private readonly counters = { entriesPut: 0, entriesFailed: 0, matched: 0 };
  private readonly acknowledgeOnDelivery: boolean;

  constructor(options: EventBridgeEngineOptions) {
    this.dispatcher = options.dispatcher;
    this.acknowledgeOnDelivery = options.acknowledgeOnDelivery ?? false;
    this.scheduler = options.scheduler;
    this.account = options.account ?? DEFAULT_ACCOUNT;
    this.logger = options.logger ?? silentLogger;
    this.registerEventBus({ name: 'default' });
    this.dispatcher.setForwarder((busArn, event) => this.forward(busArn, event));
  }

  registerEventBus(props: { name: string; description?: string }): { name: string; arn: string } {
    const arn = `arn:aws:events:${this.account.region}:${this.account.accountId}:event-bus/${props.name}`;
    if (!this.buses.has(props.name)) {
      this.buses.set(props.name, {
        name: props.name,
        arn,
        description: props.description,
        createdAt: new Date(),
      });
    }
    return { name: props.name, arn };
  }

  /** Registers an `AWS::Events::Rule`; `defaultName` is used when the template gives the rule no Name. */
  registerRule(props: RuleProperties, defaultName?: string): { name: string; arn: string } {
    const bus = this.findBus(props.EventBusName ?? 'default');
    if (!bus) throw new InvalidRuleError(`Event bus ${props.EventBusName} does not exist`);
    const name = props.Name ?? defaultName ?? `rule-${randomUUID()}`;
    const { region, accountId } = this.account;
    const arn =
      bus.name === 'default'
        ? `arn:aws:events:${region}:${accountId}:rule/${name}`
        : `arn:aws:events:${region}:${accountId}:rule/${bus.name}/${name}`;
    if (props.EventPattern === undefined && props.ScheduleExpression === undefined) {
      throw new InvalidRuleError(`Rule ${name} needs an EventPattern or a ScheduleExpression`);
    }
    for (const target of props.Targets ?? []) {
      validateTargetInput(target);
      if (!targetTypeOf(target.Arn)) {
        this.logger.warn('eventbridge: rule target type is not supported locally', {
          rule: name,
          target: target.Arn,
        });
      }
    }
    const rule: Rule = {
      name,
      arn,
      bus,
      props,
      pattern: props.EventPattern === undefined ? undefined : compileEventPattern(props.EventPattern),
      enabled: (props.State ?? 'ENABLED').startsWith('ENABLED'),
    };
    this.rules.set(`${bus.name}/${name}`, rule);

    if (props.ScheduleExpression !== undefined) {
      if (!this.scheduler)
        throw new InvalidRuleError(`Rule ${name} has a schedule but no scheduler is running`);
      this.scheduler.addJob({
        name,
        arn,
        expression: props.ScheduleExpression,
        enabled: rule.enabled,
        fire: (scheduledTime) => this.fireScheduledRule(rule, scheduledTime),
      });
    }
    return { name, arn };
  }

  async putEvents(entries: PutEventsEntryInput[]): Promise<PutEventsOutput> {
    this.checkRequest(entries);
    const firstAttempts: Array<Promise<void>> = [];
    const results = entries.map((entry) => {
      const failure = this.validate(entry);
      if (failure) {
        this.counters.entriesFailed += 1;
        return failure;
      }
      const bus = this.findBus(entry.EventBusName ?? 'default');
      const event = this.envelope(entry);
      this.counters.entriesPut += 1;
      if (bus) firstAttempts.push(...this.route(bus, event));
      return { EventId: event.id };
    });
    if (this.acknowledgeOnDelivery) await Promise.all(firstAttempts);
    return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
  }

  /**
   * An event an AWS service puts on the default bus (S3's `Object Created` of a bucket with EventBridge
   * notifications): no PutEvents validation, since `aws.*` sources are the services' own.
   */
  putServiceEvent(event: {
    source: string;
    detailType: string;
    detail: unknown;
    resources: string[];
  }): string {
    const envelope: EventEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': event.detailType,
      source: event.source,
      account: this.account.accountId,
      time: isoSeconds(new Date()),
      region: this.account.region,
      resources: event.resources,
      detail: event.detail,
    };
    this.counters.entriesPut += 1;
    const bus = this.findBus('default');
    if (bus) this.route(bus, envelope);
    return envelope.id;
  }

  /** Throws what PutEvents throws for the request as a whole (entry count, total size), before any entry is put. */
  checkRequest(entries: readonly PutEventsEntryInput[]): void {
    if (entries.length < 1 || entries.length > MAX_ENTRIES) {
      throw new AwsServiceError(
        'ValidationException',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: ` +
          `Member must have length less than or equal to ${MAX_ENTRIES} and greater than or equal to 1`,
      );
    }
    if (entries.reduce((total, entry) => total + entrySize(entry), 0) > MAX_REQUEST_BYTES) {
      throw new AwsServiceError(
        'ValidationException',
        'Total size of the entries in the request is over the limit.',
      );
    }
  }

  listRules(input: { NamePrefix?: string; EventBusName?: string; NextToken?: string; Limit?: number }) {
    const bus = this.requireBus(input.EventBusName);
    const rules = [...this.rules.values()]
      .filter((rule) => rule.bus === bus && rule.name.startsWith(input.NamePrefix ?? ''))
      .sort((a, b) => a.name.localeCompare(b.name));
    const page = paginate(rules, input.Limit, input.NextToken);
    return { Rules: page.items.map((rule) => this.describe(rule)), NextToken: page.nextToken };
  }

  describeRule(input: { Name: string; EventBusName?: string }) {
    return {
      ...this.describe(this.requireRule(input.Name, input.EventBusName)),
      CreatedBy: this.account.accountId,
    };
  }

  listTargetsByRule(input: { Rule: string; EventBusName?: string; NextToken?: string; Limit?: number }) {
    const rule = this.requireRule(input.Rule, input.EventBusName);
    const page = paginate(rule.props.Targets ?? [], input.Limit, input.NextToken);
    return { Targets: page.items, NextToken: page.nextToken };
  }

  listEventBuses(input: { NamePrefix?: string; NextToken?: string; Limit?: number } = {}) {
    const buses = [...this.buses.values()].filter((bus) => bus.name.startsWith(input.NamePrefix ?? ''));
    const page = paginate(buses, input.Limit, input.NextToken);
    return {
      EventBuses: page.items.map((bus) => ({
        Name: bus.name,
        Arn: bus.arn,
        Description: bus.description,
        CreationTime: bus.createdAt,
        LastModifiedTime: bus.createdAt,
      })),
      NextToken: page.nextToken,
    };
  }

  describeEventBus(input: { Name?: string }) {
    const bus = this.requireBus(input.Name);
    return { Name: bus.name, Arn: bus.arn, Description: bus.description, CreationTime: bus.createdAt };
  }

  metrics(): EventBridgeMetrics {
    return { ...this.counters, deliveries: this.dispatcher.metrics() };
  }

  /** Resolves once every matched event has been delivered, dead-lettered or dropped. */
  waitForIdle(): Promise<void> {
    return this.dispatcher.waitForIdle();
  }

  private validate(entry: PutEventsEntryInput): { ErrorCode: string; ErrorMessage: string } | undefined {
    for (const field of ['Source', 'DetailType', 'Detail'] as const) {
      if (!entry[field]) {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
        };
      }
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail ?? '');
    } catch {
      detail = undefined;
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (!this.findBus(entry.EventBusName ?? 'default')) {
      return {
        ErrorCode: 'ResourceNotFoundException',
        ErrorMessage: `Event bus ${entry.EventBusName} does not exist.`,
      };
    }
    return undefined;
  }

  private envelope(entry: PutEventsEntryInput): EventEnvelope {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType ?? '',
      source: entry.Source ?? '',
      account: this.account.accountId,
      time: isoSeconds(entry.Time ?? new Date()),
      region: this.account.region,
      resources: entry.Resources ?? [],
      detail: JSON.parse(entry.Detail ?? '{}') as unknown,
    };
  }

  /**
   * Matches the event against the bus's enabled pattern rules and starts delivery to their targets; answers each
   * delivery's first attempt.
   */
  private route(bus: Bus, event: EventEnvelope | Record<string, unknown>): Array<Promise<void>> {
    const ingestionTime = new Date().toISOString();
    const firstAttempts: Array<Promise<void>> = [];
    for (const rule of this.rules.values()) {
      if (rule.bus !== bus || !rule.enabled || !rule.pattern) continue;
      let matched: boolean;
      try {
        matched = rule.pattern.matches(event);
      } catch (error) {
        this.logger.error('eventbridge: pattern evaluation failed', {
          rule: rule.name,
          error: String(error),
        });
        continue;
      }
      if (!matched) continue;
      this.counters.matched += 1;
      firstAttempts.push(...this.deliver(rule, event, ingestionTime));
    }
    return firstAttempts;
  }

  private deliver(rule: Rule, event: unknown, ingestionTime: string): Array<Promise<void>> {
    const firstAttempts: Array<Promise<void>> = [];
    const eventId =
      typeof event === 'object' && event !== null ? String((event as { id?: unknown }).id) : undefined;
    for (const target of rule.props.Targets ?? []) {
      let payload: string;
      try {
        payload = renderTargetInput(event, target, { ruleName: rule.name, ruleArn: rule.arn, ingestionTime });
      } catch (error) {
        this.logger.error('eventbridge: cannot render target input', {
          rule: rule.name,
          target: target.Id,
          error: String(error),
        });
        continue;
      }
      const deliveryTarget: DeliveryTarget = {
        arn: target.Arn,
        messageGroupId: target.SqsParameters?.MessageGroupId,
        retryPolicy: target.RetryPolicy,
        deadLetterArn: target.DeadLetterConfig?.Arn,
      };
      firstAttempts.push(
        this.dispatcher.dispatch(deliveryTarget, {
          payload,
          deadLetterBody: JSON.stringify(event),
          eventTime: Date.now(),
          deduplicationId: eventId,
          deadLetterAttributes: { RULE_ARN: rule.arn },
          source: `rule ${rule.bus.name}/${rule.name}`,
        }),
      );
    }
    return firstAttempts;
  }

  /** A scheduled rule fires the "Scheduled Event" of the default bus to its targets. */
  private fireScheduledRule(rule: Rule, scheduledTime: Date): void {
    const event: EventEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: this.account.accountId,
      time: isoSeconds(scheduledTime),
      region: this.account.region,
      resources: [rule.arn],
      detail: {},
    };
    this.deliver(rule, event, new Date().toISOString());
  }

  private async forward(busArn: string, event: unknown): Promise<void> {
    const bus = this.findBus(busArn);
    if (!bus) throw new TargetDeliveryError('NO_RESOURCE', `Event bus ${busArn} does not exist`, false);
    if (typeof event !== 'object' || event === null) {
      throw new TargetDeliveryError('INVALID_JSON', 'An event bus target needs a JSON event', false);
    }
    this.route(bus, event as Record<string, unknown>);
  }

  private describe(rule: Rule) {
    const { props } = rule;
    return {
      Name: rule.name,
      Arn: rule.arn,
      EventPattern: rule.pattern ? JSON.stringify(rule.pattern.pattern) : undefined,
      ScheduleExpression: props.ScheduleExpression,
      State: props.State ?? 'ENABLED',
      Description: props.Description,
      RoleArn: props.RoleArn,
      EventBusName: rule.bus.name,
    };
  }

  /** A bus by name or ARN. */
  private findBus(nameOrArn: string): Bus | undefined {
    if (!nameOrArn.startsWith('arn:')) return this.buses.get(nameOrArn);
    const marker = ':event-bus/';
    const at = nameOrArn.indexOf(marker);
    return at < 0 ? undefined : this.buses.get(nameOrArn.slice(at + marker.length));
  }

  private requireBus(nameOrArn: string | undefined): Bus {
    const bus = this.findBus(nameOrArn ?? 'default');
    if (!bus)
      throw new AwsServiceError('ResourceNotFoundException', `Event bus ${nameOrArn} does not exist.`);
    return bus;
  }

  private requireRule(name: string | undefined, busName: string | undefined): Rule {
    const bus = this.requireBus(busName);
    const rule = this.rules.get(`${bus.name}/${name ?? ''}`);
    if (!rule)
      throw new AwsServiceError(
        'ResourceNotFoundException',
        `Rule ${name} does not exist on EventBus ${bus.name}.`,
      );
    return rule;
  }
}

/** The size AWS counts for an entry: Time (14 bytes when set), Source, DetailType, Detail and Resources. */
function entrySize(entry: PutEventsEntryInput): number {
  const bytes = (text: string | undefined) => (text ? Buffer.byteLength(text) : 0);
  return (
    (entry.Time ? 14 : 0) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((total, resource) => total + bytes(resource), 0)
  );
}

function paginate<T>(items: T[], limit: number | undefined, nextToken: string | undefined) {
  const offset = nextToken ? Number(Buffer.from(nextToken, 'base64url').toString('utf8')) : 0;
  if (!Number.isInteger(offset) || offset < 0)
    throw new AwsServiceError('ValidationException', 'Invalid NextToken');
  const size = limit && limit > 0 ? Math.min(limit, 100) : 100;
  const end = offset + size;
  return {
    items: items.slice(offset, end),
    nextToken: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined,
  };
}

/** The `AWSEvents` service of the gateway. */
export function createEventBridgeService(engine: EventBridgeEngine): ServiceHandler {
  return async (operation, body) => {
    const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    switch (operation) {
      case 'PutEvents':
        return engine.putEvents(toEntries(input.Entries));
      case 'ListRules':
        return engine.listRules(input as Parameters<EventBridgeEngine['listRules']>[0]);
      case 'DescribeRule':
        return engine.describeRule(input as Parameters<EventBridgeEngine['describeRule']>[0]);
      case 'ListTargetsByRule':
        return engine.listTargetsByRule(input as Parameters<EventBridgeEngine['listTargetsByRule']>[0]);
      case 'ListEventBuses':
        return engine.listEventBuses(input as Parameters<EventBridgeEngine['listEventBuses']>[0]);
      case 'DescribeEventBus':
        return engine.describeEventBus(input as Parameters<EventBridgeEngine['describeEventBus']>[0]);
      default:
        throw new AwsServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported locally`,
        );
    }
  };
}

/** PutEvents entries off the wire: `Time` arrives as epoch seconds. */
function toEntries(raw: unknown): PutEventsEntryInput[] {
  if (!Array.isArray(raw)) {
    throw new AwsServiceError('ValidationException', "1 validation error detected: Value null at 'entries'");
  }
  return raw.map((item) => {
    const entry = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    return {
      Source: text(entry.Source),
      DetailType: text(entry.DetailType),
      Detail: text(entry.Detail),
      EventBusName: text(entry.EventBusName),
      Resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : undefined,
      Time: typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : undefined,
      TraceHeader: text(entry.TraceHeader),
    };
  });
}
