/**
 * `buzzer batch`: the batch file jobs. `run settlement` exports one business date now (the schedule does it daily),
 * `runs` lists the exports with where each failed, `redrive` resumes a failed one at the state that failed
 * (RedriveExecution: the pages already written are kept, the file comes out byte for byte as without the failure).
 * The imports of the acquirer's settlement files (one execution per file dropped into the inbox) are listed and
 * redriven by the same commands: a redriven import resumes at the chunk that failed.
 */

import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { PARTNER_NAME, SETTLEMENT_IMPORT_PREFIXES } from '#contracts/settlement.ts';
import { isBusinessDate } from '#functions/settlement/business-date.ts';
import { IMPORT_FILE_NAME } from '#functions/settlement/import-format.ts';
import { ObjectStore, objectStoreClient } from '#functions/settlement/object-store.ts';
import { OperatorError, type OpsContext, requiredOutput } from './context.ts';
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

const stateMachineOf = (ctx: OpsContext): string =>
  requiredOutput(ctx.target.settlementStateMachineArn, 'SettlementStateMachineArn', ctx.target.stackName);

function parseJsonObject(text: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text ?? '{}');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The state the execution was in when it failed (the last state it entered), with that state's input. */
async function failedStepOf(
  ctx: OpsContext,
  executionArn: string,
): Promise<{ name: string; input: Record<string, unknown> } | undefined> {
  const history = await ctx.clients.sfn.send(
    new GetExecutionHistoryCommand({
      executionArn,
      reverseOrder: true,
      maxResults: 100,
      includeExecutionData: true,
    }),
  );
  const entered = history.events?.find(
    (event) => event.stateEnteredEventDetails?.name,
  )?.stateEnteredEventDetails;
  return entered?.name ? { name: entered.name, input: parseJsonObject(entered.input) } : undefined;
}

async function failedStateOf(ctx: OpsContext, executionArn: string): Promise<string | undefined> {
  return (await failedStepOf(ctx, executionArn))?.name;
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

/** One import of an inbound settlement file (an execution of the import's state machine). */
export interface ImportRun {
  job: 'import';
  executionArn: string;
  name: string;
  /** The file's name in the inbox. */
  file?: string;
  /**
   * The execution's status, except that an execution that rejected its file (a duplicate, an invalid file) ends
   * SUCCEEDED with the file in failed/, shown here as REJECTED.
   */
  status: string;
  startedAt?: string;
  date?: string;
  /** Detail lines in the file (once validated). */
  lines?: number;
  applied?: number;
  alreadyApplied?: number;
  matched?: number;
  mismatched?: number;
  /** Charges of the date that no file covers (once reconciled). */
  missing?: number;
  report?: string;
  /** Where the file is now: processed/…, failed/…, or work/… while importing or failed. */
  location?: string;
  reason?: string;
  errorReport?: string;
  failedState?: string;
  /** The chunk a failed ApplyChunk was applying (what a redrive runs again). */
  failedChunk?: number;
  error?: string;
  cause?: string;
  redriveCount?: number;
}

const importStateMachineOf = (ctx: OpsContext): string =>
  requiredOutput(
    ctx.target.settlementImportStateMachineArn,
    'SettlementImportStateMachineArn',
    ctx.target.stackName,
  );

const numberIn = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const stringIn = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** One import run from its execution: the file from the S3 event, the counts from the last state's output. */
export async function describeImportRun(ctx: OpsContext, executionArn: string): Promise<ImportRun> {
  const execution = await ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  const input = parseJsonObject(execution.input);
  const output = parseJsonObject(execution.output);
  const key = stringIn((input.detail as { object?: { key?: unknown } } | undefined)?.object?.key);
  const status = execution.status ?? 'UNKNOWN';
  let state = output;
  let failed: { name: string; input: Record<string, unknown> } | undefined;
  if (status === 'FAILED' || status === 'TIMED_OUT' || status === 'ABORTED') {
    failed = await failedStepOf(ctx, executionArn);
    state = failed?.input ?? {};
  }
  const counts = (state.counts ?? {}) as Record<string, unknown>;
  const cursor = (state.cursor ?? {}) as Record<string, unknown>;
  const fields: Partial<ImportRun> = {
    file: stringIn(state.name) ?? key?.replace(/^inbox\//, ''),
    startedAt: execution.startDate?.toISOString(),
    date: stringIn(state.date),
    lines: numberIn(counts.lines),
    applied: numberIn(counts.applied),
    alreadyApplied: numberIn(counts.alreadyApplied),
    matched: numberIn(counts.matched),
    mismatched: numberIn(counts.mismatched),
    missing: numberIn(state.missing),
    report: stringIn(state.report),
    location: stringIn(state.finalKey) ?? stringIn(state.key) ?? key,
    reason: stringIn(state.reason),
    errorReport: stringIn(state.errorReport),
    failedState: failed?.name,
    failedChunk: failed?.name === 'ApplyChunk' ? numberIn(cursor.chunk) : undefined,
    error: execution.error,
    cause: execution.cause,
    redriveCount: execution.redriveCount || undefined,
  };
  const run: ImportRun = {
    job: 'import',
    executionArn,
    name: execution.name ?? executionArn.split(':').at(-1) ?? executionArn,
    status: status === 'SUCCEEDED' && output.outcome === 'rejected' ? 'REJECTED' : status,
  };
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) (run as unknown as Record<string, unknown>)[name] = value;
  }
  return run;
}

