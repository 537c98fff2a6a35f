/**
 * Errors any handler may meet whatever its domain: lost optimistic locking, a message that can never be processed, a
 * stored item of the wrong shape. Their names are in the contracts too, because a saga step may throw them.
 */
import { STEP_ERRORS } from '#contracts/saga.ts';
import { namedError } from '#shared/named-error.ts';

/** Optimistic locking lost several times in a row; the caller (Step Functions, SQS) retries the whole step. */
export class ConcurrentModification extends namedError(STEP_ERRORS.ConcurrentModification) {}

/** A message that can never be processed (bad envelope, bad payload): it must end in a DLQ, not be retried forever. */
export class InvalidMessage extends namedError(STEP_ERRORS.InvalidMessage) {}

/** A stored item does not have the shape this code writes: data corruption or an unmigrated item. */
export class CorruptRecord extends namedError(STEP_ERRORS.CorruptRecord) {}
