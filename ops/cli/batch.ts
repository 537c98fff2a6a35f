/**
 * `buzzer batch`: the batch file jobs. `run settlement` exports one business date now (the schedule does it daily),
 * `runs` lists the exports with where each failed, `redrive` resumes a failed one at the state that failed
 * (RedriveExecution: the pages already written are kept, the file comes out byte for byte as without the failure).
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { PARTNER_NAME } from '#contracts/settlement.ts';
import { isBusinessDate } from '#functions/settlement/business-date.ts';
import { OperatorError, type OpsContext } from './context.ts';
import { executionPages } from './executions.ts';
import { table } from './format.ts';
import type { CommandRunner } from './runner.ts';

export interface SettlementRun {
  executionArn: string;
  name: string;
  partner?: string;
  date?: string;
  status: string;
  /** Detail records in the file, once assembled. */
  records?: number;
  file?: string;
  sha256?: string;
  /** Whether the delivery sent the file, and why not when it did not. */
  delivery?: { sent: boolean; detail: string };
  /** The state the execution failed in (what a redrive resumes). */
  failedState?: string;
  error?: string;
  cause?: string;
  redriveCount?: number;
}

function stateMachineOf(ctx: OpsContext): string {
  const arn = ctx.target.settlementStateMachineArn;
  if (!arn) {
    throw new OperatorError(
      `${ctx.target.stackName} has no SettlementStateMachineArn output: deploy (or start) the current version`,
    );
  }
  return arn;
}

function parseJsonObject(text: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text ?? '{}');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The state the execution was in when it failed: the last state it entered. */
async function failedStateOf(ctx: OpsContext, executionArn: string): Promise<string | undefined> {
  const history = await ctx.clients.sfn.send(
    new GetExecutionHistoryCommand({
      executionArn,
      reverseOrder: true,
      maxResults: 100,
      includeExecutionData: false,
    }),
  );
  return history.events?.find((event) => event.stateEnteredEventDetails?.name)?.stateEnteredEventDetails
    ?.name;
}

async function describeRun(ctx: OpsContext, executionArn: string): Promise<SettlementRun> {
  const execution: DescribeExecutionCommandOutput = await ctx.clients.sfn.send(
    new DescribeExecutionCommand({ executionArn }),
  );
  const input = parseJsonObject(execution.input);
  const output = parseJsonObject(execution.output);
  const file = output.file as { name?: string; records?: number; sha256?: string } | undefined;
  const delivery = (output.delivery as { value?: { sent: boolean; detail: string } } | undefined)?.value;
  const status = execution.status ?? 'UNKNOWN';
  const run: SettlementRun = {
    executionArn,
    name: execution.name ?? executionArn.split(':').at(-1) ?? executionArn,
    ...(typeof (output.partner ?? input.partner) === 'string'
      ? { partner: String(output.partner ?? input.partner) }
      : {}),
    ...(typeof (output.date ?? input.date) === 'string' ? { date: String(output.date ?? input.date) } : {}),
    status,
    ...(file?.records !== undefined ? { records: file.records } : {}),
    ...(file?.name ? { file: file.name } : {}),
    ...(file?.sha256 ? { sha256: file.sha256 } : {}),
    ...(delivery ? { delivery } : {}),
    ...(execution.error ? { error: execution.error } : {}),
    ...(execution.cause ? { cause: execution.cause } : {}),
    ...(execution.redriveCount ? { redriveCount: execution.redriveCount } : {}),
  };
  if (status === 'FAILED' || status === 'TIMED_OUT' || status === 'ABORTED') {
    const state = await failedStateOf(ctx, executionArn);
    if (state) run.failedState = state;
  }
  return run;
}

async function waitForEnd(ctx: OpsContext, executionArn: string, timeoutMs: number): Promise<SettlementRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (status !== 'RUNNING' && status !== 'PENDING_REDRIVE') return describeRun(ctx, executionArn);
    if (Date.now() > deadline) {
      throw new OperatorError(
        `${executionArn} is still running after ${timeoutMs / 1000} s; see buzzer batch runs`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

export interface RunSettlementOptions {
  date: string;
  partner?: string;
  resend?: boolean;
  /** Return once started instead of waiting for the end. */
  noWait?: boolean;
  timeoutMs?: number;
}

/** Starts the export of one business date for one partner and (unless `noWait`) waits for it to end. */
export async function runSettlement(ctx: OpsContext, options: RunSettlementOptions): Promise<SettlementRun> {
  if (!isBusinessDate(options.date))
    throw new OperatorError(`--date must be a date YYYY-MM-DD, got "${options.date}"`);
  const partner = options.partner ?? 'acquirer';
  if (!PARTNER_NAME.test(partner)) throw new OperatorError(`--partner "${partner}" is not a partner name`);
  const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 18);
  const started = await ctx.clients.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: stateMachineOf(ctx),
      name: `${partner}-${options.date}-${stamp}${options.resend ? '-resend' : ''}`,
      input: JSON.stringify({ partner, date: options.date, ...(options.resend ? { resend: true } : {}) }),
    }),
  );
  const executionArn = started.executionArn ?? '';
  ctx.progress(`started ${executionArn}`);
  if (options.noWait)
    return {
      executionArn,
      name: executionArn.split(':').at(-1) ?? '',
      partner,
      date: options.date,
      status: 'RUNNING',
    };
  return waitForEnd(ctx, executionArn, options.timeoutMs ?? 10 * 60_000);
}

