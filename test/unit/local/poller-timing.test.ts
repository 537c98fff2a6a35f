import { describe, expect, it } from 'vitest';
import { Doorbell } from '#local/engines/pollers/timing.ts';

describe('Doorbell', () => {
  const never = new AbortController().signal;

  it('wakes every waiter on a ring', async () => {
    // Arrange
    const bell = new Doorbell();
    const woken: string[] = [];
    const a = bell.wait(bell.rings, 60_000, never).then(() => woken.push('a'));
    const b = bell.wait(bell.rings, 60_000, never).then(() => woken.push('b'));

    // Act
    bell.ring();
    await Promise.all([a, b]);

    // Assert
    expect(woken.sort()).toEqual(['a', 'b']);
  });

  it('does not wait when a ring came after the count the waiter saw (between its look and its wait)', async () => {
    // Arrange
    const bell = new Doorbell();
    const seen = bell.rings;
    bell.ring();

    // Act
    const started = Date.now();
    await bell.wait(seen, 60_000, never);

    // Assert
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives up after its time, and at once when aborted', async () => {
    // Arrange
    const bell = new Doorbell();
    const abort = new AbortController();

    // Act
    const timedOut = bell.wait(bell.rings, 20, never);
    const aborted = bell.wait(bell.rings, 60_000, abort.signal);
    abort.abort();

    // Assert
    await expect(Promise.all([timedOut, aborted])).resolves.toEqual([undefined, undefined]);
  });
});
