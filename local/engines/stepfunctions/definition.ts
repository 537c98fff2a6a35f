/**
 * Validates a state machine definition and turns it into the definition aws-local-stepfunctions runs.
 *
 * The library evaluates `$$` against one context object per run, which it rebuilds for every Parallel branch and
 * Map iteration (overwriting `Execution.Input` and `Execution.StartTime`), and it knows nothing of `$$.State` or
 * `$$.Task`. So context references are rewritten to keys the engine controls:
 *   `$$.Execution…` → `$$.__Execution…`   (one object per execution, never overwritten)
 *   `$$.State…`     → `$$.__State[i]…`    (state `i` of the machine: Name, EnteredTime, RetryCount)
 *   `$$.Task…`      → `$$.__Task[i]…`     (Token: minted when the Parameters are evaluated)
 * Task states get an explicit `TimeoutSeconds` when they have none, because the library defaults to 60 s while AWS
 * waits (practically) forever, and `ErrorEquals: ["States.Timeout"]` also matches `States.HeartbeatTimeout` as in AWS.
 */
import { createRequire } from 'node:module';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { InvalidDefinitionError } from './errors.ts';

type Json = Record<string, unknown>;

interface AslValidationResult {
  isValid: boolean;
  errorsText(separator?: string): string;
}
type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => AslValidationResult;

// asl-validator is CommonJS without type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** Largest timer Node can arm (2^31-1 ms); a longer one fires immediately. */
export const MAX_TASK_TIMEOUT_SECONDS = 2_147_483;

export interface StateInfo {
  index: number;
  name: string;
  type: string;
  topLevel: boolean;
  /** The state as written in the template (before any rewrite). */
  definition: Json;
}

export interface PreparedDefinition {
  /** The parsed original definition (what DescribeStateMachine returns, re-serialized by the caller as given). */
  original: Json;
  runnable: StateMachineDefinition;
  states: StateInfo[];
  byName: Map<string, StateInfo>;
  /** The same machine starting at another top-level state: how a redrive resumes. */
  withStartAt(stateName: string): StateMachineDefinition;
}

export function prepareDefinition(definitionString: string): PreparedDefinition {
  let original: Json;
  try {
    const parsed: unknown = JSON.parse(definitionString);
    if (!isObject(parsed)) throw new Error('not a JSON object');
    original = parsed;
  } catch (error) {
    throw new InvalidDefinitionError(`Definition is not a JSON object: ${(error as Error).message}`);
  }
  if (usesJsonata(original)) {
    throw new InvalidDefinitionError(
      'QueryLanguage JSONata is not supported by the local engine; use JSONPath',
    );
  }
  // The validator annotates the document it is given, so it gets a copy.
  const validation = aslValidator(structuredClone(original), { checkArn: true, checkPaths: true });
  if (!validation.isValid) {
    throw new InvalidDefinitionError(`Invalid state machine definition: ${validation.errorsText('; ')}`);
  }

  const states: StateInfo[] = [];
  const runnable = prepareMachine(original, true, states);
  const byName = new Map(states.map((state) => [state.name, state]));
  return {
    original,
    // The rewritten JSON is still ASL; the library's type is a structural description of the same document.
    runnable: runnable as unknown as StateMachineDefinition,
    states,
    byName,
    withStartAt(stateName) {
      return { ...(runnable as unknown as StateMachineDefinition), StartAt: stateName };
    },
  };
}

function prepareMachine(machine: Json, topLevel: boolean, registry: StateInfo[]): Json {
  const statesIn = isObject(machine.States) ? machine.States : {};
  const statesOut: Json = {};
  for (const [name, raw] of Object.entries(statesIn)) {
    if (!isObject(raw)) continue;
    const index = registry.length;
    registry.push({ index, name, type: String(raw.Type), topLevel, definition: raw });
    statesOut[name] = prepareState(raw, index, registry);
  }
  return { ...machine, States: statesOut };
}

function prepareState(state: Json, index: number, registry: StateInfo[]): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(state)) {
    if (key === 'Branches' && Array.isArray(value)) {
      out[key] = value.map((branch) => (isObject(branch) ? prepareMachine(branch, false, registry) : branch));
    } else if ((key === 'ItemProcessor' || key === 'Iterator') && isObject(value)) {
      out[key] = prepareMachine(value, false, registry);
    } else if (key === 'Retry' || key === 'Catch') {
      out[key] = Array.isArray(value) ? value.map(withHeartbeatTimeoutMatching) : value;
    } else if (key === 'Result' || key === 'Comment') {
      out[key] = value;
    } else {
      out[key] = rewriteContextReferences(value, key, index);
    }
  }
  if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
    out.TimeoutSeconds = MAX_TASK_TIMEOUT_SECONDS;
  }
  return out;
}

function withHeartbeatTimeoutMatching(rule: unknown): unknown {
  if (!isObject(rule) || !Array.isArray(rule.ErrorEquals)) return rule;
  const names = rule.ErrorEquals as unknown[];
  if (!names.includes('States.Timeout') || names.includes('States.HeartbeatTimeout')) return rule;
  return { ...rule, ErrorEquals: [...names, 'States.HeartbeatTimeout'] };
}

/** Only JSONPath-valued fields are rewritten: `*.$` payload-template keys, `*Path` fields and Choice `Variable`. */
function rewriteContextReferences(value: unknown, key: string, index: number): unknown {
  if (typeof value === 'string') {
    const isPathField = key.endsWith('.$') || key.endsWith('Path') || key === 'Variable';
    return isPathField ? rewritePath(value, index) : value;
  }
  if (Array.isArray(value)) return value.map((item) => rewriteContextReferences(item, key, index));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([childKey, child]) => [
        childKey,
        rewriteContextReferences(child, childKey, index),
      ]),
    );
  }
  return value;
}

export function rewritePath(path: string, index: number): string {
  return path
    .replace(/\$\$\.Execution(?![\w])/g, '$$$$.__Execution')
    .replace(/\$\$\.State(?![\w])/g, `$$$$.__State[${index}]`)
    .replace(/\$\$\.Task(?![\w])/g, `$$$$.__Task[${index}]`);
}

function usesJsonata(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(usesJsonata);
  if (!isObject(value)) return false;
  return Object.entries(value).some(([key, child]) =>
    key === 'QueryLanguage' ? child === 'JSONata' : usesJsonata(child),
  );
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
