import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { campaignMailRequestSchema } from '#functions/notifications/mail-request.ts';
import { lambdaContext, NOW, sentInputs } from './helpers.ts';

vi.hoisted(() => {
  process.env.MAIL_REQUEST_QUEUE_URL = 'http://sqs.local/000000000000/mail-requests';
});

const sqs = mockClient(SQSClient);
const { handler } = await import('#functions/notifications/start-campaign.ts');

const bodies = () =>
  sentInputs(sqs, SendMessageBatchCommand).flatMap((input) =>
    (input.Entries ?? []).map((entry) => JSON.parse(entry.MessageBody ?? '') as Record<string, unknown>),
  );

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  return () => vi.useRealTimers();
});

describe('campaign producer (mailService=burst)', () => {
  it('enqueues one mail request per synthetic recipient, ten to a SendMessageBatch', async () => {
    const result = await handler({ campaignId: 'spring', count: 25 }, lambdaContext());

    expect(result).toEqual({ campaignId: 'spring', enqueued: 25 });
    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
    expect(sentInputs(sqs, SendMessageBatchCommand).map((input) => input.Entries?.length)).toEqual([
      10, 10, 5,
    ]);
    expect(sqs).toHaveReceivedCommandWith(SendMessageBatchCommand, {
      QueueUrl: 'http://sqs.local/000000000000/mail-requests',
    });
    const requests = bodies();
    // Every one is what the sender accepts, with a request id of its own.
    for (const request of requests) expect(campaignMailRequestSchema.safeParse(request).success).toBe(true);
    expect(new Set(requests.map((r) => r.requestId)).size).toBe(25);
    expect(requests[0]).toMatchObject({
      kind: 'campaign',
      requestId: 'spring-1',
      campaignId: 'spring',
      to: 'spring-1@campaign.example',
      requestedAt: NOW.toISOString(),
    });
  });

  it('mails the given recipients', async () => {
    const result = await handler(
      { recipients: ['ada@example.com', 'bob@example.com'], subject: 'Hi', text: 'Espresso!' },
      lambdaContext(),
    );

    expect(result.enqueued).toBe(2);
    expect(result.campaignId).toMatch(/^c-[0-9a-f]{8}$/);
    expect(bodies().map((r) => [r.to, r.subject, r.text])).toEqual([
      ['ada@example.com', 'Hi', 'Espresso!'],
      ['bob@example.com', 'Hi', 'Espresso!'],
    ]);
  });

  it('sends the entries SQS refused once more', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Failed: [{ Id: '3', Code: 'InternalError', SenderFault: false }] })
      .resolves({ Failed: [] });

    await handler({ campaignId: 'retry', count: 5 }, lambdaContext());

    const calls = sentInputs(sqs, SendMessageBatchCommand);
    expect(calls.map((input) => input.Entries?.map((e) => e.Id))).toEqual([['0', '1', '2', '3', '4'], ['3']]);
  });

  it('fails with the ids SQS refused twice', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });

    await expect(handler({ campaignId: 'bad', count: 1 }, lambdaContext())).rejects.toMatchObject({
      name: 'CampaignEnqueueFailed',
    });
  });

  it.each([
    [{}, /either recipients .* or count/],
    [{ count: 2, recipients: ['a@example.com'] }, /either recipients .* or count/],
    [{ count: 0 }, /count: /],
    [{ count: 10_001 }, /count: /],
    [{ recipients: ['not an address'] }, /recipients\.0: /],
    [{ count: 1, campaignId: 'Spring Sale' }, /campaignId must be/],
    [{ count: 1, sendTo: 'everyone' }, /sendTo|Unrecognized/],
  ])('refuses %j and enqueues nothing', async (input, message) => {
    await expect(handler(input, lambdaContext())).rejects.toMatchObject({
      name: 'InvalidCampaign',
      message: expect.stringMatching(message),
    });
    expect(sqs).not.toHaveReceivedAnyCommand();
  });
});
