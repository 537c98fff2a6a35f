/**
 * At most `n` calls of the returned function run at once; the others wait their turn in order. Lambda plumbing for a
 * handler whose batch is processed in parallel but whose downstream must not see the whole batch at once.
 */
export function concurrencyLimit(n: number): <T>(work: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`concurrencyLimit: n must be a whole number ≥ 1, got ${n}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await work();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}
