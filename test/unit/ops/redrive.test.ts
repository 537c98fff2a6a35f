import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { redriveDlq } from '#ops/cli/dlq.ts';
import { parseFilter } from '#ops/cli/format.ts';
import { opsContext } from './helpers.ts';

/** A notify DLQ holding `messages`; records every batch sent back to the source queue. */
function fakeContext(messages: Message[]) {
  const batches: string[][] = [];
  let received = false;
  const sqs = {
    send: async (command: unknown) => {
      if (command instanceof ReceiveMessageCommand) {
        const batch = received ? [] : messages;
        received = true;
        return { Messages: batch };
      }
      if (command instanceof SendMessageBatchCommand) {
        const input: SendMessageBatchCommandInput = command.input;
        batches.push((input.Entries ?? []).map((entry) => entry.MessageBody ?? ''));
        return { Successful: (input.Entries ?? []).map((entry) => ({ Id: entry.Id })) };
      }
      if (command instanceof DeleteMessageBatchCommand) return { Successful: [] };
      return { Attributes: { ApproximateNumberOfMessages: String(messages.length) } };
    },
  } as unknown as SQSClient;
  return { ctx: opsContext({ sqs }), batches };
}

describe('dlq redrive --filter', () => {
  it('moves only the matching messages, in batches no larger than --rate', async () => {
    const messages: Message[] = Array.from({ length: 7 }, (_, i) => ({
      MessageId: `m-${i}`,
      ReceiptHandle: `r-${i}`,
      Body: JSON.stringify({ 'detail-type': i < 5 ? 'OrderConfirmed' : 'OrderCancelled', detail: { n: i } }),
    }));
    const { ctx, batches } = fakeContext(messages);

    const result = await redriveDlq(ctx, 'notify', {
      filters: [parseFilter('detail-type=OrderConfirmed')],
      rate: 2,
    });

    expect(result).toMatchObject({ mode: 'selective', moved: 5, examined: 7 });
    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 1]);
    expect(batches.flat().map((body) => JSON.parse(body).detail.n)).toEqual([0, 1, 2, 3, 4]);
  });
});
