/**
 * `npm start`: brings the whole system up on 127.0.0.1 from the synthesized CDK template (see local/runtime.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { startBuzzer } from '#local/buzzer/start.ts';
import { cdkOutForContext, MAILBURST_CDK_OUT, REST_CDK_OUT, SYNC_CDK_OUT } from '#local/buzzer/synth.ts';
import { consoleLogger } from '#local/logging.ts';

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
  return n;
};
const positive = (name: string) => (value: string) => {
  const n = int(name)(value);
  if (n < 1) throw new InvalidArgumentError(`${name} must be a whole number ≥ 1`);
  return n;
};
const rate = (value: string) => {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('a rate is a number from 0 to 1');
  return n;
};

const program = new Command('npm start --')
  .description(
    'Run Buzzer locally from its synthesized CDK template: API, outbox relay, saga, workers and DLQs.',
  )
  .option(
    '-p, --port <port>',
    'port of the client API; further HTTP APIs (the sandbox) take the next ports',
    int('port'),
    3000,
  )
  .option('--console-port <port>', 'port of the web console (0: any free port)', int('console port'), 3100)
  .option('--no-console', 'do not serve the web console')
  .option(
    '--persist <dir>',
    'keep tables, executions, queued messages, stream positions and schedules in this directory across restarts',
  )
  .addOption(
    new Option('--workflow-type <type>', 'saga workflow type to synthesize').choices(['STANDARD', 'EXPRESS']),
  )
  .addOption(
    new Option(
      '--api <flavour>',
      `client API flavour to synthesize: an HTTP API, or a REST API with usage plans (cdk out ${REST_CDK_OUT})`,
    ).choices(['http', 'rest']),
  )
  .addOption(
    new Option(
      '--order-flow <flow>',
      `how POST /orders is served: 202 and the saga, or within the request (case 1 of the bench; cdk out ${SYNC_CDK_OUT})`,
    ).choices(['async', 'sync']),
  )
  .addOption(
    new Option(
      '--mail-service <service>',
      `the notify worker, or the mail service built for bursts (cdk out ${MAILBURST_CDK_OUT})`,
    ).choices(['notify', 'burst']),
  )
  .option('--no-synth', 'use the template already in --cdk-out instead of running cdk synth')
  .option('--cdk-out <dir>', 'cloud assembly directory', 'cdk.out')
  .option('--payment-latency <ms>', 'sandbox provider: extra latency on every payment call', int('latency'))
  .option('--payment-failure-rate <rate>', 'sandbox provider: share of payment calls answered 503', rate)
  .option('--mail-broken', 'sandbox mail sink: answer 503 to every mail (fills the notify DLQ)')
  .option(
    '--allow-loopback-webhooks',
    'let clients register http://127.0.0.1 webhook receivers (local testing only; never on AWS)',
  )
  .option(
    '--lambda-concurrency <n>',
    'execution environments per function without reserved concurrency',
    positive('lambda concurrency'),
    4,
  )
  .option(
    '--idle-timeout <seconds>',
    'shut a function environment down after this long without an invocation, as Lambda does (0: never)',
    int('idle timeout'),
    600,
  )
  .option(
    '--reconcile-every <seconds>',
    'run the rate() schedules (the stuck-order reconciler) this often instead of their rate; cron() schedules (the daily settlement export) keep their time',
    int('interval'),
  )
  .addOption(
    new Option('--log-level <level>', 'runtime log level')
      .choices(['debug', 'info', 'warn', 'error'])
      .default('info'),
  )
  .option('--no-function-logs', "do not print the functions' own log lines")
  .addHelpText(
    'after',
    '\nExamples:\n  npm start\n  npm start -- --persist .buzzer/state --port 8080\n  npm start -- --payment-latency 2000 --payment-failure-rate 0.2\n',
  );

program.parse(process.argv.slice(2), { from: 'user' });
const opts = program.opts<{
  port: number;
  consolePort: number;
  console: boolean;
  persist?: string;
  workflowType?: 'STANDARD' | 'EXPRESS';
  api?: 'http' | 'rest';
  orderFlow?: 'async' | 'sync';
  mailService?: 'notify' | 'burst';
  synth: boolean;
  cdkOut: string;
  paymentLatency?: number;
  paymentFailureRate?: number;
  mailBroken?: boolean;
  reconcileEvery?: number;
  allowLoopbackWebhooks?: boolean;
  lambdaConcurrency: number;
  idleTimeout: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  functionLogs: boolean;
}>();

const logger = consoleLogger(opts.logLevel);
const context = {
  ...(opts.workflowType ? { workflowType: opts.workflowType } : {}),
  ...(opts.api ? { apiFlavour: opts.api } : {}),
  ...(opts.orderFlow ? { orderFlow: opts.orderFlow } : {}),
  ...(opts.mailService ? { mailService: opts.mailService } : {}),
};
const runtime = await startBuzzer({
  apiPort: opts.port,
  persistDir: opts.persist,
  synth: opts.synth,
  cdkOut: program.getOptionValueSource('cdkOut') === 'default' ? cdkOutForContext(context) : opts.cdkOut,
  context,
  logger,
  functionLogs: opts.functionLogs,
  scheduleIntervalMs: opts.reconcileEvery === undefined ? undefined : opts.reconcileEvery * 1000,
  writeDiscoveryFile: true,
  consolePort: opts.console ? opts.consolePort : undefined,
  allowLoopbackWebhooks: opts.allowLoopbackWebhooks === true,
  lambdaConcurrency: opts.lambdaConcurrency,
  idleTimeoutMs: opts.idleTimeout === 0 ? undefined : opts.idleTimeout * 1000,
}).catch((error: unknown) => {
  logger.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});

if (opts.paymentLatency !== undefined || opts.paymentFailureRate !== undefined || opts.mailBroken) {
  await runtime.setSandboxFaults({
    paymentLatencyMs: opts.paymentLatency,
    paymentFailureRate: opts.paymentFailureRate,
    mailBroken: opts.mailBroken,
  });
}
process.stdout.write(runtime.describe());

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info(`${signal}: stopping`);
  await runtime.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
