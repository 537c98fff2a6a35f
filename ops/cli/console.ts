/**
 * `buzzer console`: the web console (console/) on 127.0.0.1, against whatever `buzzer` works on: the local runtime,
 * or a deployed stack with `--stack`, acting with the operator's own AWS credentials, as every other command does.
 * What `npm start` serves locally, for a stack on AWS.
 */
import type { Command } from 'commander';
import { ensureConsoleBuilt } from '#console/server/build.ts';
import { startConsoleServer } from '#console/server/server.ts';
import { OperatorError } from './context.ts';
import type { CliIo, Discover, GlobalOptions } from './runner.ts';

export function registerConsoleCommand(
  program: Command,
  discover: Discover,
  io: CliIo,
  /** Resolves when the console should stop. @default SIGINT or SIGTERM */
  stopped: () => Promise<void> = () =>
    new Promise((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }),
): void {
  program
    .command('console')
    .description('Serve the web console on 127.0.0.1 against this target (the local runtime, or --stack)')
    .option('--port <port>', 'port to listen on (0: any free port)', '3100')
    .option('--client <id...>', 'clients offered in the orders and webhooks pickers')
    .action(async (options: { port: string; client?: string[] }, command: Command) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new OperatorError('--port must be a port number');
      const globals = command.optsWithGlobals<GlobalOptions>();
      const progress = globals.quiet ? () => {} : (message: string) => io.err(`… ${message}\n`);
      const ctx = await discover(globals, progress);
      try {
        const server = await startConsoleServer({
          ctx,
          distDir: await ensureConsoleBuilt(progress),
          port,
          clients: options.client ?? [],
        });
        io.out(
          `web console of ${ctx.target.stackName} (${ctx.target.kind}) on ${server.url}  (Ctrl-C stops it)\n`,
        );
        await stopped();
        await server.close();
      } finally {
        ctx.close();
      }
    });
}
