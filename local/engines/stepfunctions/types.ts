/** Shapes shared by the local Step Functions engine modules (AWS API names, camelCase as in the SFN API). */

export type StateMachineType = 'STANDARD' | 'EXPRESS';
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface StateMachineRegistration {
  name: string;
  arn: string;
  /** The resolved `DefinitionString` of the template. */
  definition: string;
  type: StateMachineType;
  roleArn?: string;
}

/** One entry of `GetExecutionHistory`. `timestamp` is epoch milliseconds here; the API converts it to a Date. */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

/** Everything known about one execution; also the persisted JSON document. */
export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  type: StateMachineType;
  status: ExecutionStatus;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: number;
  stopDate?: number;
  traceHeader?: string;
  redriveCount: number;
  redriveDate?: number;
  lastRedriveClientToken?: string;
  history: HistoryEvent[];
  /** The last top-level state entered and not yet left: where a redrive resumes, and with which input. */
  openState?: { name: string; input: string };
  /** State transitions billed by AWS for a Standard workflow (entered states plus retries). */
  stateTransitions: number;
}

/** An entry for `events:putEvents`, as EventBridge's PutEvents takes it. */
export interface PutEventsEntryInput {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Resources?: string[];
  Time?: Date;
  TraceHeader?: string;
}

export interface PutEventsOutput {
  FailedEntryCount: number;
  Entries: Array<{ EventId?: string; ErrorCode?: string; ErrorMessage?: string }>;
}

/** What the engine needs from the local EventBridge bus (implemented by `EventBridgeEngine`). */
export interface EventPublisher {
  putEvents(entries: PutEventsEntryInput[]): Promise<PutEventsOutput>;
}
