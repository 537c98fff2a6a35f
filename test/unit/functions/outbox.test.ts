import { describe, expect, it } from 'vitest';
import { newOutboxItem, outboxItemSchema, outboxPut, toEventDetail } from '#functions/outbox/outbox.ts';
import { NOW, ORDER_ID, TABLE } from './helpers.ts';

/** The outbox item is the relay's input: what it accepts is published, anything else goes to the DLQ as poison. */

const message = {
  messageType: 'OrderConfirmed' as const,
  orderId: ORDER_ID,
  clientId: 'client-a',
  correlationId: 'corr-1',
  version: 4,
  payload: { orderId: ORDER_ID, status: 'CONFIRMED' },
  now: NOW,
};

describe('newOutboxItem', () => {
  it('builds a PENDING item on the open outbox index, keyed by a fresh message id', () => {
    const item = newOutboxItem(message);

    expect(item).toEqual({
      pk: `OUTBOX#${item.messageId}`,
      sk: 'OUTBOX',
      entity: 'Outbox',
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      messageType: 'OrderConfirmed',
      aggregateId: ORDER_ID,
      clientId: 'client-a',
      correlationId: 'corr-1',
      version: 4,
      payload: message.payload,
      status: 'PENDING',
      attempts: 0,
      createdAt: NOW.toISOString(),
    });
    // Not in the Open index while PENDING: the entry and its removal would cost 2 write units per event.
    expect(item).not.toHaveProperty('openPk');
    expect(item).not.toHaveProperty('openSk');
    expect(newOutboxItem(message).messageId).not.toBe(item.messageId);
    expect(outboxItemSchema.safeParse(item).success).toBe(true);
  });

  it('is written only if no item has its key', () => {
    const item = newOutboxItem(message);

    expect(outboxPut(TABLE, item)).toEqual({
      Put: { TableName: TABLE, Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
    });
  });

  it('maps to the documented event detail', () => {
    const item = newOutboxItem(message);

    expect(toEventDetail(item)).toEqual({
      messageId: item.messageId,
      messageType: 'OrderConfirmed',
      orderId: ORDER_ID,
      clientId: 'client-a',
      correlationId: 'corr-1',
      version: 4,
      occurredAt: NOW.toISOString(),
      payload: message.payload,
    });
  });
});

describe('outboxItemSchema', () => {
  const valid = newOutboxItem(message);

  it.each([
    ['a pk outside the outbox', { pk: 'ORDER#1' }],
    ['another sort key', { sk: 'ORDER' }],
    ['another entity', { entity: 'Order' }],
    ['an empty message id', { messageId: '' }],
    ['an unknown message type', { messageType: 'OrderShipped' }],
    ['an empty aggregate id', { aggregateId: '' }],
    ['an empty client id', { clientId: '' }],
    ['an empty correlation id', { correlationId: '' }],
    ['version 0', { version: 0 }],
    ['a fractional version', { version: 1.5 }],
    ['negative attempts', { attempts: -1 }],
    ['an unknown status', { status: 'SENT' }],
    ['a payload that is not an object', { payload: 'x' }],
    ['a createdAt that is not a timestamp', { createdAt: 'yesterday' }],
  ])('refuses %s', (_what, change) => {
    expect(outboxItemSchema.safeParse({ ...valid, ...change }).success).toBe(false);
  });

  it.each(['PENDING', 'PUBLISHED', 'FAILED'])('accepts status %s', (status) => {
    expect(outboxItemSchema.safeParse({ ...valid, status }).success).toBe(true);
  });

  it('accepts a timestamp with an offset, version 1 and no attempts yet', () => {
    expect(
      outboxItemSchema.safeParse({
        ...valid,
        createdAt: '2026-05-01T14:00:00+02:00',
        version: 1,
        attempts: 0,
      }).success,
    ).toBe(true);
  });
});
