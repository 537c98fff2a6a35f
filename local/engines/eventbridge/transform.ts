/**
 * What an EventBridge rule target receives: the whole event, a constant `Input`, the part selected by
 * `InputPath`, or an `InputTransformer` template filled from the event.
 *
 * Template semantics follow the EventBridge user guide ("Amazon EventBridge input transformation"):
 * - `<name>` outside a JSON string is replaced by the value's JSON (`"i-123"`, `42`, `{...}`); a path that
 *   selects nothing becomes `null`.
 * - `<name>` inside a JSON string is replaced by the raw value: strings without quotes, other values as JSON
 *   text, nothing at all for a missing path. EventBridge does not escape what it inserts.
 * - A JSON template is delivered minified; a string template (`"instance <id> is in <state>"`) is delivered
 *   verbatim, quotes included, which is what an SQS body shows on AWS.
 * - `InputPath` delivers the selected value as JSON (a string arrives quoted, as on AWS); the guide does not
 *   say what a path selecting nothing delivers, so it is `null` here, like a missing template value.
 */

export interface TargetInput {
  Input?: string;
  InputPath?: string;
  InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
}

/** Facts about the delivering rule that only the bus knows; used by the predefined template variables. */
export interface TargetInputContext {
  ruleName?: string;
  ruleArn?: string;
  /** ISO-8601 time the bus received the event; defaults to the event's `time`. */
  ingestionTime?: string;
}

/** A target input configuration AWS would reject in PutTargets (a `ValidationException` there). */
export class InvalidTargetInputError extends Error {
  override readonly name = 'InvalidTargetInput';
}

const RULE_NAME = 'aws.events.rule-name';
const RULE_ARN = 'aws.events.rule-arn';
const INGESTION_TIME = 'aws.events.event.ingestion-time';
const EVENT_METADATA = 'aws.events.event';
const EVENT_JSON = 'aws.events.event.json';
const PREDEFINED = new Set([RULE_NAME, RULE_ARN, INGESTION_TIME, EVENT_METADATA, EVENT_JSON]);

const MAX_INPUT_PATHS = 100;
// `<` and `>` cannot be escaped in a template, so any <name> made of key characters is a placeholder.
const PLACEHOLDER = /<([A-Za-z0-9_.-]+)>/g;
const PLACEHOLDER_AT = /<([A-Za-z0-9_.-]+)>/y;

type PathStep = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'all' };

/**
 * Parses the JSONPath subset EventBridge evaluates: `$`, dot notation (names may contain dashes, slashes,
 * anything but `.` and `[`), `['name']`, array indices `[0]` and the wildcards `.*` / `[*]`.
 */
function parsePath(path: string, setting: string): PathStep[] {
  const invalid = (why: string): never => {
    throw new InvalidTargetInputError(`${setting} "${path}" is not a supported JSONPath: ${why}`);
  };
  if (!path.startsWith('$')) invalid('it must start with $');
  const steps: PathStep[] = [];
  let rest = path.slice(1);
  while (rest.length > 0) {
    const dotted = /^\.(\*|[^.[\]]+)/.exec(rest);
    const bracketed = /^\[(?:(\d+)|(\*)|'([^']*)')\]/.exec(rest);
    if (dotted) {
      const name = dotted[1] ?? '';
      steps.push(name === '*' ? { kind: 'all' } : { kind: 'key', key: name });
      rest = rest.slice(dotted[0].length);
    } else if (bracketed) {
      const [matched, index, star, quoted] = bracketed;
      if (index !== undefined) steps.push({ kind: 'index', index: Number(index) });
      else if (star !== undefined) steps.push({ kind: 'all' });
      else steps.push({ kind: 'key', key: quoted ?? '' });
      rest = rest.slice(matched.length);
    } else {
      invalid(`unexpected "${rest}"`);
    }
  }
  return steps;
}

/**
 * Evaluates a JSONPath against a JSON document. A definite path yields its value; a path with a wildcard
 * yields the list of everything it selects. `undefined` means the path selects nothing.
 */
export function evaluateJsonPath(document: unknown, path: string): unknown {
  const steps = parsePath(path, 'JSONPath');
  const indefinite = steps.some((step) => step.kind === 'all');
  let selected: unknown[] = [document];
  for (const step of steps) {
    selected = selected.flatMap((node) => select(node, step));
  }
  if (indefinite) return selected.length > 0 ? selected : undefined;
  return selected[0];
}

function select(node: unknown, step: PathStep): unknown[] {
  if (step.kind === 'all') {
    if (Array.isArray(node)) return node;
    return isObject(node) ? Object.values(node) : [];
  }
  if (step.kind === 'index') return Array.isArray(node) && step.index < node.length ? [node[step.index]] : [];
  return isObject(node) && Object.hasOwn(node, step.key) ? [node[step.key]] : [];
}

