import type { CfnResource, CfnTemplate, LocalAccount } from '../types.ts';
import { IntrinsicFunctionError, TemplateError, UnresolvableReferenceError } from './errors.ts';
import { stableUuid } from './ids.ts';

/**
 * Resolves the CloudFormation intrinsic functions that `cdk synth` emits into plain values, using an
 * {@link AttributeProvider} for what only a deployment knows (physical names, ARNs, URLs).
 * See https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
 */

/** Knows what `Ref` and `Fn::GetAtt` return for the resources of one template. */
export interface AttributeProvider {
  ref(logicalId: string, resource: CfnResource): string;
  getAtt(logicalId: string, resource: CfnResource, attribute: string): unknown;
  /**
   * Rewrites a string assembled by `Fn::Join` / `Fn::Sub` when it is an AWS-shaped value with a local
   * equivalent. CDK builds some URLs (e.g. `HttpApi.url`) from parts instead of one attribute, so no
   * single `Ref` or `Fn::GetAtt` can localize them.
   */
  localize?(value: string): string;
}

export interface ResolverOptions {
  /** Values for template parameters; they win over each parameter's `Default`. */
  parameters?: Record<string, unknown>;
}

/** Internal marker for `Ref: AWS::NoValue`: the enclosing key or array element disappears. */
const NO_VALUE: unique symbol = Symbol('AWS::NoValue');
type Resolved = unknown;

const MIN_CONDITION_ARGS = 2;
const MAX_CONDITION_ARGS = 10;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The intrinsic function name when `value` is an intrinsic call (`{ "Ref": … }` or `{ "Fn::X": … }`). */
function intrinsicName(value: JsonObject): string | undefined {
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const [key] = keys;
  return key === 'Ref' || key?.startsWith('Fn::') ? key : undefined;
}

