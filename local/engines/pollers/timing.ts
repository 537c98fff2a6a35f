/** Waits `ms`, or less when `signal` aborts; never rejects, so loops simply re-check `signal.aborted`. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A pause that another part of the poller can cut short (e.g. "a shard finished: look for its children now"). */
export class Alarm {
  private wakeUp: (() => void) | undefined;

  wait(ms: number, signal: AbortSignal): Promise<void> {
    const wake = new AbortController();
    this.wakeUp = () => wake.abort();
    return pause(ms, AbortSignal.any([signal, wake.signal])).finally(() => {
      this.wakeUp = undefined;
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}

/** Polls `condition` until it holds or `signal` aborts. */
export async function until(condition: () => boolean | Promise<boolean>, signal: AbortSignal, everyMs = 25) {
  while (!signal.aborted && !(await condition())) await pause(everyMs, signal);
}

/**
 * A bell that many waiters share: `ring()` wakes every current waiter, and a waiter that missed a ring between its
 * last look and its wait (it passes the `rings` count it saw before looking) does not wait at all.
 */
export class Doorbell {
  rings = 0;
  private readonly waiters = new Set<() => void>();

  ring(): void {
    this.rings++;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Waits until a ring after `seenRings`, `ms` at most, or until `signal` aborts. */
  wait(seenRings: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.rings !== seenRings) return Promise.resolve();
    const rung = new AbortController();
    const wake = (): void => rung.abort();
    this.waiters.add(wake);
    return pause(ms, AbortSignal.any([signal, rung.signal])).finally(() => this.waiters.delete(wake));
  }
}
