/**
 * Contracts between the parts of the local runtime. Each engine takes what it needs through these
 * interfaces, so engines can be tested alone and the orchestrator (`local/runtime.ts`) wires them.
 */

/** One resource of a CloudFormation template as `cdk synth` writes it. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Conditions?: Record<string, unknown>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Outputs?: Record<string, { Value: unknown; Export?: unknown; Description?: string }>;
}

/** Where the account-wide pseudo parameters point locally. */
export interface LocalAccount {
  region: string;
  accountId: string;
  stackName: string;
}

export const DEFAULT_ACCOUNT: LocalAccount = {
  region: 'us-east-1',
  accountId: '000000000000',
  stackName: 'Buzzer',
};

/** The outcome of one Lambda invocation, as the Lambda service reports it. */
export interface InvokeResult {
  /** The handler's return value (already JSON-cloned). Undefined when `error` is set. */
  payload?: unknown;
  /** Set when the handler threw, timed out or its execution environment crashed (`errorType` as Lambda names it). */
  error?: { errorType: string; errorMessage: string; trace?: string[] };
  durationMs: number;
}

/** Invokes local Lambda functions by name or ARN. */
export interface LambdaInvoker {
  invoke(functionNameOrArn: string, event: unknown): Promise<InvokeResult>;
}

/** Minimal structured logger used by the runtime itself (not by handlers). */
export interface RuntimeLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: RuntimeLogger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};

/** Something the runtime started and must stop on shutdown. */
export interface Stoppable {
  stop(): Promise<void>;
}
