import { describe, expect, it } from 'vitest';
import {
  attributeValueSize,
  classifyRequest,
  describeRequest,
  type IndexSchema,
  indexWrites,
  indexWriteUnits,
  itemKind,
  itemSize,
  itemWriteCost,
  readUnits,
  type TableSchema,
  writeUnits,
} from '#local/engines/metering.ts';

const open: IndexSchema = {
  name: 'Open',
  keys: ['openPk', 'openSk'],
  projection: 'ALL',
  nonKeyAttributes: [],
};
const keysOnly: IndexSchema = { name: 'K', keys: ['g'], projection: 'KEYS_ONLY', nonKeyAttributes: [] };
const table: TableSchema = { keys: ['pk', 'sk'], indexes: [open] };

describe('item size (DynamoDB billing rules)', () => {
  it('counts names and values: strings in UTF-8, numbers by significant digits', () => {
    expect(attributeValueSize({ S: 'héllo' })).toBe(6);
    expect(attributeValueSize({ N: '12345' })).toBe(4);
    expect(attributeValueSize({ N: '-0.00120' })).toBe(2);
    expect(attributeValueSize({ BOOL: true })).toBe(1);
    expect(attributeValueSize({ NULL: true })).toBe(1);
    expect(attributeValueSize({ B: Buffer.from('abcd').toString('base64') as never })).toBe(4);
    expect(attributeValueSize({ SS: ['ab', 'c'] })).toBe(3);
    expect(itemSize({ pk: { S: 'ORDER#1' }, n: { N: '1' } })).toBe(2 + 7 + 1 + 2);
  });

  it('adds 3 bytes per list or map and 1 byte per element', () => {
    expect(attributeValueSize({ L: [{ S: 'ab' }, { N: '7' }] })).toBe(3 + (1 + 2) + (1 + 2));
    expect(attributeValueSize({ M: { k: { S: 'v' } } })).toBe(3 + 1 + 1 + 1);
    expect(itemSize(undefined)).toBe(0);
  });
});

describe('request units', () => {
  it('writes: 1 per started KB, at least 1; reads: 1 per started 4 KB, half when eventually consistent', () => {
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
    expect(readUnits(0, true)).toBe(1);
    expect(readUnits(4097, true)).toBe(2);
    expect(readUnits(4097, false)).toBe(1);
    expect(readUnits(100, false)).toBe(0.5);
  });
});

describe('index writes', () => {
  const item = (extra: Record<string, { S: string }> = {}) => ({ pk: { S: 'a' }, sk: { S: 'b' }, ...extra });

  it('charges a put when an item enters the index and a delete when it leaves', () => {
    const inOpen = item({ openPk: { S: 'ORDER#PENDING' }, openSk: { S: '2026' } });
    expect(indexWriteUnits(table, open, undefined, inOpen)).toBe(1);
    expect(indexWriteUnits(table, open, inOpen, item())).toBe(1);
    expect(indexWriteUnits(table, open, item(), item({ x: { S: 'y' } }))).toBe(0);
  });

  it('charges delete + put when the index key changes, one put when only projected attributes change', () => {
    const a = item({ openPk: { S: 'P' }, openSk: { S: '1' } });
    expect(indexWriteUnits(table, open, a, { ...a, openSk: { S: '2' } })).toBe(2);
    expect(indexWriteUnits(table, open, a, { ...a, status: { S: 'X' } })).toBe(1);
    expect(indexWriteUnits(table, open, a, { ...a })).toBe(0);
    // DynamoDB hands attributes and map entries back in any order: the same entry is no write.
    const held = { ...a, hold: { M: { reason: { S: 'r' }, until: { S: 'u' } } } };
    const reordered = {
      ...Object.fromEntries(Object.entries(held).reverse()),
      hold: { M: { until: { S: 'u' }, reason: { S: 'r' } } },
    };
    expect(indexWriteUnits(table, open, held, reordered)).toBe(0);
    expect(indexWrites(table, open, a, { ...a, openSk: { S: '2' } })).toEqual({ entries: 2, units: 2 });
    expect(indexWrites(table, open, a, { ...a, status: { S: 'X' } })).toEqual({ entries: 1, units: 1 });
  });

  it('names the item kind by entity (effects by consumer), else by the partition key prefix', () => {
    const key = { pk: { S: 'RATE#c1' }, sk: { S: 'RATE' } };
    expect(itemKind({ ...key, entity: { S: 'Order' } }, key)).toBe('Order');
    expect(itemKind({ ...key, entity: { S: 'Effect' }, consumer: { S: 'notify' } }, key)).toBe(
      'Effect notify',
    );
    expect(itemKind({ ...key }, key)).toBe('RATE');
    expect(itemKind(undefined, key)).toBe('RATE');
  });

  it('ignores attributes a KEYS_ONLY index does not project', () => {
    const schema: TableSchema = { keys: ['pk', 'sk'], indexes: [keysOnly] };
    const a = item({ g: { S: '1' } });
    expect(indexWriteUnits(schema, keysOnly, a, { ...a, other: { S: 'changed' } })).toBe(0);
  });

  it('doubles the table write in a transaction, not the index writes', () => {
    const big = item({ blob: { S: 'x'.repeat(1500) }, openPk: { S: 'P' }, openSk: { S: '1' } });
    expect(itemWriteCost(table, undefined, big, false)).toEqual({ writeUnits: 2, indexWriteUnits: 2 });
    expect(itemWriteCost(table, undefined, big, true)).toEqual({ writeUnits: 4, indexWriteUnits: 2 });
    // A failed condition still pays for the item it looked at.
    expect(itemWriteCost(table, big, big, false)).toEqual({ writeUnits: 2, indexWriteUnits: 0 });
  });
});

describe('request classification', () => {
  it('reads the service and operation from X-Amz-Target, or the query protocol Action', () => {
    expect(classifyRequest({ 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems' }, '')).toEqual({
      service: 'dynamodb',
      operation: 'TransactWriteItems',
    });
    expect(classifyRequest({ 'x-amz-target': 'AmazonSQS.ReceiveMessage' }, '').service).toBe('sqs');
    expect(classifyRequest({ 'x-amz-target': 'AWSEvents.PutEvents' }, '').service).toBe('events');
    expect(classifyRequest({ 'x-amz-target': 'AWSStepFunctions.StartExecution' }, '').service).toBe('states');
    expect(classifyRequest({}, 'Action=SendMessage&QueueUrl=x')).toEqual({
      service: 'sqs',
      operation: 'SendMessage',
    });
  });

  it('names the resource and counts batch entries and received messages', () => {
    expect(
      describeRequest(
        'sqs',
        'ReceiveMessage',
        { QueueUrl: 'http://h/000000000000/Buzzer-Notify' },
        { Messages: [{}, {}] },
      ),
    ).toEqual({ resource: 'Buzzer-Notify', entries: 2 });
    expect(
      describeRequest(
        'events',
        'PutEvents',
        { Entries: [{ EventBusName: 'arn:aws:events:r:a:event-bus/buzz' }, {}] },
        {},
      ),
    ).toEqual({ resource: 'buzz', entries: 2 });
    expect(
      describeRequest('dynamodb', 'TransactWriteItems', { TransactItems: [{ Put: { TableName: 'T' } }] }, {}),
    ).toEqual({ resource: 'T', entries: 1 });
    expect(
      describeRequest(
        'states',
        'StartExecution',
        { stateMachineArn: 'arn:aws:states:r:a:stateMachine:Saga' },
        {},
      ),
    ).toEqual({ resource: 'Saga', entries: 1 });
  });
});
