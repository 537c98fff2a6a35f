/**
 * An error class whose `name` is fixed. Callers match on `name`, not on the class (Step Functions on a Lambda's
 * `errorType`, the local engines on AWS error codes), so the string is the part that must be right; spelling it once
 * per class here keeps every error file to one line a class, and a class can still add fields or a constructor.
 * Lives in `functions/shared` because Lambda bundles may only import below `functions/`; `local/` imports it too.
 */

/** TypeScript accepts a class expression's base only when its constructor takes `...args: any[]`. */
// biome-ignore lint/suspicious/noExplicitAny: the mixin signature TypeScript requires (see above)
type ErrorClass = new (...args: any[]) => Error;

/** `class X extends namedError('X') {}`: an `Error` (or `base`) whose instances are named `name`. */
export function namedError<B extends ErrorClass = ErrorConstructor>(name: string, base?: B) {
  const Base = (base ?? Error) as B;
  return class extends Base {
    override name = name;
  };
}