/** The newest imports (optionally of one file name or business date): status, lines, where a failed one stopped. */
export async function listImportRuns(
  ctx: OpsContext,
  options: { file?: string; date?: string; limit?: number } = {},
): Promise<ImportRun[]> {
  const limit = options.limit ?? 20;
  const runs: ImportRun[] = [];
  for await (const executions of executionPages(ctx.clients.sfn, {
    stateMachineArn: importStateMachineOf(ctx),
    maxResults: 100,
  })) {
    for (const execution of executions) {
      if (!execution.executionArn) continue;
      const run = await describeImportRun(ctx, execution.executionArn);
      if (options.file && run.file !== options.file) continue;
      if (options.date && run.date !== options.date) continue;
      runs.push(run);
      if (runs.length >= limit) return runs;
    }
  }
  return runs;
}

export type BatchRun = (SettlementRun & { job?: 'settlement' }) | ImportRun;

/** `buzzer batch runs`: the exports and the imports (or one job's), newest first. */
export async function listBatchRuns(
  ctx: OpsContext,
  options: { job?: 'settlement' | 'import'; date?: string; file?: string; limit?: number } = {},
): Promise<BatchRun[]> {
  const limit = options.limit ?? 20;
  const exports =
    options.job === 'import' || options.file
      ? []
      : (await listSettlementRuns(ctx, { ...options, limit })).map((run) => ({
          ...run,
          job: 'settlement' as const,
        }));
  const imports =
    options.job === 'settlement' || !ctx.target.settlementImportStateMachineArn
      ? []
      : await listImportRuns(ctx, { ...options, limit });
  if (exports.length === 0) return imports;
  if (imports.length === 0) return exports;
  // Execution names of exports start with the partner and date; order both by start time, from the ARN's execution.
  const startOf = async (run: BatchRun) =>
    'startedAt' in run && run.startedAt
      ? Date.parse(run.startedAt)
      : ((
          await ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn: run.executionArn }))
        ).startDate?.getTime() ?? 0);
  const stamped = await Promise.all(
    [...exports, ...imports].map(async (run) => ({ run, at: await startOf(run) })),
  );
  return stamped
    .sort((a, b) => b.at - a.at)
    .slice(0, limit)
    .map(({ run }) => run);
}