/** The newest exports (optionally of one date), with their status, rows and where a failed one stopped. */
export async function listSettlementRuns(
  ctx: OpsContext,
  options: { date?: string; limit?: number } = {},
): Promise<SettlementRun[]> {
  const limit = options.limit ?? 20;
  const runs: SettlementRun[] = [];
  for await (const executions of executionPages(ctx.clients.sfn, {
    stateMachineArn: stateMachineOf(ctx),
    maxResults: 100,
  })) {
    for (const execution of executions) {
      if (!execution.executionArn) continue;
      if (options.date && !execution.name?.includes(`-${options.date}-`)) {
        // Scheduled runs carry no date in their names: look at their input.
        const run = await describeRun(ctx, execution.executionArn);
        if (run.date !== options.date) continue;
        runs.push(run);
      } else {
        runs.push(await describeRun(ctx, execution.executionArn));
      }
      if (runs.length >= limit) return runs;
    }
  }
  return runs;
}

/** Redrives a failed export (an execution ARN or name, or the newest failed run of a date) and waits for the end. */
export async function redriveSettlement(
  ctx: OpsContext,
  which: { execution?: string; date?: string },
  options: { noWait?: boolean; timeoutMs?: number } = {},
): Promise<SettlementRun> {
  let executionArn = which.execution;
  if (executionArn && !executionArn.startsWith('arn:')) {
    executionArn = `${stateMachineOf(ctx).replace(':stateMachine:', ':execution:')}:${executionArn}`;
  }
  if (!executionArn) {
    if (!which.date) throw new OperatorError('give an execution (ARN or name) or --date');
    const failed = (await listSettlementRuns(ctx, { date: which.date, limit: 50 })).find(
      (run) => run.status === 'FAILED',
    );
    if (!failed) throw new OperatorError(`no failed settlement export for ${which.date}`);
    executionArn = failed.executionArn;
  }
  await ctx.clients.sfn.send(new RedriveExecutionCommand({ executionArn })).catch((error: unknown) => {
    throw new OperatorError(
      `cannot redrive ${executionArn}: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
  ctx.progress(`redriving ${executionArn}`);
  if (options.noWait) return describeRun(ctx, executionArn);
  return waitForEnd(ctx, executionArn, options.timeoutMs ?? 10 * 60_000);
}

function renderRun(run: SettlementRun): string {
  const lines = [
    `${run.status}  ${run.partner ?? '?'} ${run.date ?? '?'}  ${run.name}`,
    ...(run.file
      ? [`  file      ${run.file} (${run.records ?? 0} records, sha256 ${run.sha256 ?? '?'})`]
      : []),
    ...(run.delivery
      ? [`  delivery  ${run.delivery.sent ? 'sent' : 'not sent'}: ${run.delivery.detail}`]
      : []),
    ...(run.failedState
      ? [`  failed in ${run.failedState}: ${run.error ?? ''} ${run.cause ?? ''}`.trimEnd()]
      : []),
    ...(run.failedState ? [`  resume    buzzer batch redrive ${run.name}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

function renderRuns(runs: SettlementRun[]): string {
  if (runs.length === 0) return 'no settlement exports\n';
  return table(
    ['execution', 'date', 'partner', 'status', 'rows', 'failed in', 'error'],
    runs.map((run) => [run.name, run.date, run.partner, run.status, run.records, run.failedState, run.error]),
  );
}

const whole = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new OperatorError(`${name} must be a whole number ≥ 1`);
  return n;
};

export function registerBatchCommands(program: Command, run: CommandRunner): void {
  const batch = program.command('batch').description('Batch file jobs: the daily settlement export');
  batch
    .command('run')
    .description(
      'Export one business date now and deliver it by SFTP. The same date again makes the same file and does not ' +
        'send it again unless --resend',
    )
    .argument('<job>', 'the job: settlement')
    .requiredOption('--date <YYYY-MM-DD>', "the business date (in the stack's settlement time zone)")
    .option('--partner <name>', 'the partner (-c settlementPartners)', 'acquirer')
    .option('--resend', 'send the file even though this date was delivered before')
    .option('--no-wait', 'return once started')
    .addHelpText(
      'after',
      '\nExamples:\n  buzzer batch run settlement --date 2026-12-01\n  buzzer batch run settlement --date 2026-12-01 --resend\n',
    )
    .action(
      (
        job: string,
        options: { date: string; partner: string; resend?: boolean; wait: boolean },
        command: Command,
      ) =>
        run(
          command,
          async (ctx) => {
            if (job !== 'settlement')
              throw new OperatorError(`unknown batch job "${job}"; known: settlement`);
            return runSettlement(ctx, {
              date: options.date,
              partner: options.partner,
              ...(options.resend ? { resend: true } : {}),
              noWait: !options.wait,
            });
          },
          renderRun,
        ),
    );
  batch
    .command('runs')
    .description(
      'The newest settlement exports: date, partner, status, rows, the state a failed one stopped in',
    )
    .option('--date <YYYY-MM-DD>', 'only this business date')
    .option('--limit <n>', 'at most this many', whole('--limit'), 20)
    .action((options: { date?: string; limit: number }, command: Command) =>
      run(command, (ctx) => listSettlementRuns(ctx, options), renderRuns),
    );
  batch
    .command('redrive')
    .description(
      'Resume a failed settlement export at the state that failed (RedriveExecution): pages already written are ' +
        'kept, the file is the same bytes as a run without the failure',
    )
    .argument('[execution]', 'execution ARN or name (buzzer batch runs)')
    .option('--date <YYYY-MM-DD>', 'the newest failed export of this date')
    .option('--no-wait', 'return once redriven')
    .action((execution: string | undefined, options: { date?: string; wait: boolean }, command: Command) =>
      run(
        command,
        (ctx) =>
          redriveSettlement(
            ctx,
            { ...(execution ? { execution } : {}), ...(options.date ? { date: options.date } : {}) },
            { noWait: !options.wait },
          ),
        renderRun,
      ),
    );
}
