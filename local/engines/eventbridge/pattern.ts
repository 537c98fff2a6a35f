/**
 * The EventBridge event-pattern language, used by the local bus to match rules and by the
 * event-source-mapping pollers to apply Lambda `FilterCriteria`.
 *
 * AWS runs patterns through its open-source engine, aws/event-ruler (`JsonRuleCompiler` + the
 * array-consistent finder), so this module follows that engine wherever the user guide is silent:
 *
 * - A pattern compiles to one or more branches (`$or` forks branches); each branch maps a flattened,
 *   dot-joined field path to the values it accepts. The event is flattened the same way into leaf fields
 *   (strings, numbers, booleans, null); empty arrays and objects yield no field at all.
 * - A branch matches when every path has a matching field, and all chosen fields are array-consistent:
 *   two fields taken from objects in *different elements of the same array* never combine.
 * - Paths are checked in sorted order, and `exists: false` means "no array-consistent field with this
 *   path" given the fields chosen for the paths before it, exactly as the engine walks its state machine.
 */

export type EventPattern = Record<string, unknown>;

/** A pattern AWS would reject in PutRule / TestEventPattern / CreateEventSourceMapping. */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPattern';

  constructor(
    readonly reason: string,
    readonly location?: string,
  ) {
    super(`Event pattern is not valid. Reason: ${reason}${location ? ` (at ${location})` : ''}`);
  }
}

type Leaf = string | number | boolean | null;

/** One accepted value of a pattern field; `absent` is `{"exists": false}`, which no field value can satisfy. */
type ValueMatcher =
  | { readonly kind: 'absent' }
  | { readonly kind: 'value'; readonly test: (value: Leaf) => boolean };

interface CompiledField {
  readonly path: string;
  readonly testers: ReadonlyArray<(value: Leaf) => boolean>;
  readonly acceptsAbsence: boolean;
}

type Branch = Map<string, ValueMatcher[]>;

/** A validated pattern, ready to test events against. */
export interface CompiledEventPattern {
  readonly pattern: EventPattern;
  matches(event: unknown): boolean;
}

