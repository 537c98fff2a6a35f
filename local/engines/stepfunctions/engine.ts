/**
 * Local Step Functions: runs the template's state machines with aws-local-stepfunctions and keeps executions the
 * way the Step Functions API reports them (status, history, redrive). The operations mirror the AWS API (same
 * names and fields, `Date` for timestamps); `createStepFunctionsService` exposes them through the gateway.
 *
 * Known limits of the local engine (beyond those of aws-local-stepfunctions itself):
 * - RedriveExecution re-runs the top-level state that failed, with the input it had then; a failed Parallel or
 *   Map state is re-run as a whole (AWS re-runs only its failed branches/iterations), retry counters restart.
 * - `$$.State.RetryCount` / `EnteredTime` are tracked per state name, so concurrent Map iterations of the same
 *   state share them; Parallel/Map retries report RetryCount 0.
 * - `HeartbeatSecondsPath` is ignored (only `HeartbeatSeconds` arms the heartbeat timer); a heartbeat timeout
 *   is matched by `States.Timeout` (as on AWS) but also by the `States.TaskFailed` wildcard.
 * - STANDARD name reuse follows AWS: the same name and input return the execution only while it is RUNNING;
 *   once it has ended, StartExecution with that name fails with ExecutionAlreadyExists. EXPRESS names are not
 *   unique, as on AWS: every StartExecution runs a new execution (its ARN ends in a fresh id). The engine runs each
 *   EXPRESS execution once; AWS's at-least-once restarts are injected by a wrapper around the engine, `ExpressFaults` (`#local/faults/express.ts`).
 * - StartSyncExecution carries the SDK host prefix `sync-`; clients on 127.0.0.1 need `disableHostPrefix: true`.
 * - EXPRESS executions stay visible to DescribeExecution/GetExecutionHistory/ListExecutions (AWS hides them);
 *   that is a superset operators find useful locally.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  DEFAULT_ACCOUNT,
  type LambdaInvoker,
  type LocalAccount,
  type RuntimeLogger,
  silentLogger,
} from '../../types.ts';
import { AwsServiceError } from '../gateway.ts';
import { prepareDefinition } from './definition.ts';
import { appendHistory, toApiEvent } from './history.ts';
import type { IntegrationDeps } from './integrations.ts';
import { ExecutionStore } from './persistence.ts';
import { ExecutionRun, type RunEnvironment, type RunnableMachine } from './run.ts';
import { TaskTokenRegistry } from './tokens.ts';
import type {
  EventPublisher,
  ExecutionRecord,
  ExecutionStatus,
  StateMachineRegistration,
  StateMachineType,
} from './types.ts';
import { paginate, parseExecutionInput, requireArn, validateExecutionName } from './validation.ts';

export interface StepFunctionsEngineOptions {
  lambda: LambdaInvoker;
  sqs?: SQSClient;
  dynamodb?: DynamoDBClient;
  events?: EventPublisher;
  account?: LocalAccount;
  logger?: RuntimeLogger;
  /** Directory where executions are kept as JSON so they survive a restart. */
  persistDir?: string;
  /** Replaces every `Retry` interval (ms), so a saga with 30 s backoff retries quickly on a laptop. */
  retryIntervalOverrideMs?: number;
  /** Replaces every `Wait` state's duration (ms). */
  waitTimeOverrideMs?: number;
}

export interface StartExecutionInput {
  stateMachineArn: string;
  name?: string;
  input?: string;
  traceHeader?: string;
}

export interface DescribeExecutionOutput {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  inputDetails: { included: boolean };
  output?: string;
  outputDetails?: { included: boolean };
  error?: string;
  cause?: string;
  traceHeader?: string;
  redriveCount: number;
  redriveDate?: Date;
  redriveStatus: 'REDRIVABLE' | 'NOT_REDRIVABLE';
  redriveStatusReason?: string;
}

