import { createHash } from 'node:crypto';

/**
 * Deterministic stand-ins for the random identifiers AWS assigns (API ids, mapping UUIDs, secret
 * suffixes). Deterministic so a restart of the local runtime yields the same URLs and ARNs, and a
 * client configured against the last run keeps working.
 */

const LOWER_ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789';
const UPPER_ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const MIXED_ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function digest(seed: string): Buffer {
  return createHash('sha256').update(seed).digest();
}

function fromAlphabet(seed: string, length: number, alphabet: string): string {
  const bytes = digest(seed);
  let id = '';
  for (let i = 0; i < length; i += 1) {
    const byte = bytes[i % bytes.length] ?? 0;
    // Mixing in the position keeps ids longer than the digest from repeating themselves.
    id += alphabet[(byte + Math.floor(i / bytes.length)) % alphabet.length];
  }
  return id;
}

/** Lower-case alphanumeric id such as API Gateway's `a1b2c3d4e5`. */
export function stableLowerId(seed: string, length = 10): string {
  return fromAlphabet(seed, length, LOWER_ALPHANUMERIC);
}

/** Upper-case alphanumeric id such as an IAM role id's tail. */
export function stableUpperId(seed: string, length: number): string {
  return fromAlphabet(seed, length, UPPER_ALPHANUMERIC);
}

/** Mixed-case alphanumeric id such as the 6-character suffix of a Secrets Manager ARN. */
export function stableMixedId(seed: string, length: number): string {
  return fromAlphabet(seed, length, MIXED_ALPHANUMERIC);
}

/** A version-4-shaped UUID derived from the seed. */
export function stableUuid(seed: string): string {
  const bytes = digest(seed);
  // Set the version (4) and variant (10xx) bits so the value passes UUID validators.
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
