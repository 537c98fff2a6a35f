/** How every command runs: discover the target, do the work, print a table or JSON, always close the clients. */
import type { Command } from 'commander';
import type { DiscoveryOptions, OpsContext } from './context.ts';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export interface GlobalOptions extends DiscoveryOptions {
  json?: boolean;
  quiet?: boolean;
}

export type Discover = (options: GlobalOptions, progress: (message: string) => void) => Promise<OpsContext>;

export type CommandRunner = <T>(
  command: Command,
  work: (ctx: OpsContext) => Promise<T>,
  render: (result: T) => string,
) => Promise<void>;

export function commandRunner(discover: Discover, io: CliIo): CommandRunner {
  return async (command, work, render) => {
    const options = command.optsWithGlobals<GlobalOptions>();
    // Progress goes to stderr, so `--json` output on stdout stays machine-readable.
    const progress = options.quiet ? () => {} : (message: string) => io.err(`… ${message}\n`);
    const ctx = await discover(options, progress);
    try {
      const result = await work(ctx);
      io.out(options.json ? `${JSON.stringify(result, null, 2)}\n` : render(result));
    } finally {
      ctx.close();
    }
  };
}
