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
