/**
 * Errors raised inside a running execution. aws-local-stepfunctions matches `Retry`/`Catch` `ErrorEquals` against
 * `error.name` and reports `error.message` as the `Cause`, so each error carries the Step Functions error name as
 * its `name` and the AWS-shaped cause as its `message` (never an `Error.cause`, which the library would prefer).
 */

/** A Task failure with a given Step Functions error name (e.g. `OutOfStock`, `DynamoDB.ConditionalCheckFailedException`). */
export class TaskFailedError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

/** `HeartbeatSeconds` elapsed without `SendTaskHeartbeat`. */
export class HeartbeatTimeoutError extends Error {
  constructor(stateName: string, heartbeatSeconds: number) {
    super(`Task '${stateName}' did not send a heartbeat within ${heartbeatSeconds} seconds`);
    this.name = 'States.HeartbeatTimeout';
  }
}

/**
 * `States.Runtime`: a failure no `Retry` or `Catch` may handle, as in AWS (the library reads these two flags).
 * Raised for task parameters the integration cannot use and for resources the local engine cannot run.
 */
export class StatesRuntimeError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor(message: string) {
    super(message);
    this.name = 'States.Runtime';
  }
}

/** A Task whose `Resource` the local engine cannot run: the execution fails with a message naming it. */
export class UnsupportedResourceError extends StatesRuntimeError {
  constructor(stateName: string, resource: string) {
    super(
      `Task '${stateName}' uses resource '${resource}', which the local Step Functions engine does not support`,
    );
  }
}

/** The definition is not valid ASL, or uses something the local engine cannot execute. */
export class InvalidDefinitionError extends Error {
  override name = 'InvalidDefinitionError';
}
