/**
 * The outbox and the Open index on DynamoDB Local: a PENDING item stays out of the index (its entry and the entry's
 * removal would cost two write units per event), and an item the relay gives up on enters it as FAILED, where
 * `buzzer status`, the console and `buzzer relay replay` find it.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newOutboxItem, type OutboxItem, outboxPut } from '#functions/outbox/outbox.ts';
import { relayOutbox } from '#functions/outbox/relay.ts';
import { queryOpenItems } from '#shared/open-index.ts';
import { OPEN_OUTBOX_FAILED, OPEN_OUTBOX_PENDING } from '#shared/table-keys.ts';
import { type LocalTable, startLocalTable } from '../support/local-table.ts';

const TABLE = 'outbox-open-index';
const NOW = new Date('2026-12-07T10:00:00.000Z');

const eventBridge = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);

describe('outbox items and the Open index (DynamoDB Local)', () => {
  let table: LocalTable;

  beforeAll(async () => {
    table = await startLocalTable(TABLE, { openIndex: true });
  }, 60_000);

  afterAll(async () => {
    await table?.stop();
  });

  beforeEach(() => {
    eventBridge.reset();
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  });

  const deps = () => ({
    doc: table.doc,
    tableName: TABLE,
    eventBridge: new EventBridgeClient({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    eventBusName: 'bus',
    dlqUrl: 'http://127.0.0.1:9324/000000000000/relay-dlq',
    maxAttempts: 1,
  });

  async function writeOutboxItem(orderId: string): Promise<OutboxItem> {
    const item = newOutboxItem({
      messageType: 'OrderPlaced',
      orderId,
      clientId: 'client-a',
      correlationId: `corr-${orderId}`,
      version: 1,
      payload: { orderId },
      now: NOW,
    });
    await table.doc.send(new TransactWriteCommand({ TransactItems: [outboxPut(TABLE, item)] }));
    return item;
  }

  const insertRecord = (item: OutboxItem, sequence: string): DynamoDBRecord => ({
    eventName: 'INSERT',
    dynamodb: {
      SequenceNumber: sequence,
      NewImage: marshall(item) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
    },
  });

  it('writes a PENDING item that no Open partition lists', async () => {
    const item = await writeOutboxItem('order-pending');

    const pending = await queryOpenItems({ doc: table.doc, tableName: TABLE }, OPEN_OUTBOX_PENDING);
    const failed = await queryOpenItems({ doc: table.doc, tableName: TABLE }, OPEN_OUTBOX_FAILED);

    expect(pending).toEqual([]);
    expect(failed.map((entry) => entry.pk)).not.toContain(item.pk);
  });

  it('puts an item the relay gave up on into OUTBOX#FAILED, under its creation time', async () => {
    const item = await writeOutboxItem('order-failed');
    eventBridge.on(PutEventsCommand).rejects(new Error('bus unavailable'));

    const result = await relayOutbox(deps(), [insertRecord(item, '100')], NOW);

    expect(result).toEqual({ batchItemFailures: [] });
    const failed = await queryOpenItems({ doc: table.doc, tableName: TABLE }, OPEN_OUTBOX_FAILED);
    expect(failed).toContainEqual(expect.objectContaining({ pk: item.pk, openSk: item.createdAt }));
    const { Item } = await table.doc.send(
      new GetCommand({ TableName: TABLE, Key: { pk: item.pk, sk: 'OUTBOX' } }),
    );
    expect(Item).toMatchObject({ status: 'FAILED', openPk: OPEN_OUTBOX_FAILED, openSk: item.createdAt });
  });

  it('leaves a published item out of the index', async () => {
    const item = await writeOutboxItem('order-published');
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });

    await relayOutbox(deps(), [insertRecord(item, '200')], NOW);

    const { Item } = await table.doc.send(
      new GetCommand({ TableName: TABLE, Key: { pk: item.pk, sk: 'OUTBOX' } }),
    );
    expect(Item?.status).toBe('PUBLISHED');
    expect(Item).not.toHaveProperty('openPk');
    expect(Item).not.toHaveProperty('openSk');
  });
});