export interface StepFunctionsMetrics {
  stateMachines: number;
  executions: Record<ExecutionStatus, number>;
  redrives: number;
  /** Billed unit of STANDARD workflows. */
  standardStateTransitions: number;
  /** Billed units of EXPRESS workflows: requests and duration. */
  expressExecutions: number;
  expressDurationMs: number;
  byExecution: Record<string, { stateTransitions: number; durationMs?: number; type: StateMachineType }>;
}

interface RegisteredMachine extends RunnableMachine {
  creationDate: number;
}

const REDRIVE_PERIOD_MS = 14 * 24 * 3600 * 1000;

export class StepFunctionsEngine {
  private readonly account: LocalAccount;
  private readonly logger: RuntimeLogger;
  private readonly machines = new Map<string, RegisteredMachine>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly active = new Map<string, ExecutionRun>();
  private readonly store: ExecutionStore;
  private readonly tokens: TaskTokenRegistry;
  private readonly runEnvironment: RunEnvironment;
  private readonly idleWaiters = new Set<() => void>();
  private stopping = false;

  constructor(options: StepFunctionsEngineOptions) {
    this.account = options.account ?? DEFAULT_ACCOUNT;
    this.logger = options.logger ?? silentLogger;
    const integrations: IntegrationDeps = {
      lambda: options.lambda,
      sqs: options.sqs,
      dynamodb: options.dynamodb,
      events: options.events,
      logger: this.logger,
    };
    this.tokens = new TaskTokenRegistry(() => this.notifyProgress());
    this.store = new ExecutionStore(options.persistDir, this.logger);
    this.runEnvironment = {
      integrations,
      tokens: this.tokens,
      store: this.store,
      logger: this.logger,
      region: this.account.region,
      retryIntervalOverrideMs: options.retryIntervalOverrideMs,
      waitTimeOverrideMs: options.waitTimeOverrideMs,
      isStopping: () => this.stopping,
      onEnded: (run) => {
        this.active.delete(run.record.executionArn);
        this.notifyProgress();
      },
    };
    for (const record of this.store.loadAll()) this.restore(record);
  }

  /** Registers (or replaces) a state machine from the template; throws `InvalidDefinitionError` on bad ASL. */
  registerStateMachine(registration: StateMachineRegistration): void {
    const prepared = prepareDefinition(registration.definition);
    const roleArn =
      registration.roleArn ?? `arn:aws:iam::${this.account.accountId}:role/${registration.name}-role`;
    const existing = this.machines.get(registration.arn);
    this.machines.set(registration.arn, {
      registration: { ...registration, roleArn },
      prepared,
      creationDate: existing?.creationDate ?? Date.now(),
    });
    this.logger.debug('stepfunctions: state machine registered', {
      arn: registration.arn,
      type: registration.type,
    });
  }

  async startExecution(input: StartExecutionInput): Promise<{ executionArn: string; startDate: Date }> {
    const record = this.createExecution(input);
    return { executionArn: record.executionArn, startDate: new Date(record.startDate) };
  }

  /** EXPRESS only, as on AWS: runs the execution to its end and returns its outcome. */
  async startSyncExecution(input: StartExecutionInput) {
    const machine = this.requireMachine(input.stateMachineArn);
    if (machine.registration.type !== 'EXPRESS') {
      throw new AwsServiceError(
        'StateMachineTypeNotSupported',
        'This operation is not supported by this type of state machine',
      );
    }
    const record = this.createExecution(input);
    await this.active.get(record.executionArn)?.finished;
    const durationMs = (record.stopDate ?? Date.now()) - record.startDate;
    return {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      startDate: new Date(record.startDate),
      stopDate: new Date(record.stopDate ?? Date.now()),
      status: record.status,
      error: record.error,
      cause: record.cause,
      input: record.input,
      inputDetails: { included: true },
      output: record.output,
      outputDetails: record.output === undefined ? undefined : { included: true },
      traceHeader: record.traceHeader,
      billingDetails: {
        billedMemoryUsedInMB: 64,
        billedDurationInMilliseconds: Math.max(100, Math.ceil(durationMs / 100) * 100),
      },
    };
  }