// Names that would be read as operators if they appeared as field names inside `$or` (event-ruler Constants).
const RESERVED_IN_OR = new Set([
  'exactly',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

// The engine turns numbers into fixed-width comparable strings: 6 decimals, +/- 5e11 (ComparableNumber).
const NUMERIC_LIMIT = 5e11;
const MAX_CACHED_PATTERNS = 500;

class PatternCompiler {
  compile(pattern: EventPattern): Branch[] {
    return this.object(pattern, [], false);
  }

  private object(node: Record<string, unknown>, path: string[], insideOr: boolean): Branch[] {
    const entries = Object.entries(node);
    if (entries.length === 0) fail('Empty objects are not allowed', path);
    let branches: Branch[] = [new Map()];
    for (const [key, value] of entries) {
      if (key === '$or') {
        branches = crossProduct(branches, this.or(value, path));
        continue;
      }
      const childPath = [...path, key];
      if (insideOr && RESERVED_IN_OR.has(key)) {
        fail(`${key} is Ruler reserved fieldName which cannot be used inside $or.`, childPath);
      }
      if (Array.isArray(value)) {
        const matchers = this.valueList(value, childPath);
        for (const branch of branches) branch.set(childPath.join('.'), matchers);
      } else if (isPlainObject(value)) {
        branches = crossProduct(branches, this.object(value, childPath, insideOr));
      } else {
        fail(`"${key}" must be an object or an array`, childPath);
      }
    }
    return branches;
  }

  private or(value: unknown, path: string[]): Branch[] {
    const where = [...path, '$or'];
    if (!Array.isArray(value)) fail('It must be an Array followed with $or.', where);
    const branches: Branch[] = [];
    value.forEach((alternative, index) => {
      if (!isPlainObject(alternative)) {
        fail('Only JSON object is allowed in array of $or relationship.', `${locate(where)}[${index}]`);
      }
      branches.push(...this.object(alternative, path, true));
    });
    if (value.length < 2) fail('There must have at least 2 Objects in $or relationship.', where);
    return branches;
  }

  private valueList(values: unknown[], path: string[]): ValueMatcher[] {
    if (values.length === 0) fail('Empty arrays are not allowed', path);
    return values.map((value, index) => {
      const where = `${locate(path)}[${index}]`;
      if (isPlainObject(value)) return this.expression(value, where);
      if (typeof value === 'string') return valueMatcher(exactString(value));
      if (typeof value === 'number' && Number.isFinite(value)) return valueMatcher((v) => v === value);
      if (typeof value === 'boolean' || value === null) return valueMatcher((v) => v === value);
      return fail('Match value must be String, number, true, false, or null', where);
    });
  }

  private expression(expression: Record<string, unknown>, where: string): ValueMatcher {
    const keys = Object.keys(expression);
    const operator = keys[0];
    if (operator === undefined) return fail('Match expression name not found', where);
    const operand = expression[operator];
    const onlyKey = (message = 'Only one key allowed in match expression'): void => {
      if (keys.length > 1) fail(message, where);
    };
    switch (operator) {
      case 'exactly': {
        const text = requireString(operand, 'exact match pattern must be a string', where);
        onlyKey();
        return valueMatcher((v) => v === text);
      }
      case 'prefix':
      case 'suffix': {
        const test = isPlainObject(operand)
          ? affixIgnoringCase(operator, operand, where)
          : affix(operator, requireString(operand, `${operator} match pattern must be a string`, where));
        onlyKey();
        return valueMatcher(test);
      }
      case 'equals-ignore-case': {
        const folded = fold(
          requireString(operand, 'equals-ignore-case match pattern must be a string', where),
        );
        onlyKey();
        return valueMatcher((v) => typeof v === 'string' && fold(v) === folded);
      }
      case 'wildcard': {
        const test = wildcard(
          requireString(operand, 'wildcard match pattern must be a string', where),
          where,
        );
        onlyKey();
        return valueMatcher(test);
      }
      case 'numeric': {
        if (!Array.isArray(operand)) fail('Value of numeric must be an array.', where);
        const test = numericRange(operand, where);
        onlyKey('Too many elements in numeric expression');
        return valueMatcher(test);
      }
      case 'anything-but': {
        const test = anythingBut(operand, where);
        onlyKey('Too many elements in numeric expression');
        return valueMatcher(test);
      }
      case 'exists': {
        if (typeof operand !== 'boolean') fail('exists match pattern must be either true or false.', where);
        onlyKey();
        return operand ? valueMatcher(() => true) : { kind: 'absent' };
      }
      case 'cidr': {
        // The engine reports a non-string CIDR with the prefix wording; kept so messages match AWS.
        const test = cidr(requireString(operand, 'prefix match pattern must be a string', where), where);
        onlyKey();
        return valueMatcher(test);
      }
      default:
        return fail(`Unrecognized match type ${operator}`, where);
    }
  }
}

function affix(kind: 'prefix' | 'suffix', text: string): (v: Leaf) => boolean {
  return kind === 'prefix'
    ? (v) => typeof v === 'string' && v.startsWith(text)
    : (v) => typeof v === 'string' && v.endsWith(text);
}

function affixIgnoringCase(
  kind: 'prefix' | 'suffix',
  operand: Record<string, unknown>,
  where: string,
): (v: Leaf) => boolean {
  const keys = Object.keys(operand);
  const inner = keys[0];
  const title = kind === 'prefix' ? 'Prefix' : 'Suffix';
  if (inner === undefined) return fail(`${title} expression name not found`, where);
  if (inner !== 'equals-ignore-case') return fail(`Unsupported ${kind} pattern: ${inner}`, where);
  const folded = fold(
    requireString(operand[inner], 'equals-ignore-case match pattern must be a string', where),
  );
  if (keys.length > 1) fail('Only one key allowed in match expression', where);
  return kind === 'prefix'
    ? (v) => typeof v === 'string' && fold(v).startsWith(folded)
    : (v) => typeof v === 'string' && fold(v).endsWith(folded);
}

const ANYTHING_BUT_FORMS = new Set(['equals-ignore-case', 'prefix', 'suffix', 'wildcard']);

/**
 * `anything-but` matches any present leaf (numbers, booleans and null included) unless it is one of the
 * excluded values. String exclusions only ever exclude strings, numeric ones only numbers.
 */
function anythingBut(operand: unknown, where: string): (v: Leaf) => boolean {
  if (isPlainObject(operand)) return anythingButForm(operand, where);
  if (typeof operand === 'string') return (v) => v !== operand;
  if (typeof operand === 'number') {
    const excluded = comparableNumber(operand, where);
    return (v) => v !== excluded;
  }
  if (!Array.isArray(operand)) {
    return fail('Value of anything-but must be an array or single string/number value.', where);
  }
  if (operand.some((item) => typeof item !== 'string' && typeof item !== 'number')) {
    fail('Inside anything but list, start|null|boolean is not supported.', where);
  }
  const allStrings = operand.length > 0 && operand.every((item) => typeof item === 'string');
  const allNumbers = operand.length > 0 && operand.every((item) => typeof item === 'number');
  if (!allStrings && !allNumbers) {
    fail(
      'Inside anything but list, either all values are number or string, mixed type is not supported',
      where,
    );
  }
  const excluded = new Set<Leaf>(
    allNumbers ? operand.map((item) => comparableNumber(item as number, where)) : (operand as string[]),
  );
  return (v) => !excluded.has(v);
}

function anythingButForm(operand: Record<string, unknown>, where: string): (v: Leaf) => boolean {
  const keys = Object.keys(operand);
  const form = keys[0];
  if (form === undefined) return fail('Anything-But expression name not found', where);
  if (!ANYTHING_BUT_FORMS.has(form)) return fail(`Unsupported anything-but pattern: ${form}`, where);
  const value = operand[form];
  if (!Array.isArray(value) && typeof value !== 'string' && typeof value !== 'number') {
    return fail('Value of anything-but must be an array or single string/number value.', where);
  }
  const typeError =
    form === 'equals-ignore-case'
      ? 'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.'
      : form === 'wildcard'
        ? 'wildcard match pattern must be a string'
        : 'prefix/suffix match pattern must be a string';
  const texts = (Array.isArray(value) ? value : [value]).map((item) => requireString(item, typeError, where));
  if (keys.length > 1) fail('Too many elements in numeric expression', where);
  // Each excluded form becomes a test that recognises the values to exclude.
  const excluders: Array<(s: string) => boolean> = texts.map((text) => {
    if ((form === 'prefix' || form === 'suffix') && text === '')
      fail('Null prefix/suffix not allowed', where);
    switch (form) {
      case 'prefix':
        return (s) => s.startsWith(text);
      case 'suffix':
        return (s) => s.endsWith(text);
      case 'wildcard':
        return wildcardTest(text, where);
      default: {
        const folded = fold(text);
        return (s) => fold(s) === folded;
      }
    }
  });
  return (v) => typeof v !== 'string' || !excluders.some((excludes) => excludes(v));
}

interface NumericBounds {
  low: number;
  lowOpen: boolean;
  high: number;
  highOpen: boolean;
}

function numericRange(terms: unknown[], where: string): (v: Leaf) => boolean {
  const [operator, first] = terms;
  if (typeof operator !== 'string') {
    return fail(`Invalid member in numeric match: ${describe(operator)}`, where);
  }
  const operand = (value: unknown, op: string): number => {
    if (typeof value !== 'number') fail(`Value of ${op} must be numeric`, where);
    return comparableNumber(value, where);
  };
  let bounds: NumericBounds;
  switch (operator) {
    case '=': {
      if (typeof first !== 'number') fail('Value of equals must be numeric', where);
      const value = comparableNumber(first, where);
      if (terms.length > 2) fail('Too many elements in numeric expression', where);
      return (v) => isComparable(v) && v === value;
    }
    case '<':
    case '<=': {
      const high = operand(first, operator);
      if (terms.length > 2) fail('Too many elements in numeric expression', where);
      bounds = { low: -NUMERIC_LIMIT, lowOpen: false, high, highOpen: operator === '<' };
      break;
    }
    case '>':
    case '>=': {
      const low = operand(first, operator);
      bounds =
        terms.length === 2
          ? { low, lowOpen: operator === '>', high: NUMERIC_LIMIT, highOpen: false }
          : upperBound(terms, low, operator === '>', where);
      break;
    }
    default:
      return fail(`Unrecognized numeric range operator: ${operator}`, where);
  }
  const { low, lowOpen, high, highOpen } = bounds;
  return (v) => isComparable(v) && (lowOpen ? v > low : v >= low) && (highOpen ? v < high : v <= high);
}

function upperBound(terms: unknown[], low: number, lowOpen: boolean, where: string): NumericBounds {
  const [, , operator, value] = terms;
  if (typeof operator !== 'string') return fail(`Bad value in numeric range: ${describe(operator)}`, where);
  if (operator !== '<' && operator !== '<=') return fail(`Bad numeric range operator: ${operator}`, where);
  if (typeof value !== 'number') return fail(`Value of ${operator} must be numeric`, where);
  const high = comparableNumber(value, where);
  if (terms.length > 4) fail('Too many terms in numeric range expression', where);
  if (!(low < high)) fail('Bottom must be less than top', where);
  return { low, lowOpen, high, highOpen: operator === '<' };
}

/** Whether the engine can compare this value numerically; other numbers only ever match exactly. */
function isComparable(value: Leaf): value is number {
  return (
    typeof value === 'number' &&
    Math.abs(value) <= NUMERIC_LIMIT &&
    Number.isFinite(value) &&
    Number(value.toFixed(6)) === value
  );
}

function comparableNumber(value: number, where: string): number {
  if (!Number.isFinite(value)) return fail('Match value must be String, number, true, false, or null', where);
  if (Number(value.toFixed(6)) !== value && Math.abs(value) <= NUMERIC_LIMIT) {
    fail('Only values upto 6 decimals are supported', where);
  }
  if (!isComparable(value)) fail('Value must be between -5.0E11 and 5.0E11, inclusive', where);
  return value;
}

/** `*` matches any run of characters; `\*` and `\\` are a literal asterisk and backslash. */
function wildcard(text: string, where: string): (v: Leaf) => boolean {
  const test = wildcardTest(text, where);
  return (v) => typeof v === 'string' && test(v);
}

function wildcardTest(text: string, where: string): (s: string) => boolean {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '*') {
      if (text[i + 1] === '*') fail(`Consecutive wildcard characters at pos ${i}`, where);
      segments.push(current);
      current = '';
    } else if (char === '\\') {
      const next = text[i + 1];
      if (next !== '*' && next !== '\\') fail(`Invalid escape character at pos ${i}`, where);
      current += next;
      i++;
    } else {
      current += char;
    }
  }
  segments.push(current);
  return (s) => globMatches(segments, s);
}

