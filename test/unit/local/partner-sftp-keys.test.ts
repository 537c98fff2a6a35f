import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '#local/partner-sftp.ts';

describe('the partner SFTP server keys', () => {
  it('are always ones ssh2 reads back (its generator gets about 1 key in 220 wrong)', () => {
    // Arrange / Act: enough keys that the generator's bad one shows up almost surely (1 - (219/220)^1000 > 98 %).
    const unreadable = Array.from({ length: 1_000 }, () => generateEd25519KeyPair()).filter(
      (keys) =>
        ssh2.utils.parseKey(keys.public) instanceof Error ||
        ssh2.utils.parseKey(keys.private) instanceof Error,
    );

    // Assert
    expect(unreadable).toEqual([]);
  });
});
