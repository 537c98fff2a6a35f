import { isRecord } from '#local/template/props.ts';

/**
 * How Lambda reads a function's response when `ReportBatchItemFailures` is on. Success: no response, an
 * empty object, or a null/empty `batchItemFailures`. Everything malformed (an item without
 * `itemIdentifier`, an empty or null identifier, one that names no record of the batch, a response that
 * is not an object) fails the whole batch.
 */
export type BatchResponse =
  | { kind: 'success' }
  | { kind: 'partial'; failed: ReadonlySet<string> }
  | { kind: 'invalid'; reason: string };

export function interpretBatchResponse(payload: unknown, identifiers: readonly string[]): BatchResponse {
  if (payload === undefined || payload === null) return { kind: 'success' };
  if (!isRecord(payload))
    return { kind: 'invalid', reason: `response is not an object: ${JSON.stringify(payload)}` };
  const failures = payload.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'invalid', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'success' };

  const known = new Set(identifiers);
  const failed = new Set<string>();
  for (const failure of failures) {
    const identifier = isRecord(failure) ? failure.itemIdentifier : undefined;
    if (typeof identifier !== 'string' || identifier === '') {
      return {
        kind: 'invalid',
        reason: `batch item failure without an itemIdentifier: ${JSON.stringify(failure)}`,
      };
    }
    if (!known.has(identifier)) {
      return { kind: 'invalid', reason: `itemIdentifier "${identifier}" is not in the batch` };
    }
    failed.add(identifier);
  }
  return { kind: 'partial', failed };
}
