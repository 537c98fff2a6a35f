/**
 * The `buzzer` operator CLI: see what failed, redrive it, and let nothing get stuck. One file per command group;
 * every command works on the running local runtime (default) or a deployed stack (`--stack`).
 */
import { Command, CommanderError } from 'commander';
import { registerBatchCommands } from './batch.ts';
import { registerClientCommands } from './clients.ts';
import { registerConsoleCommand } from './console.ts';
import { discover as discoverTarget } from './context.ts';
import { registerDlqCommands } from './dlq.ts';
import { registerKeyCommands } from './keys.ts';
import { registerMailCommands } from './mail.ts';
import { registerMetricsCommand } from './metrics.ts';
import { registerOrderCommand } from './order.ts';
import { registerOrdersCommand } from './orders.ts';
import { registerRelayCommands } from './relay.ts';
import { type CliIo, commandRunner, type Discover } from './runner.ts';
import { registerSagaCommands } from './saga.ts';
import { registerStatusCommand } from './status.ts';
import { registerWebhookCommands } from './webhooks.ts';

export interface CliDeps {
  /** How to find the system (tests inject the runtime they started). */
  discover?: Discover;
  io?: CliIo;
  /** When `buzzer console` stops (tests); by default on SIGINT or SIGTERM. */
  consoleStopped?: () => Promise<void>;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export function createProgram(deps: CliDeps = {}): Command {
  const io = deps.io ?? processIo;
  const run = commandRunner(deps.discover ?? discoverTarget, io);
  const program = new Command('buzzer')
    .description('Operate Buzzer: dead-letter queues, failed sagas, the outbox relay, stuck orders, API keys')
    .option(
      '--stack <name>',
      'work on this deployed CloudFormation stack (default: the local runtime of npm start)',
    )
    .option('--region <region>', 'AWS region of --stack (default: AWS_REGION)')
    .option('--runtime-file <path>', 'local runtime description (default: .buzzer/runtime.json)')
    .option('--json', 'print JSON for scripts instead of tables')
    .option('-q, --quiet', 'no progress messages on stderr')
    // Every subcommand's --help lists --json, --stack and the other options that come before the command.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .addHelpText(
      'after',
      '\nExamples:\n  buzzer status\n  buzzer dlq peek notify\n  buzzer dlq redrive notify --rate 10\n' +
        '  buzzer saga redrive --failed-since 2h\n  buzzer relay replay --dry-run\n  buzzer order <trackingId>\n  buzzer orders --client acme\n  buzzer webhooks list acme\n  buzzer console\n' +
        '  buzzer metrics\n  buzzer mail campaign --recipients 1000\n  buzzer keys create --client acme\n  buzzer keys revoke acme:3f9a1c2b7d4e\n  buzzer clients limits acme --rate 5 --burst 20\n  buzzer batch run settlement --date 2026-12-01\n  buzzer batch runs\n  buzzer --stack Buzzer --region eu-west-1 status --json\n\n' +
        'Runbook: docs/runbook.md\n',
    );
  registerStatusCommand(program, run);
  registerDlqCommands(program, run);
  registerSagaCommands(program, run);
  registerRelayCommands(program, run);
  registerOrderCommand(program, run);
  registerOrdersCommand(program, run);
  registerWebhookCommands(program, run);
  registerKeyCommands(program, run);
  registerClientCommands(program, run);
  registerMetricsCommand(program, run);
  registerMailCommands(program, run);
  registerConsoleCommand(program, deps.discover ?? discoverTarget, io, deps.consoleStopped);
  registerBatchCommands(program, run);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** Runs one command line (without `node` and the script) and answers the exit code. */
export async function runCli(args: string[], deps: CliDeps = {}): Promise<number> {
  const io = deps.io ?? processIo;
  const program = createProgram(deps);
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    io.err(`buzzer: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