/** Own-property lookup: template names such as "constructor" must not reach `Object.prototype`. */
export function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Values CloudFormation accepts where it expects a string (numbers and booleans are stringified). */
function asScalarString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export class TemplateResolver {
  private readonly template: CfnTemplate;
  private readonly account: LocalAccount;
  private readonly attributes: AttributeProvider;
  private readonly parameterValues: Record<string, unknown>;
  private readonly conditionCache = new Map<string, boolean>();
  private readonly conditionsInProgress = new Set<string>();

  constructor(
    template: CfnTemplate,
    account: LocalAccount,
    attributes: AttributeProvider,
    options: ResolverOptions = {},
  ) {
    this.template = template;
    this.account = account;
    this.attributes = attributes;
    this.parameterValues = options.parameters ?? {};
  }

  /**
   * Resolves every intrinsic inside `value`. `path` (e.g. `Resources.Fn.Properties`) only labels
   * errors. A value that resolves to `AWS::NoValue` as a whole yields `undefined`.
   */
  resolve(value: unknown, path = ''): unknown {
    const resolved = this.resolveValue(value, path);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  /** Like {@link resolve}, for places where only a string makes sense (names, ARNs, URLs). */
  resolveString(value: unknown, path = ''): string {
    const resolved = this.resolve(value, path);
    const text = asScalarString(resolved);
    if (text === undefined) {
      throw new IntrinsicFunctionError(`expected a string, got ${describe(resolved)}`, path || undefined);
    }
    return text;
  }

  /** The resource's `Properties` with every intrinsic resolved (`{}` when it has none). */
  resolveProperties(logicalId: string): Record<string, unknown> {
    const resource = own(this.template.Resources, logicalId);
    if (!resource) {
      throw new UnresolvableReferenceError(`the template has no resource "${logicalId}"`);
    }
    const resolved = this.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`);
    return isObject(resolved) ? resolved : {};
  }

  /** Output values whose condition holds, resolved. */
  outputs(): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const [name, output] of Object.entries(this.template.Outputs ?? {})) {
      const condition = (output as { Condition?: unknown }).Condition;
      if (typeof condition === 'string' && !this.conditionHolds(condition)) continue;
      result[name] = this.resolve(output.Value, `Outputs.${name}.Value`);
    }
    return result;
  }

  /** Evaluates a named entry of the template's `Conditions` section. */
  conditionHolds(name: string): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    const path = `Conditions.${name}`;
    const definition = own(this.template.Conditions, name);
    if (definition === undefined) {
      throw new UnresolvableReferenceError(`the template defines no condition "${name}"`);
    }
    if (this.conditionsInProgress.has(name)) {
      throw new UnresolvableReferenceError(`condition "${name}" refers to itself`, path);
    }
    this.conditionsInProgress.add(name);
    try {
      const holds = this.evaluateCondition(definition, path);
      this.conditionCache.set(name, holds);
      return holds;
    } finally {
      this.conditionsInProgress.delete(name);
    }
  }

  /** False for resources the template lacks and for resources whose `Condition` is false. */
  resourceIncluded(logicalId: string): boolean {
    const resource = own(this.template.Resources, logicalId);
    if (!resource) return false;
    return resource.Condition === undefined || this.conditionHolds(resource.Condition);
  }

  /** Logical ids of the included resources, in template order. */
  includedResources(): string[] {
    return Object.keys(this.template.Resources).filter((id) => this.resourceIncluded(id));
  }

  /** Value of an `AWS::*` pseudo parameter as seen locally. */
  pseudoParameter(name: string, path = ''): unknown {
    const { region, accountId, stackName } = this.account;
    switch (name) {
      case 'AWS::Region':
        return region;
      case 'AWS::AccountId':
        return accountId;
      case 'AWS::StackName':
        return stackName;
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${region}:${accountId}:stack/${stackName}/${stableUuid(stackName)}`;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::NotificationARNs':
        return [];
      case 'AWS::NoValue':
        return NO_VALUE;
      default:
        throw new UnresolvableReferenceError(`unknown pseudo parameter "${name}"`, path || undefined);
    }
  }

  private resolveValue(value: unknown, path: string): Resolved {
    if (Array.isArray(value)) {
      const items: unknown[] = [];
      value.forEach((item, index) => {
        const resolved = this.resolveValue(item, child(path, index));
        if (resolved !== NO_VALUE) items.push(resolved);
      });
      return items;
    }
    if (!isObject(value)) return value;
    const fn = intrinsicName(value);
    if (fn !== undefined) return this.callIntrinsic(fn, value[fn], path);
    const result: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      const resolved = this.resolveValue(item, child(path, key));
      if (resolved !== NO_VALUE) result[key] = resolved;
    }
    return result;
  }

  private callIntrinsic(fn: string, args: unknown, path: string): Resolved {
    const at = child(path, fn);
    switch (fn) {
      case 'Ref':
        return this.ref(args, at);
      case 'Fn::GetAtt':
        return this.getAtt(args, at);
      case 'Fn::Join':
        return this.join(args, at);
      case 'Fn::Sub':
        return this.sub(args, at);
      case 'Fn::Select':
        return this.select(args, at);
      case 'Fn::Split':
        return this.split(args, at);
      case 'Fn::If':
        return this.fnIf(args, at);
      case 'Fn::Equals':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Fn::Not':
        return this.evaluateCondition({ [fn]: args }, path);
      case 'Fn::FindInMap':
        return this.findInMap(args, at);
      case 'Fn::Base64':
        return Buffer.from(this.resolveString(args, at), 'utf8').toString('base64');
      case 'Fn::GetAZs':
        return this.getAzs(args, at);
      case 'Fn::Length':
        return this.expectArray(this.resolveValue(args, at), fn, at).length;
      case 'Fn::ToJsonString':
        return JSON.stringify(this.resolve(args, at));
      case 'Fn::ImportValue':
        throw new IntrinsicFunctionError(
          `Fn::ImportValue ${describe(args)} reads an export of another stack; the local runtime runs one ` +
            'stack, so pass the value in directly (a parameter or an environment variable) instead',
          at,
        );
      default:
        throw new IntrinsicFunctionError(
          `unknown intrinsic function ${fn} (not resolvable locally)`,
          path || undefined,
        );
    }
  }

  private ref(args: unknown, path: string): Resolved {
    if (typeof args !== 'string') {
      throw new IntrinsicFunctionError(`Ref expects a name, got ${describe(args)}`, path);
    }
    if (args.startsWith('AWS::')) return this.pseudoParameter(args, path);
    const parameter = own(this.template.Parameters, args);
    if (parameter) return this.parameterValue(args, parameter, path);
    const resource = this.includedResource(args, 'Ref', path);
    return this.withPath(path, () => this.attributes.ref(args, resource));
  }

  private parameterValue(
    name: string,
    parameter: { Type: string; Default?: unknown },
    path: string,
  ): unknown {
    const value = own(this.parameterValues, name);
    if (value !== undefined) return value;
    if (parameter.Type.startsWith('AWS::SSM::Parameter::Value<')) {
      // The Default of an SSM-typed parameter is the parameter *name*; CloudFormation looks the value up.
      throw new UnresolvableReferenceError(
        `parameter "${name}" takes its value from SSM (${describe(parameter.Default)}); supply it explicitly`,
        path,
      );
    }
    if (parameter.Default === undefined) {
      throw new UnresolvableReferenceError(
        `parameter "${name}" has no Default and no value was supplied`,
        path,
      );
    }
    const isList = parameter.Type === 'CommaDelimitedList' || parameter.Type.startsWith('List<');
    if (isList && typeof parameter.Default === 'string') {
      return parameter.Default.split(',').map((item) => item.trim());
    }
    return asScalarString(parameter.Default) ?? parameter.Default;
  }

  private includedResource(logicalId: string, via: string, path: string): CfnResource {
    const resource = own(this.template.Resources, logicalId);
    if (!resource) {
      throw new UnresolvableReferenceError(
        `${via} to "${logicalId}" names no resource, parameter or pseudo parameter`,
        path,
      );
    }
    if (!this.resourceIncluded(logicalId)) {
      throw new UnresolvableReferenceError(
        `${via} to "${logicalId}", which is excluded because its condition "${resource.Condition}" is false`,
        path,
      );
    }
    return resource;
  }

  private getAtt(args: unknown, path: string): Resolved {
    let logicalId: unknown;
    let attribute: unknown;
    if (typeof args === 'string') {
      const dot = args.indexOf('.');
      if (dot <= 0) {
        throw new IntrinsicFunctionError(
          `Fn::GetAtt expects "Resource.Attribute", got ${describe(args)}`,
          path,
        );
      }
      logicalId = args.slice(0, dot);
      attribute = args.slice(dot + 1);
    } else if (Array.isArray(args) && args.length === 2) {
      [logicalId, attribute] = args;
      // The attribute name may itself be computed (e.g. `{ "Ref": "AttributeParam" }`).
      attribute = this.resolve(attribute, child(path, 1));
    }
    if (typeof logicalId !== 'string' || typeof attribute !== 'string' || attribute === '') {
      throw new IntrinsicFunctionError(
        `Fn::GetAtt expects [logicalId, attribute] or "logicalId.attribute", got ${describe(args)}`,
        path,
      );
    }
    return this.attributeOf(logicalId, attribute, path);
  }

  private attributeOf(logicalId: string, attribute: string, path: string): unknown {
    const resource = this.includedResource(logicalId, `Fn::GetAtt ${logicalId}.${attribute}`, path);
    return this.withPath(path, () => this.attributes.getAtt(logicalId, resource, attribute));
  }

  /** Runs provider code and attaches the template path to its errors, so they say where they arose. */
  private withPath<T>(path: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof TemplateError) throw error.atPath(path);
      throw error;
    }
  }

  private join(args: unknown, path: string): Resolved {
    if (!Array.isArray(args) || args.length !== 2 || typeof args[0] !== 'string') {
      throw new IntrinsicFunctionError(`Fn::Join expects [delimiter, [values]], got ${describe(args)}`, path);
    }
    const [delimiter, list] = args as [string, unknown];
    const values = this.expectArray(this.resolveValue(list, child(path, 1)), 'Fn::Join', path);
    const parts = values.map((item, index) => {
      const text = asScalarString(item);
      if (text === undefined) {
        throw new IntrinsicFunctionError(
          `Fn::Join can only join strings, but element ${index} is ${describe(item)}`,
          path,
        );
      }
      return text;
    });
    return this.localize(parts.join(delimiter));
  }

  private sub(args: unknown, path: string): Resolved {
    let template: unknown = args;
    let variables: JsonObject = {};
    if (Array.isArray(args)) {
      if (args.length !== 2 || !isObject(args[1])) {
        throw new IntrinsicFunctionError(
          `Fn::Sub expects "string" or ["string", {vars}], got ${describe(args)}`,
          path,
        );
      }
      [template, variables] = args as [unknown, JsonObject];
    }
    if (typeof template !== 'string') {
      throw new IntrinsicFunctionError(`Fn::Sub expects a template string, got ${describe(template)}`, path);
    }
    const variableValues = new Map<string, string>();
    const variable = (name: string): string | undefined => {
      if (!Object.hasOwn(variables, name)) return undefined;
      const cached = variableValues.get(name);
      if (cached !== undefined) return cached;
      const value = this.subText(this.resolveValue(variables[name], child(path, name)), name, path);
      variableValues.set(name, value);
      return value;
    };
    const result = template.replace(/\$\{([^}]*)\}/g, (_match, rawName: string) => {
      const name = rawName.trim();
      // `${!Literal}` is how a template writes a literal `${Literal}`.
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const fromVariables = variable(name);
      if (fromVariables !== undefined) return fromVariables;
      return this.subText(this.subReference(name, path), name, path);
    });
    return this.localize(result);
  }

  /** `${Name}` in Fn::Sub: a parameter, pseudo parameter or resource (`Ref`), or `Resource.Attribute`. */
  private subReference(name: string, path: string): unknown {
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::')) {
      const logicalId = name.slice(0, dot);
      if (own(this.template.Resources, logicalId)) {
        return this.attributeOf(logicalId, name.slice(dot + 1), path);
      }
    }
    return this.ref(name, path);
  }

  private subText(value: unknown, name: string, path: string): string {
    const text = asScalarString(value);
    if (text === undefined) {
      throw new IntrinsicFunctionError(
        `Fn::Sub variable \${${name}} must be a string, got ${describe(value)}`,
        path,
      );
    }
    return text;
  }

  private select(args: unknown, path: string): Resolved {
    if (!Array.isArray(args) || args.length !== 2) {
      throw new IntrinsicFunctionError(`Fn::Select expects [index, [values]], got ${describe(args)}`, path);
    }
    const rawIndex = this.resolve(args[0], child(path, 0));
    const index = typeof rawIndex === 'string' && rawIndex.trim() !== '' ? Number(rawIndex) : rawIndex;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
      throw new IntrinsicFunctionError(
        `Fn::Select index must be a non-negative integer, got ${describe(rawIndex)}`,
        path,
      );
    }
    const values = this.expectArray(this.resolveValue(args[1], child(path, 1)), 'Fn::Select', path);
    if (index >= values.length) {
      throw new IntrinsicFunctionError(
        `Fn::Select index ${index} is out of range for ${describe(values)}`,
        path,
      );
    }
    return values[index];
  }

  private split(args: unknown, path: string): Resolved {
    if (!Array.isArray(args) || args.length !== 2 || typeof args[0] !== 'string' || args[0] === '') {
      throw new IntrinsicFunctionError(
        `Fn::Split expects [delimiter, "string"], got ${describe(args)}`,
        path,
      );
    }
    return this.resolveString(args[1], child(path, 1)).split(args[0]);
  }

  private fnIf(args: unknown, path: string): Resolved {
    if (!Array.isArray(args) || args.length !== 3 || typeof args[0] !== 'string') {
      throw new IntrinsicFunctionError(
        `Fn::If expects [conditionName, valueIfTrue, valueIfFalse], got ${describe(args)}`,
        path,
      );
    }
    // Only the chosen branch is resolved: the other may name resources the condition excluded.
    return this.conditionHolds(args[0])
      ? this.resolveValue(args[1], child(path, 1))
      : this.resolveValue(args[2], child(path, 2));
  }

  /** Evaluates a condition function (`Fn::Equals/And/Or/Not`) or a `{ "Condition": name }` reference. */
  private evaluateCondition(value: unknown, path: string): boolean {
    if (isObject(value) && Object.keys(value).length === 1) {
      if (typeof value.Condition === 'string') return this.conditionHolds(value.Condition);
      const [fn] = Object.keys(value) as [string];
      const args = value[fn];
      const at = child(path, fn);
      switch (fn) {
        case 'Fn::Equals':
          return this.equals(args, at);
        case 'Fn::And':
          return this.conditionList(args, fn, at).every((item, i) =>
            this.evaluateCondition(item, child(at, i)),
          );
        case 'Fn::Or':
          return this.conditionList(args, fn, at).some((item, i) =>
            this.evaluateCondition(item, child(at, i)),
          );
        case 'Fn::Not':
          if (!Array.isArray(args) || args.length !== 1) {
            throw new IntrinsicFunctionError(`Fn::Not expects [condition], got ${describe(args)}`, at);
          }
          return !this.evaluateCondition(args[0], child(at, 0));
      }
    }
    const resolved = this.resolve(value, path);
    if (typeof resolved === 'boolean') return resolved;
    if (resolved === 'true' || resolved === 'false') return resolved === 'true';
    throw new IntrinsicFunctionError(
      `a condition must evaluate to true or false, got ${describe(resolved)}`,
      path,
    );
  }

  private conditionList(args: unknown, fn: string, path: string): unknown[] {
    if (!Array.isArray(args) || args.length < MIN_CONDITION_ARGS || args.length > MAX_CONDITION_ARGS) {
      throw new IntrinsicFunctionError(
        `${fn} expects ${MIN_CONDITION_ARGS} to ${MAX_CONDITION_ARGS} conditions, got ${describe(args)}`,
        path,
      );
    }
    return args;
  }

  private equals(args: unknown, path: string): boolean {
    if (!Array.isArray(args) || args.length !== 2) {
      throw new IntrinsicFunctionError(`Fn::Equals expects [value1, value2], got ${describe(args)}`, path);
    }
    const left = this.resolve(args[0], child(path, 0));
    const right = this.resolve(args[1], child(path, 1));
    const leftText = asScalarString(left);
    const rightText = asScalarString(right);
    // CloudFormation compares scalars as strings: `Fn::Equals [1, "1"]` holds.
    if (leftText !== undefined && rightText !== undefined) return leftText === rightText;
    return JSON.stringify(left) === JSON.stringify(right);
  }

  private findInMap(args: unknown, path: string): Resolved {
    if (!Array.isArray(args) || (args.length !== 3 && args.length !== 4)) {
      throw new IntrinsicFunctionError(
        `Fn::FindInMap expects [mapName, topLevelKey, secondLevelKey] (+ optional {DefaultValue}), got ${describe(args)}`,
        path,
      );
    }
    const [mapName, topKey, secondKey] = [0, 1, 2].map((i) =>
      this.resolveString(args[i], child(path, i)),
    ) as [string, string, string];
    const options = args[3];
    const found = own(own(own(this.template.Mappings, mapName), topKey), secondKey);
    if (found !== undefined) return this.resolveValue(found, `Mappings.${mapName}.${topKey}.${secondKey}`);
    if (isObject(options) && 'DefaultValue' in options) {
      return this.resolveValue(options.DefaultValue, child(path, 3));
    }
    throw new UnresolvableReferenceError(
      `Fn::FindInMap found no value at ${mapName} > ${topKey} > ${secondKey}`,
      path,
    );
  }

  private getAzs(args: unknown, path: string): string[] {
    const requested = this.resolve(args, path);
    const region = requested === '' || requested === undefined ? this.account.region : requested;
    if (typeof region !== 'string') {
      throw new IntrinsicFunctionError(`Fn::GetAZs expects a region name, got ${describe(requested)}`, path);
    }
    return ['a', 'b', 'c'].map((zone) => `${region}${zone}`);
  }

  private expectArray(value: unknown, fn: string, path: string): unknown[] {
    if (!Array.isArray(value)) {
      throw new IntrinsicFunctionError(`${fn} expects a list, got ${describe(value)}`, path);
    }
    return value;
  }

  private localize(value: string): string {
    return this.attributes.localize ? this.attributes.localize(value) : value;
  }
}

/**
 * A resolver for questions that never touch resources (conditions, parameters, pseudo parameters),
 * such as which resources a template includes. CloudFormation forbids resource references there.
 */
export function conditionResolver(template: CfnTemplate, account: LocalAccount): TemplateResolver {
  const noResources = (): never => {
    throw new UnresolvableReferenceError('conditions cannot refer to resources');
  };
  return new TemplateResolver(template, account, { ref: noResources, getAtt: noResources });
}
