/**
 * Errors of the Lambda API itself (not of a handler: those come back inside the invoke result). Their
 * names are the Lambda API's error codes, so callers that map them (Step Functions' `Lambda.*` errors,
 * the SDK-facing endpoint) can use `name` as is.
 */
import { namedError } from '#shared/named-error.ts';

/** No function with that name or ARN is registered. */
export class LambdaFunctionNotFoundError extends namedError('ResourceNotFoundException') {}

/** The function cannot run at all now: its reserved concurrency is 0. */
export class LambdaThrottledError extends namedError('TooManyRequestsException') {}

/** The request payload is over Lambda's 6 MB limit for synchronous invocations. */
export class LambdaPayloadTooLargeError extends namedError('RequestEntityTooLargeException') {}

/** A function definition passed to `register` is unusable. */
export class LambdaRegistrationError extends namedError('LambdaRegistrationError') {}