/** Redrives a failed import (an execution ARN or name, or the newest failed import of a file) and waits for its end. */
export async function redriveImport(
  ctx: OpsContext,
  which: { execution?: string; file?: string },
  options: { noWait?: boolean; timeoutMs?: number } = {},
): Promise<ImportRun> {
  let executionArn = which.execution;
  if (executionArn && !executionArn.startsWith('arn:')) {
    executionArn = `${importStateMachineOf(ctx).replace(':stateMachine:', ':execution:')}:${executionArn}`;
  }
  if (!executionArn) {
    if (!which.file) throw new OperatorError('give an execution (ARN or name) or --file');
    const failed = (await listImportRuns(ctx, { file: which.file, limit: 50 })).find(
      (run) => run.status === 'FAILED',
    );
    if (!failed) throw new OperatorError(`no failed import of ${which.file}`);
    executionArn = failed.executionArn;
  }
  await ctx.clients.sfn.send(new RedriveExecutionCommand({ executionArn })).catch((error: unknown) => {
    throw new OperatorError(
      `cannot redrive ${executionArn}: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
  ctx.progress(`redriving ${executionArn}`);
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const run = await describeImportRun(ctx, executionArn);
    if (options.noWait || (run.status !== 'RUNNING' && run.status !== 'PENDING_REDRIVE')) return run;
    if (Date.now() > deadline) {
      throw new OperatorError(`${executionArn} is still running; see buzzer batch runs --job import`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Whether an execution name (not an ARN) is one of the import's, rather than the export's. */
async function isImportExecution(ctx: OpsContext, execution: string): Promise<boolean> {
  if (execution.startsWith('arn:')) {
    const marker = importStateMachineName(ctx);
    return marker !== undefined && execution.includes(marker);
  }
  const importArn = ctx.target.settlementImportStateMachineArn;
  if (!importArn) return false;
  try {
    await ctx.clients.sfn.send(
      new DescribeExecutionCommand({
        executionArn: `${importArn.replace(':stateMachine:', ':execution:')}:${execution}`,
      }),
    );
    return true;
  } catch {
    return false;
  }
}

function importStateMachineName(ctx: OpsContext): string | undefined {
  const arn = ctx.target.settlementImportStateMachineArn;
  return arn ? `:execution:${arn.split(':').at(-1)}:` : undefined;
}

/** `buzzer batch drop <file>`: puts a local file into the inbox (`inbox/<its name>`), which starts its import. */
export async function dropSettlementFile(
  ctx: OpsContext,
  file: string,
  options: { name?: string } = {},
): Promise<{ bucket: string; key: string; bytes: number }> {
  const bucket = requiredOutput(
    ctx.target.settlementInboxBucket,
    'SettlementInboxBucketName',
    ctx.target.stackName,
  );
  const name = options.name ?? path.basename(file);
  if (!IMPORT_FILE_NAME.test(name)) {
    throw new OperatorError(`"${name}" is not a settlement file name (letters, digits, . _ -, 200 at most)`);
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new OperatorError(`${file} is not a file`);
  const key = `${SETTLEMENT_IMPORT_PREFIXES.inbox}${name}`;
  await new ObjectStore(bucket, ctx.clients.s3 ?? objectStoreClient()).putFile(key, file);
  ctx.progress(`put ${file} into s3://${bucket}/${key}; buzzer batch runs --job import --file ${name}`);
  return { bucket, key, bytes: info.size };
}

function renderImportRun(run: ImportRun): string {
  const lines = [
    `${run.status}  import ${run.file ?? '?'} ${run.date ?? ''}  ${run.name}`,
    ...(run.lines !== undefined
      ? [
          `  lines     ${run.lines} (applied ${run.applied ?? 0}, already applied ${run.alreadyApplied ?? 0}; ` +
            `matched ${run.matched ?? 0}, mismatched ${run.mismatched ?? 0}, missing ${run.missing ?? '?'})`,
        ]
      : []),
    ...(run.report ? [`  report    ${run.report}`] : []),
    ...(run.location ? [`  file      ${run.location}`] : []),
    ...(run.reason ? [`  rejected  ${run.reason}${run.errorReport ? ` (${run.errorReport})` : ''}`] : []),
    ...(run.failedState
      ? [
          `  failed in ${run.failedState}${run.failedChunk ? ` (chunk ${run.failedChunk})` : ''}: ${run.error ?? ''} ${run.cause ?? ''}`.trimEnd(),
          `  resume    buzzer batch redrive ${run.name}`,
        ]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}

function renderAnyRun(run: SettlementRun | ImportRun): string {
  return 'job' in run && run.job === 'import' ? renderImportRun(run) : renderRun(run as SettlementRun);
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

function renderRuns(runs: BatchRun[]): string {
  if (runs.length === 0) return 'no batch runs\n';
  return table(
    ['job', 'execution', 'date', 'partner / file', 'status', 'rows', 'failed in', 'error'],
    runs.map((run) =>
      run.job === 'import'
        ? [
            'import',
            run.name,
            run.date,
            run.file,
            run.status,
            run.lines,
            run.failedState
              ? `${run.failedState}${run.failedChunk ? ` #${run.failedChunk}` : ''}`
              : undefined,
            run.error ?? run.reason,
          ]
        : [
            'settlement',
            run.name,
            run.date,
            run.partner,
            run.status,
            run.records,
            run.failedState,
            run.error,
          ],
    ),
  );
}

const whole = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new OperatorError(`${name} must be a whole number ≥ 1`);
  return n;
};

export function registerBatchCommands(program: Command, run: CommandRunner): void {
  const batch = program
    .command('batch')
    .description(
      "Batch file jobs: the daily settlement export and the import of the acquirer's settlement files",
    );
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
      'The newest settlement exports and imports: date, partner or file, status, rows or lines, the state (and ' +
        'chunk) a failed one stopped in',
    )
    .option('--job <job>', 'only settlement (the exports) or import (the inbound files)')
    .option('--date <YYYY-MM-DD>', 'only this business date')
    .option('--file <name>', 'only the imports of this file name')
    .option('--limit <n>', 'at most this many', whole('--limit'), 20)
    .action((options: { job?: string; date?: string; file?: string; limit: number }, command: Command) =>
      run(
        command,
        (ctx) => {
          if (options.job !== undefined && options.job !== 'settlement' && options.job !== 'import') {
            throw new OperatorError(`--job must be settlement or import, got "${options.job}"`);
          }
          if (options.date !== undefined && !isBusinessDate(options.date)) {
            throw new OperatorError(`--date must be a date YYYY-MM-DD, got "${options.date}"`);
          }
          const { job, ...rest } = options;
          return listBatchRuns(ctx, { ...rest, ...(job ? { job: job as 'settlement' | 'import' } : {}) });
        },
        renderRuns,
      ),
    );
  batch
    .command('drop')
    .description(
      "Put an acquirer's settlement file into the inbox (inbox/<name>): the bucket's event starts its import",
    )
    .argument('<file>', 'the file on this machine')
    .option('--name <name>', 'its name in the inbox (default: the file name)')
    .action((file: string, options: { name?: string }, command: Command) =>
      run(
        command,
        (ctx) => dropSettlementFile(ctx, file, options),
        (dropped) => `put s3://${dropped.bucket}/${dropped.key} (${dropped.bytes} bytes)\n`,
      ),
    );
  batch
    .command('redrive')
    .description(
      'Resume a failed settlement export at the state that failed (RedriveExecution): pages already written are ' +
        'kept, the file is the same bytes as a run without the failure',
    )
    .argument('[execution]', 'execution ARN or name (buzzer batch runs), of an export or an import')
    .option('--date <YYYY-MM-DD>', 'the newest failed export of this date')
    .option('--file <name>', 'the newest failed import of this file')
    .option('--no-wait', 'return once redriven')
    .action(
      (
        execution: string | undefined,
        options: { date?: string; file?: string; wait: boolean },
        command: Command,
      ) =>
        run(
          command,
          async (ctx): Promise<SettlementRun | ImportRun> => {
            if (options.file || (execution && (await isImportExecution(ctx, execution)))) {
              return redriveImport(
                ctx,
                { ...(execution ? { execution } : {}), ...(options.file ? { file: options.file } : {}) },
                { noWait: !options.wait },
              );
            }
            return redriveSettlement(
              ctx,
              { ...(execution ? { execution } : {}), ...(options.date ? { date: options.date } : {}) },
              { noWait: !options.wait },
            );
          },
          renderAnyRun,
        ),
    );
}