  describeExecution(input: { executionArn: string }): DescribeExecutionOutput {
    const record = this.requireExecution(input.executionArn);
    const blocker = this.redriveBlocker(record);
    return {
      ...executionSummary(record),
      input: record.input,
      inputDetails: { included: true },
      output: record.output,
      outputDetails: record.output === undefined ? undefined : { included: true },
      error: record.error,
      cause: record.cause,
      traceHeader: record.traceHeader,
      redriveCount: record.redriveCount,
      redriveDate: optionalDate(record.redriveDate),
      redriveStatus: blocker ? 'NOT_REDRIVABLE' : 'REDRIVABLE',
      redriveStatusReason: blocker,
    };
  }

  listExecutions(input: {
    stateMachineArn: string;
    statusFilter?: string;
    maxResults?: number;
    nextToken?: string;
  }) {
    this.requireMachine(input.stateMachineArn);
    const matching = [...this.executions.values()]
      .filter((record) => record.stateMachineArn === input.stateMachineArn)
      .filter((record) => !input.statusFilter || record.status === input.statusFilter)
      .sort((a, b) => b.startDate - a.startDate);
    const page = paginate(matching, input.maxResults, input.nextToken);
    return {
      executions: page.items.map((record) => ({
        ...executionSummary(record),
        redriveCount: record.redriveCount,
        redriveDate: optionalDate(record.redriveDate),
      })),
      nextToken: page.nextToken,
    };
  }

  stopExecution(input: { executionArn: string; error?: string; cause?: string }): { stopDate: Date } {
    const record = this.requireExecution(input.executionArn);
    const run = this.active.get(record.executionArn);
    if (run && record.status === 'RUNNING') run.stop({ error: input.error, cause: input.cause });
    return { stopDate: new Date(record.stopDate ?? Date.now()) };
  }

  getExecutionHistory(input: {
    executionArn: string;
    maxResults?: number;
    reverseOrder?: boolean;
    nextToken?: string;
    includeExecutionData?: boolean;
  }) {
    const record = this.requireExecution(input.executionArn);
    const events = input.reverseOrder ? [...record.history].reverse() : record.history;
    const page = paginate(events, input.maxResults, input.nextToken);
    return {
      events: page.items.map((event) => toApiEvent(event, input.includeExecutionData ?? true)),
      nextToken: page.nextToken,
    };
  }

