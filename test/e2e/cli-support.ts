/** The operator CLI as the e2e files drive it: in-process, against the runtime a file started. */
import { clientsForRuntime, contextFor, type RuntimeFile, targetFromRuntime } from '#ops/cli/context.ts';
import { runCli } from '#ops/cli/program.ts';

/** Runs `buzzer <args> --json --quiet` against `runtimeFile` and parses what it printed; a non-zero exit throws. */
export async function buzzerJson<T>(runtimeFile: RuntimeFile, ...args: string[]): Promise<T> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '--json', '--quiet'], {
    discover: async () => contextFor(targetFromRuntime(runtimeFile), clientsForRuntime(runtimeFile)),
    io: {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
    },
  });
  if (code !== 0) throw new Error(`buzzer ${args.join(' ')} exited ${code}: ${err}`);
  return JSON.parse(out) as T;
}
