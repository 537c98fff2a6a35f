/**
 * Lives beside errors.ts, not in it: every export of errors.ts is a step error class (test/infra/contracts.test.ts
 * checks each against the contracts).
 */
import { InvalidMessage } from './errors.ts';

/** `body` as JSON. A body that is not JSON can never be processed, so it is an `InvalidMessage`: "`what` is not JSON". */
export function parseJsonMessage(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new InvalidMessage(`${what} is not JSON`);
  }
}
