/**
 * Errors any handler may meet whatever its domain: lost optimistic locking, a message that can never be processed, a
 * stored item of the wrong shape. Their names are in the contracts too, because a saga step may throw them.
 */
import { STEP_ERRORS } from '#contracts/saga.ts';

/** Optimistic locking lost several times in a row; the caller (Step Functions, SQS) retries the whole step. */
export class ConcurrentModification extends Error {
  override name = STEP_ERRORS.ConcurrentModification;
}

/** A message that can never be processed (bad envelope, bad payload): it must end in a DLQ, not be retried forever. */
export class InvalidMessage extends Error {
  override name = STEP_ERRORS.InvalidMessage;
}

/** A stored item does not have the shape this code writes: data corruption or an unmigrated item. */
export class CorruptRecord extends Error {
  override name = STEP_ERRORS.CorruptRecord;
}
