import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { targetFromRuntime } from '#ops/cli/context.ts';
import { startMailCampaign } from '#ops/cli/mail.ts';
import { sentInputs } from '../functions/helpers.ts';
import { opsContext, queue, runtimeFile } from './helpers.ts';

const sqs = mockClient(SQSClient);

/** The burst mail variant's runtime: its `mail-bulk` alias names the bulk lane's queue as the DLQ's source. */
const burstRuntime = {
  ...runtimeFile,
  outputs: {
    ...runtimeFile.outputs,
    OperatorQueues: JSON.stringify({
      ...JSON.parse(String(runtimeFile.outputs.OperatorQueues)),
      mail: { dlq: 'MailSenderQueueDlq1', source: 'MailSenderQueue1' },
      'mail-bulk': { dlq: 'MailBulkQueueDlq1', source: 'MailBulkQueue1' },
    }),
  },
  queues: {
    ...runtimeFile.queues,
    MailSenderQueueDlq1: queue('MailSenderQueueDlq1'),
    MailSenderQueue1: queue('MailSenderQueue1'),
    MailBulkQueueDlq1: queue('MailBulkQueueDlq1'),
    MailBulkQueue1: queue('MailBulkQueue1'),
  },
};

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).resolves({ Failed: [] });
});

describe('buzzer mail campaign', () => {
  it("enqueues one request per recipient on the bulk lane's queue, ten a batch", async () => {
    const ctx = { ...opsContext({ sqs: new SQSClient({}) }), target: targetFromRuntime(burstRuntime) };

    const result = await startMailCampaign(ctx, { recipients: 25, campaignId: 'spring' });

    expect(result).toEqual({ campaignId: 'spring', enqueued: 25 });
    const calls = sentInputs(sqs, SendMessageBatchCommand);
    expect(calls.map((c) => c.QueueUrl)).toEqual(Array(3).fill(queue('MailBulkQueue1').url));
    expect(calls.map((c) => c.Entries?.length)).toEqual([10, 10, 5]);
  });

  it('says the stack needs the burst mail service when it has no bulk mail queue', async () => {
    const ctx = opsContext({ sqs: new SQSClient({}) });

    await expect(startMailCampaign(ctx, { recipients: 5 })).rejects.toThrow(/-c mailService=burst/);
    expect(sqs).not.toHaveReceivedAnyCommand();
  });

  it('turns a refused campaign into an operator error and enqueues nothing', async () => {
    const ctx = { ...opsContext({ sqs: new SQSClient({}) }), target: targetFromRuntime(burstRuntime) };

    await expect(startMailCampaign(ctx, {})).rejects.toMatchObject({
      name: 'OperatorError',
      message: expect.stringMatching(/either recipients/),
    });
    expect(sqs).not.toHaveReceivedAnyCommand();
  });
});
