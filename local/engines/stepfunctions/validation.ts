/** Request validation and pagination shared by the Step Functions API operations (AWS messages and limits). */
import { AwsServiceError } from '../gateway.ts';

const MAX_INPUT_BYTES = 262_144;
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;

export function requireArn(arn: string | undefined, field: string): asserts arn is string {
  if (typeof arn !== 'string' || arn === '') {
    throw new AwsServiceError(
      'ValidationException',
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (!/^arn:aws[\w-]*:states:/.test(arn)) throw new AwsServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
}

// Whitespace, brackets, wildcards and these special characters are not allowed in names (nor control characters).
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;

function isControlCharacter(char: string): boolean {
  const code = char.charCodeAt(0);
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

export function validateExecutionName(name: string): void {
  const invalid =
    name.length < 1 ||
    name.length > 80 ||
    INVALID_NAME_CHARACTERS.test(name) ||
    [...name].some(isControlCharacter);
  if (invalid) throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
}

export function parseExecutionInput(input: string): unknown {
  if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
    throw new AwsServiceError(
      'InvalidExecutionInput',
      'Invalid State Machine Execution Input: input exceeds 256 KiB',
    );
  }
  try {
    return JSON.parse(input) as unknown;
  } catch {
    throw new AwsServiceError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${input}'`);
  }
}

/** Offset-based pages; the token is opaque to clients, as AWS's is. */
export function paginate<T>(items: T[], maxResults: number | undefined, nextToken: string | undefined) {
  let offset = 0;
  if (nextToken) {
    const decoded = Number(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0) {
      throw new AwsServiceError('InvalidToken', `Invalid Token: '${nextToken}'`);
    }
    offset = decoded;
  }
  const size = Math.min(maxResults && maxResults > 0 ? maxResults : DEFAULT_PAGE, MAX_PAGE);
  const end = offset + size;
  return {
    items: items.slice(offset, end),
    nextToken: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined,
  };
}