  describeStateMachine(input: { stateMachineArn: string }) {
    const machine = this.requireMachine(input.stateMachineArn);
    const { registration } = machine;
    return {
      stateMachineArn: registration.arn,
      name: registration.name,
      status: 'ACTIVE',
      definition: registration.definition,
      roleArn: registration.roleArn,
      type: registration.type,
      creationDate: new Date(machine.creationDate),
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  listStateMachines(input: { maxResults?: number; nextToken?: string } = {}) {
    const machines = [...this.machines.values()].sort((a, b) =>
      a.registration.name.localeCompare(b.registration.name),
    );
    const page = paginate(machines, input.maxResults, input.nextToken);
    return {
      stateMachines: page.items.map((machine) => ({
        stateMachineArn: machine.registration.arn,
        name: machine.registration.name,
        type: machine.registration.type,
        creationDate: new Date(machine.creationDate),
      })),
      nextToken: page.nextToken,
    };
  }

  sendTaskSuccess(input: { taskToken: string; output: string }): Record<string, never> {
    let output: unknown;
    try {
      output = JSON.parse(input.output);
    } catch {
      throw new AwsServiceError('InvalidOutput', `Invalid Output: '${input.output}'`);
    }
    this.tokens.succeed(input.taskToken, output);
    return {};
  }

  sendTaskFailure(input: { taskToken: string; error?: string; cause?: string }): Record<string, never> {
    this.tokens.fail(input.taskToken, input.error, input.cause);
    return {};
  }

  sendTaskHeartbeat(input: { taskToken: string }): Record<string, never> {
    this.tokens.heartbeat(input.taskToken);
    return {};
  }

  /** Resumes a FAILED/TIMED_OUT/ABORTED STANDARD execution from the top-level state it stopped in. */
  redriveExecution(input: { executionArn: string; clientToken?: string }): { redriveDate: Date } {
    const record = this.requireExecution(input.executionArn);
    if (input.clientToken && input.clientToken === record.lastRedriveClientToken && record.redriveDate) {
      return { redriveDate: new Date(record.redriveDate) };
    }
    const blocker = this.redriveBlocker(record);
    if (blocker) throw new AwsServiceError('ExecutionNotRedrivable', blocker);
    const machine = this.requireMachine(record.stateMachineArn);
    const resumeAt = record.openState ?? {
      name: String(machine.prepared.original.StartAt),
      input: record.input,
    };

    record.status = 'RUNNING';
    record.redriveCount += 1;
    record.redriveDate = Date.now();
    record.lastRedriveClientToken = input.clientToken;
    record.stopDate = undefined;
    record.error = undefined;
    record.cause = undefined;
    record.output = undefined;
    this.launch(record, machine, { input: JSON.parse(resumeAt.input) as unknown, resumeAt: resumeAt.name });
    return { redriveDate: new Date(record.redriveDate) };
  }

  /** Resolves once the execution is no longer running (immediately if it is not). */
  async waitForExecution(executionArn: string): Promise<DescribeExecutionOutput> {
    await this.active.get(executionArn)?.finished;
    return this.describeExecution({ executionArn });
  }

  /**
   * Resolves when no execution is making progress on its own: every execution has ended or is parked on a
   * task token (waiting for SendTaskSuccess/Failure, which only something outside the engine can send).
   */
  async waitForIdle(): Promise<void> {
    while (this.busyRuns().length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.add(resolve));
    }
  }

  metrics(): StepFunctionsMetrics {
    const executions: Record<ExecutionStatus, number> = {
      RUNNING: 0,
      SUCCEEDED: 0,
      FAILED: 0,
      TIMED_OUT: 0,
      ABORTED: 0,
    };
    const byExecution: StepFunctionsMetrics['byExecution'] = {};
    let redrives = 0;
    let standardStateTransitions = 0;
    let expressExecutions = 0;
    let expressDurationMs = 0;
    for (const record of this.executions.values()) {
      executions[record.status] += 1;
      redrives += record.redriveCount;
      const durationMs = record.stopDate === undefined ? undefined : record.stopDate - record.startDate;
      byExecution[record.executionArn] = {
        stateTransitions: record.stateTransitions,
        durationMs,
        type: record.type,
      };
      if (record.type === 'STANDARD') {
        standardStateTransitions += record.stateTransitions;
      } else {
        expressExecutions += 1;
        expressDurationMs += durationMs ?? 0;
      }
    }
    return {
      stateMachines: this.machines.size,
      executions,
      redrives,
      standardStateTransitions,
      expressExecutions,
      expressDurationMs,
      byExecution,
    };
  }

  /**
   * Stops every run without recording an outcome: persisted executions stay RUNNING and are marked
   * `Runtime.Interrupted` when the engine is created again on the same `persistDir`.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const runs = [...this.active.values()];
    for (const run of runs) run.abort();
    await Promise.allSettled(runs.map((run) => run.finished));
    this.tokens.closeWhere(() => true);
    await this.store.flush();
  }

  // ---------------------------------------------------------------------------------------------------------

  private createExecution(input: StartExecutionInput): ExecutionRecord {
    // A start that arrives while the engine stops (a starter still in flight, a delayed EXPRESS restart) would run
    // on a stopped runtime and keep its process alive.
    if (this.stopping)
      throw new AwsServiceError('ServiceUnavailable', 'The local Step Functions engine is stopping');
    const machine = this.requireMachine(input.stateMachineArn);
    const { registration } = machine;
    const name = input.name ?? randomUUID();
    validateExecutionName(name);
    const inputString = input.input ?? '{}';
    const parsedInput = parseExecutionInput(inputString);

    const { region, accountId } = this.account;
    let executionArn: string;
    if (registration.type === 'STANDARD') {
      executionArn = `arn:aws:states:${region}:${accountId}:execution:${registration.name}:${name}`;
      const existing = this.executions.get(executionArn);
      if (existing) {
        // AWS: StartExecution is idempotent for a RUNNING execution started with the same name and input.
        if (existing.status === 'RUNNING' && existing.input === inputString) return existing;
        throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
    } else {
      executionArn = `arn:aws:states:${region}:${accountId}:express:${registration.name}:${name}:${randomUUID()}`;
    }

    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: registration.arn,
      name,
      type: registration.type,
      status: 'RUNNING',
      input: inputString,
      startDate: Date.now(),
      traceHeader: input.traceHeader,
      redriveCount: 0,
      history: [],
      stateTransitions: 0,
    };
    this.executions.set(executionArn, record);
    this.launch(record, machine, { input: parsedInput });
    return record;
  }

  /** A persisted execution that was RUNNING when the process died cannot continue: fail it so it can be redriven. */
  private restore(record: ExecutionRecord): void {
    if (record.status === 'RUNNING') {
      record.status = 'FAILED';
      record.error = 'Runtime.Interrupted';
      record.cause =
        `The local runtime stopped while this execution was running` +
        (record.openState ? ` in state '${record.openState.name}'` : '') +
        '; redrive it to resume.';
      record.stopDate = Date.now();
      appendHistory(record, {
        type: 'ExecutionFailed',
        details: { error: record.error, cause: record.cause },
      });
      this.store.save(record);
    }
    this.executions.set(record.executionArn, record);
  }

  private redriveBlocker(record: ExecutionRecord): string | undefined {
    if (record.type === 'EXPRESS') return 'Execution is of type EXPRESS and cannot be redriven.';
    if (record.status === 'RUNNING') return 'Execution is RUNNING and cannot be redriven.';
    if (record.status === 'SUCCEEDED') return 'Execution is SUCCEEDED and cannot be redriven.';
    if (record.stopDate !== undefined && Date.now() - record.stopDate > REDRIVE_PERIOD_MS) {
      return 'Execution redrivable period exceeded.';
    }
    if (!this.machines.has(record.stateMachineArn)) return 'State machine does not exist.';
    return undefined;
  }

  private launch(
    record: ExecutionRecord,
    machine: RegisteredMachine,
    start: { input: unknown; resumeAt?: string },
  ) {
    const run = new ExecutionRun(record, machine, this.runEnvironment, start);
    this.active.set(record.executionArn, run);
  }

  private busyRuns(): ExecutionRun[] {
    return [...this.active.values()].filter((run) => !run.isParked());
  }

  private notifyProgress(): void {
    const waiters = [...this.idleWaiters];
    this.idleWaiters.clear();
    for (const wake of waiters) wake();
  }

  private requireMachine(arn: string | undefined): RegisteredMachine {
    requireArn(arn, 'stateMachineArn');
    const machine = this.machines.get(arn);
    if (!machine)
      throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private requireExecution(arn: string | undefined): ExecutionRecord {
    requireArn(arn, 'executionArn');
    const record = this.executions.get(arn);
    if (!record) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return record;
  }
}

/** The fields DescribeExecution and ListExecutions both give for an execution, as the SFN API shapes them. */
function executionSummary(record: ExecutionRecord) {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: new Date(record.startDate),
    stopDate: optionalDate(record.stopDate),
  };
}

function optionalDate(ms: number | undefined): Date | undefined {
  return ms === undefined ? undefined : new Date(ms);
}
