/**
 * Errors raised while reading the cloud assembly and resolving its template. Every message names the
 * resource or template path involved, because the template is generated and the user never wrote it
 * by hand: "what in my stack caused this" is the question the message must answer.
 */
import { namedError } from '#shared/named-error.ts';

/** Base class: something in the template cannot be turned into local resources. */
export class TemplateError extends namedError('TemplateError') {
  /** Template path (e.g. `Resources.Fn.Properties.Environment`) where the problem surfaced, once known. */
  path: string | undefined;

  constructor(message: string, path?: string, options?: ErrorOptions) {
    super(path ? `${path}: ${message}` : message, options);
    this.path = path;
  }

  /**
   * Adds the template path to an error raised below the resolver (e.g. by an attribute provider that
   * knows the resource but not where it was referenced from). Keeps the instance so callers can still
   * branch on its class.
   */
  atPath(path: string): this {
    if (this.path === undefined && path) {
      this.path = path;
      this.message = `${path}: ${this.message}`;
    }
    return this;
  }
}

/** `cdk.out` is missing, malformed, or does not hold the requested stack or asset. */
export class CloudAssemblyError extends namedError('CloudAssemblyError', TemplateError) {}

/** An intrinsic function is unknown, unsupported locally, or called with arguments it does not accept. */
export class IntrinsicFunctionError extends namedError('IntrinsicFunctionError', TemplateError) {}

/** A `Ref`, `Fn::GetAtt` or `Condition` names something the template does not define (or excludes). */
export class UnresolvableReferenceError extends namedError('UnresolvableReferenceError', TemplateError) {}

/** The local naming does not know this resource type or attribute. */
export class UnsupportedAttributeError extends namedError('UnsupportedAttributeError', TemplateError) {}

/** The attribute exists but only an engine can know it, and that engine has not created the resource yet. */
export class AttributeNotReadyError extends namedError('AttributeNotReadyError', TemplateError) {}

/** Resources depend on each other in a loop, so there is no order in which to start them. */
export class DependencyCycleError extends namedError('DependencyCycleError', TemplateError) {
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[]) {
    super(`resources depend on each other in a cycle: ${cycle.join(' -> ')}`);
    this.cycle = cycle;
  }
}