/** Checks a target's input settings the way PutTargets does. Throws {@link InvalidTargetInputError}. */
export function validateTargetInput(target: TargetInput): void {
  const settings = [target.Input, target.InputPath, target.InputTransformer].filter((s) => s !== undefined);
  if (settings.length > 1) {
    throw new InvalidTargetInputError('Only one of Input, InputPath, or InputTransformer must be provided.');
  }
  if (target.Input !== undefined) {
    try {
      JSON.parse(target.Input);
    } catch {
      throw new InvalidTargetInputError(`Input must be valid JSON text, got: ${target.Input}`);
    }
  }
  if (target.InputPath !== undefined) parsePath(target.InputPath, 'InputPath');
  if (target.InputTransformer !== undefined) validateTransformer(target.InputTransformer);
}

function validateTransformer(transformer: NonNullable<TargetInput['InputTransformer']>): void {
  if (typeof transformer.InputTemplate !== 'string' || transformer.InputTemplate === '') {
    throw new InvalidTargetInputError('InputTransformer requires a non-empty InputTemplate.');
  }
  const paths = Object.entries(transformer.InputPathsMap ?? {});
  if (paths.length > MAX_INPUT_PATHS) {
    throw new InvalidTargetInputError(`InputPathsMap has ${paths.length} entries; at most 100 are allowed.`);
  }
  for (const [name, path] of paths) {
    if (PREDEFINED.has(name) || name.toLowerCase().startsWith('aws.')) {
      throw new InvalidTargetInputError(
        `InputPathsMap key ${name} is reserved: keys cannot start with "AWS.".`,
      );
    }
    parsePath(path, `InputPathsMap[${name}]`);
  }
  for (const [, name = ''] of transformer.InputTemplate.matchAll(PLACEHOLDER)) {
    if (!PREDEFINED.has(name) && !Object.hasOwn(transformer.InputPathsMap ?? {}, name)) {
      throw new InvalidTargetInputError(`InputTemplate contains invalid placeholder ${name}.`);
    }
  }
}

/**
 * The exact string a rule target receives for `event`. Validates the settings first (throws
 * {@link InvalidTargetInputError}); `context` feeds `<aws.events.rule-name>` and the other predefined
 * variables, which render as missing values when it lacks them.
 */
export function renderTargetInput(
  event: unknown,
  target: TargetInput,
  context: TargetInputContext = {},
): string {
  validateTargetInput(target);
  if (target.Input !== undefined) return target.Input;
  if (target.InputPath !== undefined) return toJson(evaluateJsonPath(event, target.InputPath));
  if (target.InputTransformer !== undefined) return renderTemplate(event, target.InputTransformer, context);
  return toJson(event);
}

function renderTemplate(
  event: unknown,
  transformer: NonNullable<TargetInput['InputTransformer']>,
  context: TargetInputContext,
): string {
  const values = new Map<string, unknown>(predefinedValues(event, context));
  for (const [name, path] of Object.entries(transformer.InputPathsMap ?? {})) {
    values.set(name, evaluateJsonPath(event, path));
  }
  const template = transformer.InputTemplate;
  let output = '';
  let insideString = false;
  for (let i = 0; i < template.length; ) {
    PLACEHOLDER_AT.lastIndex = i;
    const placeholder = template[i] === '<' ? PLACEHOLDER_AT.exec(template) : null;
    if (placeholder) {
      output += renderValue(values.get(placeholder[1] ?? ''), insideString);
      i += placeholder[0].length;
      continue;
    }
    const char = template[i] ?? '';
    if (insideString && char === '\\') {
      output += template.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (char === '"') insideString = !insideString;
    output += char;
    i++;
  }
  return minifyJson(template, output);
}

function renderValue(value: unknown, insideString: boolean): string {
  if (value === undefined) return insideString ? '' : 'null';
  if (insideString && typeof value === 'string') return value;
  return toJson(value);
}

// Only object and array templates are re-serialised; output that is no longer valid JSON (because inserted
// values are not escaped) is delivered as rendered, as EventBridge does not validate it either.
function minifyJson(template: string, output: string): string {
  const start = template.trimStart()[0];
  if (start !== '{' && start !== '[') return output;
  try {
    return JSON.stringify(JSON.parse(output));
  } catch {
    return output;
  }
}

function predefinedValues(event: unknown, context: TargetInputContext): Array<[string, unknown]> {
  const eventTime = isObject(event) && typeof event.time === 'string' ? event.time : undefined;
  const ingestionTime = context.ingestionTime ?? eventTime;
  return [
    [RULE_NAME, context.ruleName],
    [RULE_ARN, context.ruleArn],
    [INGESTION_TIME, ingestionTime],
    [EVENT_METADATA, eventMetadata(event, ingestionTime)],
    [EVENT_JSON, event],
  ];
}

/**
 * `<aws.events.event>`: the envelope without `detail`, with `detail-type` renamed `detailType` and `time`
 * set to the ingestion time, in the key order AWS emits.
 */
function eventMetadata(event: unknown, ingestionTime: string | undefined): Record<string, unknown> {
  if (!isObject(event)) return {};
  const metadata: Record<string, unknown> = {
    id: event.id,
    account: event.account,
    detailType: event['detail-type'],
    time: ingestionTime,
    source: event.source,
    region: event.region,
    resources: event.resources,
    version: event.version,
  };
  for (const [key, value] of Object.entries(event)) {
    if (key !== 'detail' && key !== 'detail-type' && !(key in metadata)) metadata[key] = value;
  }
  return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined));
}

function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
