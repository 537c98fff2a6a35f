import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_TTL_SECONDS,
  requestHash,
} from '#functions/orders/idempotency.ts';

/** A replayed `POST /orders` is recognised by this hash: equal requests must hash equal, different ones not. */
describe('canonicalJson', () => {
  it('sorts object keys at every level, and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' }, C: true })).toBe(
      '{"C":true,"a":{"c":"x","d":[3,1]},"b":1}',
    );
  });

  it('sorts keys in a total order whatever their insertion order', () => {
    const keys = ['m', 'b', 'z', 'a', 'k', 'b2'];
    const forward = Object.fromEntries(keys.map((key) => [key, key]));
    const backward = Object.fromEntries([...keys].reverse().map((key) => [key, key]));

    expect(canonicalJson(forward)).toBe('{"a":"a","b":"b","b2":"b2","k":"k","m":"m","z":"z"}');
    expect(canonicalJson(backward)).toBe(canonicalJson(forward));
  });

  it('drops undefined members, as JSON does, but keeps null', () => {
    expect(canonicalJson({ a: undefined, b: null, c: [null] })).toBe('{"b":null,"c":[null]}');
  });

  it('escapes keys and strings as JSON', () => {
    expect(canonicalJson({ 'k"1': 'v"1' })).toBe('{"k\\"1":"v\\"1"}');
  });
});

describe('requestHash', () => {
  const order = {
    customer: { id: 'cust-1', email: 'ada@example.com' },
    items: [
      { sku: 'BEAN-1', quantity: 2 },
      { sku: 'MUG-7', quantity: 1 },
    ],
    currency: 'EUR',
  };

  it('is the SHA-256 of the canonical JSON, in hex', () => {
    expect(requestHash({ a: 1 })).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
  });

  it('hashes the same order the same whatever its key order', () => {
    const reordered = {
      currency: 'EUR',
      items: [
        { quantity: 2, sku: 'BEAN-1' },
        { quantity: 1, sku: 'MUG-7' },
      ],
      customer: { email: 'ada@example.com', id: 'cust-1' },
    };

    expect(requestHash(reordered)).toBe(requestHash(order));
  });

  it('tells apart orders that differ in an amount, a line order or a currency', () => {
    const hashes = new Set([
      requestHash(order),
      requestHash({ ...order, items: [{ sku: 'BEAN-1', quantity: 3 }, order.items[1]] }),
      requestHash({ ...order, items: [...order.items].reverse() }),
      requestHash({ ...order, currency: 'JPY' }),
    ]);

    expect(hashes.size).toBe(4);
  });
});

describe('Idempotency-Key rules', () => {
  it('accepts 1 to 255 printable ASCII characters and nothing else', () => {
    expect(IDEMPOTENCY_KEY_PATTERN.test('a')).toBe(true);
    expect(IDEMPOTENCY_KEY_PATTERN.test(' ~'.repeat(127) + 'x')).toBe(true);
    expect(IDEMPOTENCY_KEY_PATTERN.test('x'.repeat(256))).toBe(false);
    expect(IDEMPOTENCY_KEY_PATTERN.test('')).toBe(false);
    expect(IDEMPOTENCY_KEY_PATTERN.test('tab\there')).toBe(false);
    expect(IDEMPOTENCY_KEY_PATTERN.test('café')).toBe(false);
  });

  it('protects a key for 24 hours', () => {
    expect(IDEMPOTENCY_TTL_SECONDS).toBe(86_400);
  });
});
