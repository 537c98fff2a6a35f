import type { LambdaErrorDocument } from './protocol.ts';

/**
 * Turns whatever a handler threw into the error document the Node.js Lambda runtime reports: for an
 * Error, its `name`, `message` and stack lines; for anything else, its `typeof` and string form. Step
 * Functions matches `Catch`/`Retry` on `errorType`, so the name must survive unchanged.
 */
export function toErrorDocument(error: unknown): LambdaErrorDocument {
  if (isErrorLike(error)) {
    return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
  }
  try {
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'the thrown value could not be converted to a string' };
  }
}

interface ErrorLike {
  name: string;
  message: string;
  stack: string;
}

function isErrorLike(value: unknown): value is ErrorLike {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof ErrorLike, unknown>>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.message === 'string' &&
    typeof candidate.stack === 'string'
  );
}
