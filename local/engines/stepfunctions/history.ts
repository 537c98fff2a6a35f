/**
 * Execution history in the shape of `GetExecutionHistory`: numbered events with AWS event types
 * (`TaskStateEntered`, `TaskScheduled`, `TaskFailed`, `ExecutionFailed`, …) and their `<type>EventDetails`.
 * aws-local-stepfunctions reports its own event log (StateEntered/StateExited/…); `fromLibraryEvent` translates it.
 */
import type { ExecutionRecord, HistoryEvent } from './types.ts';

export type HistoryDetails = Record<string, unknown>;

export interface NewHistoryEvent {
  type: string;
  details?: HistoryDetails;
  timestamp?: number;
}

export function appendHistory(record: ExecutionRecord, event: NewHistoryEvent): HistoryEvent {
  const last = record.history.at(-1);
  const id = (last?.id ?? 0) + 1;
  const entry: HistoryEvent = {
    id,
    previousEventId: last?.id ?? 0,
    timestamp: event.timestamp ?? Date.now(),
    type: event.type,
  };
  if (event.details) entry[detailsKey(event.type)] = withoutUndefined(event.details);
  record.history.push(entry);
  return entry;
}

/** `TaskStateEntered` → `stateEnteredEventDetails`, `TaskScheduled` → `taskScheduledEventDetails`, … */
export function detailsKey(type: string): string {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  return `${type[0]?.toLowerCase()}${type.slice(1)}EventDetails`;
}

const DATA_FIELDS = new Set(['input', 'output', 'parameters']);

/** The API form: a Date timestamp, and without inputs/outputs when `includeExecutionData` is false. */
export function toApiEvent(event: HistoryEvent, includeExecutionData: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...event, timestamp: new Date(event.timestamp) };
  if (includeExecutionData) return out;
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith('EventDetails') || typeof value !== 'object' || value === null) continue;
    out[key] = Object.fromEntries(Object.entries(value).filter(([field]) => !DATA_FIELDS.has(field)));
  }
  return out;
}

/** The subset of the library's event log the history is built from. */
export interface LibraryEvent {
  type: string;
  timestamp: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
  index?: number;
  state?: { name: string; type: string; input: unknown; output?: unknown };
  parentState?: { name: string; type: string };
}

export interface TranslationContext {
  redriveCount: number;
  /** True for the run started by RedriveExecution: its start is `ExecutionRedriven`, not `ExecutionStarted`. */
  redrive: boolean;
  roleArn: string;
  /** Error and cause of the execution's end, already normalized by the engine. */
  failure?: { error?: string; cause?: string };
}

/**
 * Translates one library event into AWS history events. Task attempts are recorded by the engine itself
 * (TaskScheduled/…/TaskFailed), so a Task's `StateFailed` maps to nothing here.
 */
export function fromLibraryEvent(event: LibraryEvent, context: TranslationContext): NewHistoryEvent[] {
  const timestamp = event.timestamp;
  const state = event.state;
  switch (event.type) {
    case 'ExecutionStarted':
      return context.redrive
        ? [{ type: 'ExecutionRedriven', timestamp, details: { redriveCount: context.redriveCount } }]
        : [
            {
              type: 'ExecutionStarted',
              timestamp,
              details: {
                input: json(event.input),
                inputDetails: { truncated: false },
                roleArn: context.roleArn,
              },
            },
          ];
    case 'ExecutionSucceeded':
      return [
        {
          type: 'ExecutionSucceeded',
          timestamp,
          details: { output: json(event.output), outputDetails: { truncated: false } },
        },
      ];
    case 'ExecutionFailed':
      return [{ type: 'ExecutionFailed', timestamp, details: { ...context.failure } }];
    case 'ExecutionAborted':
      return [{ type: 'ExecutionAborted', timestamp, details: { ...context.failure } }];
    case 'ExecutionTimeout':
      return [{ type: 'ExecutionTimedOut', timestamp, details: { ...context.failure } }];
    case 'StateEntered': {
      if (!state) return [];
      const entered: NewHistoryEvent = {
        type: `${state.type}StateEntered`,
        timestamp,
        details: { name: state.name, input: json(state.input), inputDetails: { truncated: false } },
      };
      if (state.type === 'Parallel') return [entered, { type: 'ParallelStateStarted', timestamp }];
      if (state.type === 'Map') return [entered, { type: 'MapStateStarted', timestamp }];
      return [entered];
    }
    case 'StateExited': {
      if (!state) return [];
      const exited: NewHistoryEvent = {
        type: `${state.type}StateExited`,
        timestamp,
        details: { name: state.name, output: json(state.output), outputDetails: { truncated: false } },
      };
      if (state.type === 'Parallel') return [{ type: 'ParallelStateSucceeded', timestamp }, exited];
      if (state.type === 'Map') return [{ type: 'MapStateSucceeded', timestamp }, exited];
      return [exited];
    }
    case 'StateFailed':
      if (state?.type === 'Parallel') return [{ type: 'ParallelStateFailed', timestamp }];
      if (state?.type === 'Map') return [{ type: 'MapStateFailed', timestamp }];
      return [];
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed':
      return [
        { type: event.type, timestamp, details: { name: event.parentState?.name, index: event.index } },
      ];
    default:
      // StateRetried / StateCaught / ParallelBranch*: AWS history has no such events (a retry shows as a new
      // TaskScheduled, a catch as the next state entered).
      return [];
  }
}

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

function withoutUndefined(details: HistoryDetails): HistoryDetails {
  return Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
}
