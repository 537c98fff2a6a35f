import { type CfnTemplate, DEFAULT_ACCOUNT, type LocalAccount } from '../types.ts';
import { DependencyCycleError, UnresolvableReferenceError } from './errors.ts';
import { conditionResolver, own } from './resolve.ts';

/**
 * The order in which to bring resources up: a resource starts after everything it references, as
 * CloudFormation creates them. Engines rely on it, e.g. a queue's DLQ exists before the queue whose
 * RedrivePolicy names it, and a table's stream ARN is known before its event source mapping resolves.
 */

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Names a `Fn::Sub` template string refers to: `${Name}` and `${Name.Attribute}`, not `${!Literal}`. */
function subReferences(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
    const name = (match[1] ?? '').trim();
    if (name.startsWith('!') || name.startsWith('AWS::')) continue;
    const dot = name.indexOf('.');
    names.push(dot > 0 ? name.slice(0, dot) : name);
  }
  return names;
}

/** Every name the value refers to through `Ref`, `Fn::GetAtt` or `Fn::Sub` (resources and parameters alike). */
function collectReferences(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectReferences(item, into);
    return;
  }
  if (!isObject(value)) return;
  const keys = Object.keys(value);
  const [fn] = keys;
  if (keys.length === 1 && fn !== undefined) {
    const args = value[fn];
    if (fn === 'Ref' && typeof args === 'string') {
      into.add(args);
      return;
    }
    if (fn === 'Fn::GetAtt') {
      if (typeof args === 'string') into.add(args.split('.')[0] ?? args);
      else if (Array.isArray(args) && typeof args[0] === 'string') into.add(args[0]);
      return;
    }
    if (fn === 'Fn::Sub') {
      const [text, variables] = Array.isArray(args) ? args : [args, undefined];
      const local = isObject(variables) ? new Set(Object.keys(variables)) : new Set<string>();
      if (typeof text === 'string') {
        for (const name of subReferences(text)) if (!local.has(name)) into.add(name);
      }
      collectReferences(variables, into);
      return;
    }
  }
  for (const item of Object.values(value)) collectReferences(item, into);
}

/**
 * Resources `logicalId` must wait for: its `DependsOn` and the resources its properties reference.
 * Both branches of an `Fn::If` count, which can only add edges, never miss one.
 */
export function dependenciesOf(template: CfnTemplate, logicalId: string): Set<string> {
  const resource = own(template.Resources, logicalId);
  if (!resource) throw new UnresolvableReferenceError(`the template has no resource "${logicalId}"`);
  const references = new Set<string>();
  collectReferences(resource.Properties, references);
  const dependencies = new Set([...references].filter((name) => own(template.Resources, name) !== undefined));
  const dependsOn = resource.DependsOn === undefined ? [] : [resource.DependsOn].flat();
  for (const name of dependsOn) {
    if (!own(template.Resources, name)) {
      throw new UnresolvableReferenceError(
        `DependsOn names "${name}", which is not a resource of the template`,
        `Resources.${logicalId}.DependsOn`,
      );
    }
    dependencies.add(name);
  }
  return dependencies;
}

/**
 * Included resources (condition true) in an order where each comes after its dependencies; among
 * resources that are ready at the same time, template order wins, so the result is deterministic.
 * Throws {@link DependencyCycleError} naming one cycle when no such order exists.
 */
export function dependencyOrder(template: CfnTemplate, account: LocalAccount = DEFAULT_ACCOUNT): string[] {
  const conditions = conditionResolver(template, account);
  const included = conditions.includedResources();
  const includedSet = new Set(included);
  const pending = new Map<string, Set<string>>(
    included.map((id) => [
      id,
      new Set([...dependenciesOf(template, id)].filter((dep) => includedSet.has(dep))),
    ]),
  );

  const order: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending.keys()].find((id) => pending.get(id)?.size === 0);
    if (ready === undefined) throw new DependencyCycleError(findCycle(pending));
    pending.delete(ready);
    order.push(ready);
    for (const dependencies of pending.values()) dependencies.delete(ready);
  }
  return order;
}

/**
 * Every node left in `pending` waits for another node left in `pending`, so following the first
 * dependency from any node must come back to a node already seen: that loop is the cycle.
 */
function findCycle(pending: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const path: string[] = [];
  const seen = new Map<string, number>();
  let current = pending.keys().next().value as string;
  while (!seen.has(current)) {
    seen.set(current, path.length);
    path.push(current);
    const next = pending.get(current)?.values().next().value;
    if (next === undefined) break;
    current = next;
  }
  return [...path.slice(seen.get(current) ?? 0), current];
}
