import { InvalidPropertyError } from '#local/template/props.ts';
import { matchesPattern, parseEventPattern } from '../eventbridge/pattern.ts';

/**
 * `FilterCriteria` of an event source mapping: each filter is an EventBridge-style pattern and a record
 * passes when any of them matches (Lambda ORs the filters).
 */
export type RecordFilter = (record: unknown) => boolean;

export function compileFilters(patterns: readonly string[], where: string): RecordFilter | undefined {
  if (patterns.length === 0) return undefined;
  // Validated up front so a bad pattern fails the mapping's start with its location, not every poll.
  patterns.forEach((pattern, index) => {
    try {
      parseEventPattern(pattern);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new InvalidPropertyError(
        `${where}.FilterCriteria.Filters[${index}].Pattern is invalid: ${reason}`,
        {
          cause: error,
        },
      );
    }
  });
  return (record) => patterns.some((pattern) => matchesPattern(pattern, record));
}
