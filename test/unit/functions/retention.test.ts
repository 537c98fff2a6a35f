import { describe, expect, it } from 'vitest';
import type { OrderRecord } from '#functions/orders/order.ts';
import { applyChange, type OrderChange, orderUpdate } from '#functions/orders/order-store.ts';
import { ConfigurationError } from '#shared/config.ts';
import {
  DEFAULT_ORDER_RETENTION_DAYS,
  FAILED_OUTBOX_RETENTION_SECONDS,
  failedOutboxExpiry,
  orderRetentionDays,
  terminalRetention,
} from '#shared/retention.ts';
import { NOW, ORDER_ID, TABLE } from './helpers.ts';

const nowSeconds = NOW.getTime() / 1000;
const DAY = 24 * 3600;

const order: OrderRecord = {
  orderId: ORDER_ID,
  clientId: 'client-a',
  status: 'PENDING',
  version: 3,
  customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
  items: [{ sku: 'espresso', quantity: 2 }],
  currency: 'EUR',
  paymentToken: 'tok_ok',
  timeline: [],
  correlationId: 'corr-1',
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
};

describe('retention', () => {
  it('keeps a finished order 400 days by default', () => {
    expect(DEFAULT_ORDER_RETENTION_DAYS).toBe(400);
    expect(terminalRetention(NOW)).toEqual({ expiresAt: nowSeconds + 400 * DAY });
  });

  it('takes the number of days from ORDER_RETENTION_DAYS', () => {
    expect(orderRetentionDays({})).toBe(400);
    expect(orderRetentionDays({ ORDER_RETENTION_DAYS: '30' })).toBe(30);
    expect(terminalRetention(NOW, orderRetentionDays({ ORDER_RETENTION_DAYS: '30' }))).toEqual({
      expiresAt: nowSeconds + 30 * DAY,
    });
  });

  it.each(['0', '-5', '1.5', 'forever', String(5 * 365 + 1)])(
    'refuses ORDER_RETENTION_DAYS=%s at cold start, naming the variable',
    (value) => {
      expect(() => orderRetentionDays({ ORDER_RETENTION_DAYS: value })).toThrow(ConfigurationError);
      expect(() => orderRetentionDays({ ORDER_RETENTION_DAYS: value })).toThrow(/ORDER_RETENTION_DAYS/);
    },
  );

  it('lets a FAILED outbox item live 30 days', () => {
    expect(FAILED_OUTBOX_RETENTION_SECONDS).toBe(30 * DAY);
    expect(failedOutboxExpiry(NOW)).toBe(nowSeconds + 30 * DAY);
  });

  it('spread into a terminal change, writes expiresAt with the order update and keeps it on the record', () => {
    const change: OrderChange = {
      set: { status: 'CONFIRMED', ...terminalRetention(NOW) },
      remove: ['openPk', 'openSk'],
      timeline: [{ step: 'ConfirmOrder', status: 'SUCCEEDED', at: NOW.toISOString() }],
    };

    const update = orderUpdate(TABLE, order, change, NOW).Update;
    const after = applyChange(order, change, NOW);

    const names = update?.ExpressionAttributeNames ?? {};
    const values = update?.ExpressionAttributeValues ?? {};
    const assigned = Object.entries(names).find(([, name]) => name === 'expiresAt')?.[0];
    expect(assigned).toBeDefined();
    expect(update?.UpdateExpression).toContain(`${assigned} = :${assigned?.slice(1)}`);
    expect(values[`:${assigned?.slice(1)}`]).toBe(nowSeconds + 400 * DAY);
    expect(after.expiresAt).toBe(nowSeconds + 400 * DAY);
  });
});
