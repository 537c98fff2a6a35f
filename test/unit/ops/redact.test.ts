import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { newOutboxItem } from '#functions/outbox/outbox.ts';
import type { OpsContext } from '#ops/cli/context.ts';
import { peekDlq } from '#ops/cli/dlq.ts';
import { maskEmailsIn, redact, redactText } from '#ops/cli/redact.ts';
import { opsContext } from './helpers.ts';

const EMAIL = 'ada.lovelace@example.com';
const NAME = 'Ada Lovelace';
const ORDER_ID = '3f1c7b2e-5d4a-4e8b-9c1d-2a3b4c5d6e7f';

/** Whatever the output shape, none of the customer's personal data may be in it. */
function expectNoPersonalData(output: unknown): void {
  const text = JSON.stringify(output);
  expect(text).not.toContain('ada.lovelace');
  expect(text).not.toContain('Ada');
  expect(text).not.toContain('Lovelace');
  expect(text).not.toMatch(/[^@\s"*]{2,}@example\.com/);
}

/** The outbox item `acceptOrder` writes: an OrderPlaced fact whose payload is the order summary. */
function outboxItem(payload: unknown = orderSummary()) {
  const item = newOutboxItem({
    messageType: 'OrderPlaced',
    orderId: ORDER_ID,
    clientId: 'client-1',
    correlationId: 'corr-1',
    version: 1,
    payload: {},
    now: new Date('2026-05-01T12:00:00Z'),
  });
  return { ...item, payload };
}

function orderSummary() {
  return {
    orderId: ORDER_ID,
    status: 'PENDING',
    customer: { id: 'cust-42', email: EMAIL, name: NAME },
    items: [{ sku: 'CUP-1', quantity: 2 }],
    currency: 'EUR',
    createdAt: '2026-05-01T12:00:00.000Z',
  };
}

/** What the relay's `sendToDlq` sends: the reason, the raw stream record (typed attribute values) and the item. */
function relayDlqBody(reason: string, error: string, item: Record<string, unknown>) {
  return {
    reason,
    error,
    failedAt: '2026-05-01T12:05:00.000Z',
    record: {
      eventID: 'e-1',
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/Buzzer-Table/stream/2026',
      dynamodb: {
        ApproximateCreationDateTime: 1777636800,
        Keys: marshall({ pk: item.pk, sk: item.sk }),
        NewImage: marshall(item, { removeUndefinedValues: true }),
        SequenceNumber: '100000000000000000001',
        SizeBytes: 512,
        StreamViewType: 'NEW_IMAGE',
      },
    },
    item,
  };
}

describe('redaction of relay DLQ bodies', () => {
  it('redacts typed attribute values in the stream record and keeps the business fields readable', () => {
    const item = outboxItem();
    const body = relayDlqBody('PUBLISH_FAILED', 'EventBridge rejected the entry', item);
    // The precondition of this test: the raw record does carry the address in typed form.
    expect(body.record.dynamodb.NewImage.payload).toMatchObject({
      M: { customer: { M: { email: { S: EMAIL }, name: { S: NAME } } } },
    });

    const redacted = redact(body) as typeof body;

    expectNoPersonalData(redacted);
    expect(redacted.record.dynamodb.NewImage.payload).toMatchObject({
      M: {
        orderId: { S: ORDER_ID },
        status: { S: 'PENDING' },
        customer: {
          M: { id: { S: 'cust-42' }, email: { S: 'a***@example.com' }, name: { S: '[redacted]' } },
        },
      },
    });
    expect(redacted.record.dynamodb.NewImage).toMatchObject({
      messageType: { S: 'OrderPlaced' },
      aggregateId: { S: ORDER_ID },
      status: { S: 'PENDING' },
    });
    expect(redacted.item).toMatchObject({
      messageType: 'OrderPlaced',
      aggregateId: ORDER_ID,
      status: 'PENDING',
      payload: {
        orderId: ORDER_ID,
        customer: { id: 'cust-42', email: 'a***@example.com', name: '[redacted]' },
      },
    });
    expect(redacted.reason).toBe('PUBLISH_FAILED');
  });

  it('redacts a payload that was stored as a JSON string (the poison case), in the record and in the item', () => {
    const item = outboxItem(JSON.stringify(orderSummary()));
    const body = relayDlqBody(
      'INVALID_OUTBOX_ITEM',
      'payload: Invalid input: expected record, received string',
      item,
    );

    const redacted = redact(body) as typeof body;

    expectNoPersonalData(redacted);
    const fromRecord = JSON.parse((redacted.record.dynamodb.NewImage.payload as { S: string }).S);
    expect(fromRecord).toMatchObject({ orderId: ORDER_ID, status: 'PENDING', customer: { id: 'cust-42' } });
    expect(JSON.parse(redacted.item.payload as string)).toEqual(fromRecord);
  });

  it('masks every string under a sensitive key, whatever the attribute-value shape', () => {
    const redacted = redact({
      customer: {
        M: {
          email: { SS: [EMAIL, 'grace@example.org'] },
          name: { L: [{ S: 'Ada' }, { S: 'Lovelace' }] },
          phone: { N: '4915112345678' },
          address: { M: { street: { S: '12 St James Sq' } } },
          newsletter: { BOOL: true },
        },
      },
      contacts: { L: [{ M: { customerEmail: { S: 'grace@example.org' } } }] },
      secrets: { SS: ['whsec_abc', 'whsec_def'] },
      url: { S: 'https://hooks.example.net/services/T0/B0/XXXX?token=abc' },
      items: { L: [{ M: { name: { S: 'cup' } } }] },
    });

    expect(redacted).toEqual({
      customer: {
        M: {
          email: { SS: ['a***@example.com', 'g***@example.org'] },
          name: { L: [{ S: '[redacted]' }, { S: '[redacted]' }] },
          phone: { N: '[redacted]' },
          address: { M: { street: { S: '[redacted]' } } },
          newsletter: { BOOL: true },
        },
      },
      contacts: { L: [{ M: { customerEmail: { S: 'g***@example.org' } } }] },
      secrets: { SS: ['[redacted]', '[redacted]'] },
      url: { S: 'https://hooks.example.net/[redacted]' },
      // Outside a customer, `name` is not personal.
      items: { L: [{ M: { name: { S: 'cup' } } }] },
    });
  });

  it('masks addresses inside free text', () => {
    const sesError = `MessageRejected: Email address is not verified. <${EMAIL}>, grace@example.org`;
    expect(maskEmailsIn(sesError)).toBe(
      'MessageRejected: Email address is not verified. <a***@example.com>, g***@example.org',
    );
    expect(redactText(sesError)).toBe(maskEmailsIn(sesError));
    expect(redactText('not json {')).toBe('not json {');
  });
});

describe('dlq peek', () => {
  /** An SQS and a DynamoDB client that answer with `messages` and, for the first one, a recorded failure. */
  function fakeContext(messages: Message[], recordedError: string): OpsContext {
    let received = false;
    const sqs = {
      send: async (command: unknown) => {
        if (command instanceof GetQueueAttributesCommand) {
          return { Attributes: { ApproximateNumberOfMessages: String(messages.length) } };
        }
        if (command instanceof ReceiveMessageCommand) {
          const batch = received ? [] : messages;
          received = true;
          return { Messages: batch };
        }
        return {}; // releasing the messages
      },
    } as unknown as SQSClient;
    const doc = {
      send: async (command: BatchGetCommand) => {
        expect(command).toBeInstanceOf(BatchGetCommand);
        const input: BatchGetCommandInput = command.input;
        expect(Object.keys(input.RequestItems ?? {})).toEqual(['Buzzer-Table']);
        return {
          Responses: {
            'Buzzer-Table': [
              {
                messageId: messages[0]?.MessageId,
                errorName: 'MessageRejected',
                errorMessage: recordedError,
                consumer: 'relay',
                at: '2026-05-01T12:05:00.000Z',
                receiveCount: 3,
              },
            ],
          },
        };
      },
    } as unknown as DynamoDBDocumentClient;
    return opsContext({ sqs, doc });
  }

  it('redacts the bodies and the last errors it shows', async () => {
    const typed = relayDlqBody('PUBLISH_FAILED', 'EventBridge rejected the entry', outboxItem());
    const poison = relayDlqBody(
      'INVALID_OUTBOX_ITEM',
      `customer.email: ${EMAIL} is not allowed`,
      outboxItem(JSON.stringify(orderSummary())),
    );
    const messages: Message[] = [typed, poison].map((body, index) => ({
      MessageId: `m-${index}`,
      ReceiptHandle: `r-${index}`,
      Body: JSON.stringify(body),
      Attributes: { SentTimestamp: '1777636800000', ApproximateReceiveCount: '1' },
    }));

    const result = await peekDlq(fakeContext(messages, `Email address is not verified: ${EMAIL}`), 'relay', {
      max: 10,
    });

    expectNoPersonalData(result);
    expect(result.messages.map((m) => [m.messageId, m.orderId, m.messageType])).toEqual([
      ['m-0', ORDER_ID, 'OrderPlaced'],
      ['m-1', ORDER_ID, 'OrderPlaced'],
    ]);
    expect(result.messages[0]?.lastError).toBe(
      'MessageRejected: Email address is not verified: a***@example.com (relay, 2026-05-01T12:05:00.000Z)',
    );
    expect(result.messages[1]?.lastError).toBe(
      'INVALID_OUTBOX_ITEM: customer.email: a***@example.com is not allowed',
    );
  });
});
