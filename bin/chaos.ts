/**
 * `npm run chaos`: drive orders through Buzzer under a fault profile and check that every accepted order ended and
 * every effect happened exactly once. The logic is in `chaos/`; this file only reads the command line.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../chaos/profiles.ts';
import { formatReport } from '../chaos/report.ts';
import { runChaos } from '../chaos/run.ts';

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};
const whole = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
  return n;
};

const program = new Command('npm run chaos --')
  .description(
    'Drive orders through Buzzer under a fault profile, heal, redrive the DLQs, and check the ledger: every accepted ' +
      'order ends (nothing lost) and every charge, refund, mail and points credit happens once (nothing doubled).',
  )
  .option('-n, --orders <n>', 'orders to place', positive('orders'), 200)
  .option('-c, --concurrency <n>', 'clients placing orders at once', positive('concurrency'), 20)
  .addOption(new Option('-p, --profile <name>', 'fault profile').choices(PROFILE_NAMES).default('harsh'))
  .option('--seed <n>', "seed of the run's dice (tokens, items, which deliveries fail)", whole('seed'))
  .option(
    '--attach',
    'use the system a running `npm start` wrote to .buzzer/runtime.json (profiles none, provider)',
  )
  .option(
    '--settle-timeout <seconds>',
    'how long to wait for the orders to end with faults on, again after healing, and again after a redrive; a run that does not settle says so in its notes',
    positive('settle timeout'),
    120,
  )
  .option(
    '--visibility-timeout <seconds>',
    "consumer queues' visibility timeout during the run, so crashed batches return quickly (0 = as deployed)",
    whole('visibility timeout'),
    4,
  )
  .option(
    '--lambda-concurrency <n>',
    'execution environments per function of the runtime the run starts (slow payments hold one each)',
    positive('lambda concurrency'),
    8,
  )
  .option('--no-synth', 'use the template already in cdk.out instead of running cdk synth')
  .option('--json', 'print the full report as JSON (with npm: `npm run -s chaos -- --json`)')
  .addHelpText(
    'after',
    `\nProfiles:\n${PROFILE_NAMES.map((name) => `  ${name.padEnd(11)} ${PROFILES[name].description}`).join('\n')}\n\n` +
      'express and harsh run the saga as an EXPRESS workflow: the run synthesizes it with -c workflowType=EXPRESS into\n' +
      '.buzzer/cdk.out-express (cdk.out keeps the STANDARD app) and needs a runtime of its own (no --attach).\n\n' +
      'Exit code: 0 when nothing was lost or doubled, 1 when the check found something, 2 when the run itself failed.\n' +
      '\nExamples:\n  npm run chaos -- --orders 200 --concurrency 20 --profile harsh\n' +
      '  npm run chaos -- --orders 200 --profile express --seed 7\n' +
      '  npm run -s chaos -- --attach --profile provider --orders 50 --json > report.json\n',
  );

program.parse(process.argv.slice(2), { from: 'user' });
const opts = program.opts<{
  orders: number;
  concurrency: number;
  profile: ProfileName;
  seed?: number;
  attach?: boolean;
  settleTimeout: number;
  visibilityTimeout: number;
  synth: boolean;
  lambdaConcurrency: number;
  json?: boolean;
}>();

try {
  const report = await runChaos({
    orders: opts.orders,
    concurrency: opts.concurrency,
    profile: opts.profile,
    seed: opts.seed,
    attach: opts.attach,
    projectRoot: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
    settleTimeoutMs: opts.settleTimeout * 1000,
    visibilityTimeoutSeconds: opts.visibilityTimeout,
    synth: opts.synth,
    lambdaConcurrency: opts.lambdaConcurrency,
    log: (line) => process.stderr.write(`chaos: ${line}\n`),
  });
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  process.exitCode = report.ok ? 0 : 1;
} catch (error) {
  process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
// The run has stopped its runtime (the Step Functions engine refuses starts once it stops), but a 1000-order harsh run
// was once seen to stay alive after its report; the cause was not pinned down. Nothing is left to do: exit once the
// report is written.
process.stdout.write('', () => process.exit());
