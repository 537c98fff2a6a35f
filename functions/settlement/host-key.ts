import { createHash } from 'node:crypto';
import { namedError } from '#shared/named-error.ts';

/** The partner's server showed a host key other than the pinned one: nothing was sent. */
export class HostKeyMismatch extends namedError('HostKeyMismatch') {}

/** OpenSSH's fingerprint of a host key blob: `SHA256:` and the unpadded base64 of its SHA-256 (`ssh-keygen -lf`). */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** `SHA256:abc…` as pinned: the prefix may be written in any case, the base64 is compared exactly. */
export function normalizeFingerprint(pinned: string): string {
  const trimmed = pinned.trim();
  const match = /^sha256:(.+)$/i.exec(trimmed);
  return `SHA256:${(match?.[1] ?? trimmed).replace(/=+$/, '')}`;
}

/**
 * A host key check for ssh2's `hostVerifier`: accepts exactly the pinned key and remembers what it saw, so the
 * caller can fail with both fingerprints instead of ssh2's bare "host key verification failed".
 */
export function pinnedHostKey(pinned: string, host: string) {
  const expected = normalizeFingerprint(pinned);
  let seen: string | undefined;
  return {
    verify(key: Buffer): boolean {
      seen = hostKeyFingerprint(key);
      return seen === expected;
    },
    /** The error to report after a refused handshake, or undefined when the key was not the problem. */
    mismatch(): HostKeyMismatch | undefined {
      if (seen === undefined || seen === expected) return undefined;
      return new HostKeyMismatch(
        `the SFTP server ${host} presented host key ${seen}, not the pinned ${expected}: refusing to send ` +
          'the settlement file (if the partner changed its key, confirm the new fingerprint with them and update ' +
          'the secret)',
      );
    },
  };
}