// Literal segments between wildcards; the leftmost occurrence of each middle segment is always a safe choice,
// which keeps matching linear instead of backtracking like a regular expression would.
function globMatches(segments: readonly string[], value: string): boolean {
  const first = segments[0] ?? '';
  if (segments.length === 1) return value === first;
  const last = segments[segments.length - 1] ?? '';
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) {
    return false;
  }
  const end = value.length - last.length;
  let position = first.length;
  for (const segment of segments.slice(1, -1)) {
    const found = value.indexOf(segment, position);
    if (found === -1 || found + segment.length > end) return false;
    position = found + segment.length;
  }
  return true;
}

function cidr(text: string, where: string): (v: Leaf) => boolean {
  const parts = text.split('/');
  const [address = '', bitsText = ''] = parts;
  if (parts.length !== 2 || bitsText === '') fail("Malformed CIDR, one '/' required", where);
  if (!/^[+-]?\d+$/.test(bitsText)) fail('Malformed CIDR, mask bits must be an integer', where);
  const bits = Number(bitsText);
  if (bits < 0) fail('Malformed CIDR, mask bits must not be negative', where);
  const base = parseIp(address);
  if (base === 'not-an-ip') return fail(`Nonstandard IP address: ${address}`, where);
  if (base === 'invalid') return fail(`Invalid IP address: ${address}`, where);
  if (base.length === 4 && bits > 31) fail('IPv4 mask bits must be < 32', where);
  if (base.length === 16 && bits > 127) fail('IPv6 mask bits must be < 128', where);
  const low = base.map((byte, i) => byte & hostMask(bits, i, true));
  const high = base.map((byte, i) => byte | hostMask(bits, i, false));
  return (v) => {
    if (typeof v !== 'string') return false;
    const ip = parseIp(v);
    return (
      typeof ip !== 'string' &&
      ip.length === base.length &&
      compareBytes(ip, low) >= 0 &&
      compareBytes(ip, high) <= 0
    );
  };
}

