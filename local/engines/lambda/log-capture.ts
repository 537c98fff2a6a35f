/**
 * A function's log lines, collected inside its worker and handed to the main thread in batches. Node's worker
 * stdio costs two messages per write (the chunk, and the main thread asking for more), and a CPU profile of the
 * runtime under load found those messages the main thread's largest single cost (docs/profile.md). Here a write
 * only appends to a list; the list goes with the next message the worker sends (the invocation's answer, most
 * often), or on the next turn of the event loop for lines written between invocations.
 */
type Write = typeof process.stdout.write;

export interface LogCapture {
  /** The complete lines written since the last call (and, with `all`, a trailing partial line too). */
  take(all?: boolean): string[];
}

export function captureStdio(flush: () => void): LogCapture {
  const lines: string[] = [];
  let flushScheduled = false;
  const partial = new Map<NodeJS.WriteStream, string>();

  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      if (lines.length > 0) flush();
    }).unref();
  };

  for (const stream of [process.stdout, process.stderr]) {
    partial.set(stream, '');
    const write = (
      chunk: string | Uint8Array,
      encodingOrCallback?: BufferEncoding | ((error?: Error | null) => void),
      callback?: (error?: Error | null) => void,
    ): boolean => {
      const text =
        typeof chunk === 'string'
          ? chunk
          : Buffer.from(chunk).toString(typeof encodingOrCallback === 'string' ? encodingOrCallback : 'utf8');
      const pieces = ((partial.get(stream) ?? '') + text).split('\n');
      partial.set(stream, pieces.pop() ?? '');
      lines.push(...pieces);
      if (pieces.length > 0) scheduleFlush();
      const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
      if (done) queueMicrotask(() => done(null));
      return true;
    };
    stream.write = write as Write;
  }

  return {
    take(all = false) {
      if (all) {
        for (const [stream, rest] of partial) {
          if (rest) lines.push(rest);
          partial.set(stream, '');
        }
      }
      return lines.splice(0);
    },
  };
}
