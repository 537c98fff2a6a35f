/**
 * Typed reading of resolved CloudFormation `Properties` (plain JSON after intrinsics are resolved). Used
 * by the table, queue and event-source-mapping engines. CloudFormation itself accepts numbers and
 * booleans as strings (`"5"`, `"true"`), and templates do use both forms, so the readers do too.
 */

/** A resolved property has a shape the local engines cannot map; the message names the property. */
export class InvalidPropertyError extends Error {
  override name = 'InvalidPropertyError';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class Props {
  private readonly values: Record<string, unknown>;
  /** Human-readable location, e.g. `AWS::SQS::Queue "orders".RedrivePolicy`. */
  readonly where: string;

  private constructor(values: Record<string, unknown>, where: string) {
    this.values = values;
    this.where = where;
  }

  static of(value: unknown, where: string): Props {
    if (value === undefined || value === null) return new Props({}, where);
    if (!isRecord(value))
      throw new InvalidPropertyError(`${where} must be an object, got ${JSON.stringify(value)}`);
    return new Props(value, where);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.values, key) && this.values[key] !== undefined && this.values[key] !== null;
  }

  raw(key: string): unknown {
    return Object.hasOwn(this.values, key) ? this.values[key] : undefined;
  }

  private fail(key: string, expected: string): never {
    throw new InvalidPropertyError(
      `${this.where}.${key} must be ${expected}, got ${JSON.stringify(this.raw(key))}`,
    );
  }

  string(key: string): string | undefined {
    if (!this.has(key)) return undefined;
    const value = this.raw(key);
    return typeof value === 'string' ? value : this.fail(key, 'a string');
  }

  requiredString(key: string): string {
    return this.string(key) ?? this.fail(key, 'a string (it is required)');
  }

  number(key: string): number | undefined {
    if (!this.has(key)) return undefined;
    const value = this.raw(key);
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    return typeof number === 'number' && Number.isFinite(number) ? number : this.fail(key, 'a number');
  }

  boolean(key: string): boolean | undefined {
    if (!this.has(key)) return undefined;
    const value = this.raw(key);
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    return this.fail(key, 'a boolean');
  }

  props(key: string): Props | undefined {
    if (!this.has(key)) return undefined;
    const value = this.raw(key);
    return isRecord(value) ? new Props(value, `${this.where}.${key}`) : this.fail(key, 'an object');
  }

  /** A list of objects, each wrapped for further reading. */
  list(key: string): Props[] | undefined {
    if (!this.has(key)) return undefined;
    const value = this.raw(key);
    if (!Array.isArray(value)) return this.fail(key, 'a list');
    return value.map((item, index) => {
      if (!isRecord(item)) return this.fail(`${key}[${index}]`, 'an object');
      return new Props(item, `${this.where}.${key}[${index}]`);
    });
  }

  strings(key: string): string[] | undefined {
    if (!this.has(key)) return undefined;
    const value = this.raw(key);
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      return this.fail(key, 'a list of strings');
    }
    return value;
  }
}
