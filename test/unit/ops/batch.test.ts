import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { describeImportRun, redriveImport, redriveSettlement, runSettlement } from '#ops/cli/batch.ts';
import { runCli } from '#ops/cli/program.ts';
import { opsContext } from './helpers.ts';

const sfn = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Buzzer-Settlement';
const context = () => {
  const ctx = opsContext({ sfn: new SFNClient({}) });
  return { ...ctx, target: { ...ctx.target, settlementStateMachineArn: MACHINE } };
};

beforeEach(() => sfn.reset());

describe('buzzer batch', () => {
  it('starts the export of a date for a partner and reports where a failed one stopped', async () => {
    const arn = `${MACHINE.replace(':stateMachine:', ':execution:')}:acquirer-2026-12-01-x`;
    sfn.on(StartExecutionCommand).resolves({ executionArn: arn });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      name: 'acquirer-2026-12-01-x',
      status: 'FAILED',
      input: '{"partner":"acquirer","date":"2026-12-01"}',
      error: 'TransferFailed',
    });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 9, type: 'ExecutionFailed', timestamp: new Date() },
        {
          id: 8,
          type: 'TaskStateEntered',
          timestamp: new Date(),
          stateEnteredEventDetails: { name: 'DeliverFile' },
        },
      ],
    });

    const run = await runSettlement(context(), { date: '2026-12-01', resend: true });

    expect(run).toMatchObject({ status: 'FAILED', failedState: 'DeliverFile', error: 'TransferFailed' });
    const input = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(input?.stateMachineArn).toBe(MACHINE);
    expect(JSON.parse(input?.input ?? '')).toEqual({ partner: 'acquirer', date: '2026-12-01', resend: true });
  });

  it('redrives an execution given by name', async () => {
    sfn.on(RedriveExecutionCommand).resolves({});
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', name: 'acquirer-2026-12-01-x', output: '{}' });

    await redriveSettlement(context(), { execution: 'acquirer-2026-12-01-x' });

    expect(sfn.commandCalls(RedriveExecutionCommand)[0]?.args[0].input.executionArn).toBe(
      `${MACHINE.replace(':stateMachine:', ':execution:')}:acquirer-2026-12-01-x`,
    );
  });

  it('refuses a date that is not one, and an unknown job, before starting anything', async () => {
    await expect(runSettlement(context(), { date: '2026-02-30' })).rejects.toThrow(/YYYY-MM-DD/);
    let err = '';
    const io = { out: () => {}, err: (text: string) => (err += text) };
    const code = await runCli(['batch', 'run', 'payroll', '--date', '2026-12-01'], {
      io,
      discover: async () => context(),
    });
    expect(code).toBe(1);
    expect(err).toContain('unknown batch job "payroll"');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('describes a failed import by its file, counts and the chunk it stopped in, and a rejected one as REJECTED', async () => {
    const importMachine = 'arn:aws:states:us-east-1:000000000000:stateMachine:Buzzer-SettlementImport';
    const arn = `${importMachine.replace(':stateMachine:', ':execution:')}:e-1`;
    const ctx = {
      ...context(),
      target: { ...context().target, settlementImportStateMachineArn: importMachine },
    };
    sfn.on(DescribeExecutionCommand).resolvesOnce({
      executionArn: arn,
      name: 'e-1',
      status: 'FAILED',
      input: JSON.stringify({ detail: { object: { key: 'inbox/acq.csv' } } }),
      error: 'Runtime.ExitError',
    });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 12,
          type: 'TaskStateEntered',
          timestamp: new Date(),
          stateEnteredEventDetails: {
            name: 'ApplyChunk',
            input: JSON.stringify({
              name: 'acq.csv',
              key: 'work/abc/acq.csv',
              date: '2026-12-06',
              cursor: { offset: 120, line: 4, chunk: 3 },
              counts: { lines: 9, applied: 4, alreadyApplied: 0, matched: 4, mismatched: 0 },
            }),
          },
        },
      ],
    });
    expect(await describeImportRun(ctx, arn)).toEqual({
      job: 'import',
      executionArn: arn,
      name: 'e-1',
      status: 'FAILED',
      file: 'acq.csv',
      date: '2026-12-06',
      lines: 9,
      applied: 4,
      alreadyApplied: 0,
      matched: 4,
      mismatched: 0,
      location: 'work/abc/acq.csv',
      failedState: 'ApplyChunk',
      failedChunk: 3,
      error: 'Runtime.ExitError',
    });
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[0]?.args[0].input.includeExecutionData).toBe(true);

    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: arn,
      name: 'e-1',
      status: 'SUCCEEDED',
      output: JSON.stringify({
        outcome: 'rejected',
        name: 'acq.csv',
        reason: 'duplicate: …',
        finalKey: 'failed/x',
      }),
    });
    expect(await describeImportRun(ctx, arn)).toMatchObject({ status: 'REJECTED', reason: 'duplicate: …' });

    sfn.on(RedriveExecutionCommand).resolves({});
    await redriveImport(ctx, { execution: 'e-1' });
    expect(sfn.commandCalls(RedriveExecutionCommand)[0]?.args[0].input.executionArn).toBe(arn);
  });
});