/** For byte `index`, the bits kept by the network mask (`keep`) or the host bits (otherwise). */
function hostMask(bits: number, index: number, keep: boolean): number {
  const fixed = Math.min(8, Math.max(0, bits - index * 8));
  const networkBits = (0xff << (8 - fixed)) & 0xff;
  return keep ? networkBits : ~networkBits & 0xff;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Parses an IPv4 dotted quad or an IPv6 address; `not-an-ip` when it does not even look like one. */
function parseIp(text: string): Uint8Array | 'not-an-ip' | 'invalid' {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const octets = text.split('.').map(Number);
    return octets.every((octet) => octet <= 255) ? Uint8Array.from(octets) : 'invalid';
  }
  if (!/^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/.test(text)) return 'not-an-ip';
  const halves = text.split('::');
  if (halves.length > 2) return 'invalid';
  const groupsOf = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return 'invalid';
  const groups = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill('0'), ...tail];
  if (!groups.every((group) => /^[0-9a-fA-F]{1,4}$/.test(group))) return 'invalid';
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** An exact string that is an IP literal matches the same address written differently, like the engine. */
function exactString(text: string): (v: Leaf) => boolean {
  const ip = parseIp(text);
  if (typeof ip === 'string') return (v) => v === text;
  return (v) => {
    if (v === text) return true;
    if (typeof v !== 'string') return false;
    const other = parseIp(v);
    return typeof other !== 'string' && other.length === ip.length && compareBytes(other, ip) === 0;
  };
}

