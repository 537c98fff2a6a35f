/** The money rules (pricing.ts) as pure functions, and how the saga names their verdicts on a cancelled order. */
import { describe, expect, it } from 'vitest';
import { CURRENCY_EXPONENTS, SUPPORTED_CURRENCIES } from '#functions/orders/currency.ts';
import {
  type CatalogueItem,
  checkAcceptable,
  MAX_ORDER_AMOUNT,
  MAX_ORDER_UNITS,
  pointsFor,
  priceOrder,
} from '#functions/orders/pricing.ts';
import { failureReasonOf } from '#functions/saga/saga-state.ts';

const catalogue = new Map<string, CatalogueItem>([
  ['espresso', { sku: 'espresso', available: 10, prices: { EUR: 250, JPY: 400, KWD: 85 }, points: 2 }],
  ['croissant', { sku: 'croissant', available: 10, prices: { EUR: 300, JPY: 490 }, points: 3 }],
]);
const basket = [
  { sku: 'espresso', quantity: 2 },
  { sku: 'croissant', quantity: 1 },
];

describe('priceOrder', () => {
  it("prices each currency from its own catalogue price, in that currency's minor units", () => {
    expect(priceOrder(basket, catalogue, 'EUR')).toEqual({ amount: 800, points: 7 });
    expect(priceOrder(basket, catalogue, 'JPY')).toEqual({ amount: 1290, points: 7 });
    expect(priceOrder([{ sku: 'espresso', quantity: 2 }], catalogue, 'KWD')).toEqual({
      amount: 170,
      points: 4,
    });
  });

  it('refuses a currency a known item has no price in, naming the sku and currency', () => {
    expect(() => priceOrder(basket, catalogue, 'KWD')).toThrow(
      expect.objectContaining({ name: 'PriceUnavailable', message: 'no price in KWD for sku croissant' }),
    );
  });

  it('refuses an unknown sku first (UNKNOWN_SKU, as before prices were per currency)', () => {
    expect(() => priceOrder([{ sku: 'tea', quantity: 1 }, ...basket], catalogue, 'KWD')).toThrow(
      expect.objectContaining({ name: 'UnknownSku', skus: ['tea'] }),
    );
  });

  it('refuses an order over the amount cap of its currency, and allows one exactly at it', () => {
    const pricey = new Map([
      ['ring', { sku: 'ring', available: 9, prices: { JPY: MAX_ORDER_AMOUNT.JPY / 2 }, points: 0 }],
    ]);

    expect(priceOrder([{ sku: 'ring', quantity: 2 }], pricey, 'JPY').amount).toBe(MAX_ORDER_AMOUNT.JPY);
    expect(() => priceOrder([{ sku: 'ring', quantity: 3 }], pricey, 'JPY')).toThrow(
      expect.objectContaining({ name: 'OrderLimitExceeded' }),
    );
  });

  it('refuses more units than the limit, all lines together', () => {
    const lines = [
      { sku: 'espresso', quantity: MAX_ORDER_UNITS },
      { sku: 'croissant', quantity: 1 },
    ];

    expect(() => priceOrder(lines, catalogue, 'EUR')).toThrow(
      expect.objectContaining({
        name: 'OrderLimitExceeded',
        message: 'order has 1001 units; at most 1000 per order',
      }),
    );
  });
});

describe('checkAcceptable (POST /orders)', () => {
  it('lets an unknown sku through (the saga cancels it) but not an unpriced known one', () => {
    expect(() => checkAcceptable([{ sku: 'tea', quantity: 1 }], catalogue, 'KWD')).not.toThrow();
    expect(() => checkAcceptable(basket, catalogue, 'KWD')).toThrow(
      expect.objectContaining({ name: 'PriceUnavailable' }),
    );
  });

  it('refuses when the known lines alone are over the cap', () => {
    const pricey = new Map([['ring', { sku: 'ring', available: 9, prices: { EUR: 600_000 }, points: 0 }]]);

    expect(() =>
      checkAcceptable(
        [
          { sku: 'ring', quantity: 2 },
          { sku: 'tea', quantity: 1 },
        ],
        pricey,
        'EUR',
      ),
    ).toThrow(expect.objectContaining({ name: 'OrderLimitExceeded' }));
  });
});

describe('pointsFor', () => {
  it('earns per unit and SKU: the same basket earns the same in every currency; unknown SKUs earn nothing', () => {
    expect(pointsFor(basket, catalogue)).toBe(2 * 2 + 3);
    expect(pointsFor([{ sku: 'tea', quantity: 5 }], catalogue)).toBe(0);
  });
});

describe('MAX_ORDER_AMOUNT', () => {
  it('has a cap for every supported currency, within what the payment provider takes (99,999,999)', () => {
    expect(Object.keys(MAX_ORDER_AMOUNT).sort()).toEqual([...SUPPORTED_CURRENCIES].sort());
    for (const cap of Object.values(MAX_ORDER_AMOUNT)) {
      expect(Number.isInteger(cap)).toBe(true);
      expect(cap).toBeLessThanOrEqual(99_999_999);
    }
  });

  it('knows three-decimal currencies', () => {
    expect(CURRENCY_EXPONENTS).toMatchObject({ JPY: 0, EUR: 2, KWD: 3, BHD: 3 });
  });
});

describe('failureReasonOf', () => {
  it.each([
    ['PriceUnavailable', 'PRICE_UNAVAILABLE'],
    ['OrderLimitExceeded', 'ORDER_LIMIT_EXCEEDED'],
  ])('cancels an order that failed with %s as %s', (error, reason) => {
    expect(failureReasonOf({ Error: error, Cause: '{}' })).toBe(reason);
  });
});