function fold(text: string): string {
  return text.toLowerCase();
}

function valueMatcher(test: (value: Leaf) => boolean): ValueMatcher {
  return { kind: 'value', test };
}

function requireString(value: unknown, message: string, where: string): string {
  if (typeof value !== 'string') fail(message, where);
  return value;
}

function crossProduct(left: Branch[], right: Branch[]): Branch[] {
  return left.flatMap((l) => right.map((r) => new Map([...l, ...r])));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === undefined ? 'end of array' : JSON.stringify(value);
}

function locate(path: string[] | string): string {
  return typeof path === 'string' ? path : path.length === 0 ? '$' : path.join('.');
}

function fail(reason: string, where: string[] | string): never {
  throw new InvalidEventPatternError(reason, locate(where));
}

// ---------------------------------------------------------------------------------------------- matching

interface Field {
  readonly value: Leaf;
  /** Array id -> element index for every array this field sits inside. */
  readonly membership: ReadonlyMap<number, number>;
}

const NO_MEMBERSHIP: ReadonlyMap<number, number> = new Map();
const NO_FIELDS: readonly Field[] = [];

/** Flattens an event into dot-joined leaf paths, remembering which array elements each leaf came from. */
function flatten(event: unknown): Map<string, Field[]> {
  const fields = new Map<string, Field[]>();
  if (!isPlainObject(event)) return fields;
  let nextArrayId = 0;
  const visit = (node: unknown, path: string, membership: ReadonlyMap<number, number>): void => {
    if (Array.isArray(node)) {
      const arrayId = nextArrayId++;
      node.forEach((element, index) => {
        visit(element, path, new Map(membership).set(arrayId, index));
      });
    } else if (isPlainObject(node)) {
      for (const [key, value] of Object.entries(node))
        visit(value, path === '' ? key : `${path}.${key}`, membership);
    } else if (isLeaf(node)) {
      const existing = fields.get(path);
      if (existing) existing.push({ value: node, membership });
      else fields.set(path, [{ value: node, membership }]);
    }
  };
  visit(event, '', NO_MEMBERSHIP);
  return fields;
}

function isLeaf(value: unknown): value is Leaf {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/** The union of two memberships, or undefined when they pick different elements of the same array. */
function combine(
  soFar: ReadonlyMap<number, number>,
  field: ReadonlyMap<number, number>,
): ReadonlyMap<number, number> | undefined {
  if (field.size === 0) return soFar;
  for (const [arrayId, index] of field) {
    const chosen = soFar.get(arrayId);
    if (chosen !== undefined && chosen !== index) return undefined;
  }
  return new Map([...soFar, ...field]);
}

function matchBranch(
  branch: readonly CompiledField[],
  fields: Map<string, Field[]>,
  index: number,
  membership: ReadonlyMap<number, number>,
): boolean {
  const field = branch[index];
  if (field === undefined) return true;
  const candidates = fields.get(field.path) ?? NO_FIELDS;
  for (const candidate of candidates) {
    if (!field.testers.some((test) => test(candidate.value))) continue;
    const combined = combine(membership, candidate.membership);
    if (combined && matchBranch(branch, fields, index + 1, combined)) return true;
  }
  if (field.acceptsAbsence) {
    const present = candidates.some((candidate) => combine(membership, candidate.membership) !== undefined);
    if (!present && matchBranch(branch, fields, index + 1, membership)) return true;
  }
  return false;
}

function toCompiledFields(branch: Branch): CompiledField[] {
  // Sorted by path, as the engine orders a rule's fields; this decides what `exists: false` sees.
  return [...branch.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, matchers]) => ({
      path,
      testers: matchers.flatMap((m) => (m.kind === 'value' ? [m.test] : [])),
      acceptsAbsence: matchers.some((m) => m.kind === 'absent'),
    }));
}

function readPattern(pattern: string | EventPattern): EventPattern {
  let parsed: unknown = pattern;
  if (typeof pattern === 'string') {
    try {
      parsed = JSON.parse(pattern);
    } catch (error) {
      throw new InvalidEventPatternError(error instanceof Error ? error.message : String(error));
    }
  }
  if (!isPlainObject(parsed)) throw new InvalidEventPatternError('Filter is not an object');
  return parsed;
}

/** Parses and validates a pattern, returning a matcher. Throws {@link InvalidEventPatternError}. */
export function compileEventPattern(pattern: string | EventPattern): CompiledEventPattern {
  const parsed = readPattern(pattern);
  const branches = new PatternCompiler().compile(parsed).map(toCompiledFields);
  return {
    pattern: parsed,
    matches(event: unknown): boolean {
      const fields = flatten(event);
      return branches.some((branch) => matchBranch(branch, fields, 0, NO_MEMBERSHIP));
    },
  };
}

/** Parses (when given JSON text) and validates a pattern. Throws {@link InvalidEventPatternError}. */
export function parseEventPattern(pattern: string | EventPattern): EventPattern {
  return compileEventPattern(pattern).pattern;
}

const compiledPatterns = new Map<string, CompiledEventPattern>();

/** Whether `event` matches `pattern`. Compiled patterns are cached by their JSON text. */
export function matchesPattern(pattern: string | EventPattern, event: unknown): boolean {
  const key = typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
  let compiled = compiledPatterns.get(key);
  if (!compiled) {
    compiled = compileEventPattern(pattern);
    if (compiledPatterns.size >= MAX_CACHED_PATTERNS) {
      const oldest = compiledPatterns.keys().next();
      if (!oldest.done) compiledPatterns.delete(oldest.value);
    }
    compiledPatterns.set(key, compiled);
  }
  return compiled.matches(event);
}
