/**
 * The money rules of an order, in one place: what a line costs in the order's currency, what the order may add up
 * to, and how many loyalty points it earns. The accept function, the saga's ReserveStock, the points worker, the
 * seed catalogue and the chaos ledger check all use these, so they cannot disagree about an amount.
 *
 * - Prices are per currency, in that currency's minor units (ISO 4217 exponent: JPY 0, EUR 2, KWD 3). A catalogue
 *   item without a price in a currency cannot be sold in it: nothing is ever converted.
 * - An order's amount is capped per currency (`MAX_ORDER_AMOUNT`) and its units in total (`MAX_ORDER_UNITS`).
 * - Points are per unit and per SKU (`points` on the catalogue item), so one basket earns the same points in every
 *   currency. ReserveStock fixes them with the price; the points worker credits what the order carries.
 */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { parseItem, type TableDeps } from '#shared/dynamodb.ts';
import { keys } from '#shared/table-keys.ts';
import * as z from '#shared/zod.ts';
import { type Currency, formatAmount } from './currency.ts';
import { OrderLimitExceeded, PriceUnavailable, UnknownSku } from './errors.ts';

/**
 * The most one order may cost, per currency, in minor units: about 10,000 EUR in each, rounded. A client bug or an
 * abuse (20 lines of 1000 units) is refused before a charge is attempted; every cap stays below the largest amount
 * the payment provider takes (99,999,999 minor units).
 */
export const MAX_ORDER_AMOUNT: Readonly<Record<Currency, number>> = {
  AUD: 1_700_000, // 17,000.00
  BHD: 4_000_000, // 4,000.000
  CAD: 1_600_000, // 16,000.00
  CHF: 1_000_000, // 10,000.00
  CZK: 25_000_000, // 250,000.00
  DKK: 7_500_000, // 75,000.00
  EUR: 1_000_000, // 10,000.00
  GBP: 900_000, // 9,000.00
  JPY: 1_700_000, // 1,700,000
  KWD: 3_300_000, // 3,300.000
  NOK: 12_000_000, // 120,000.00
  NZD: 1_900_000, // 19,000.00
  PLN: 4_500_000, // 45,000.00
  SEK: 12_000_000, // 120,000.00
  USD: 1_100_000, // 11,000.00
};

/** The most units one order may hold, all lines together (each line is also capped by `MAX_QUANTITY`). */
export const MAX_ORDER_UNITS = 1000;

/**
 * A `STOCK#<sku>` item as the pricing rules read it. `prices` maps a currency code to the unit price in its minor
 * units; `points` is what one unit earns. Both have defaults so that an item written before prices were per currency,
 * or the bare counter a stock release recreates after an operator deleted the SKU, reads as "no price" (the order is
 * refused or cancelled with PRICE_UNAVAILABLE), never as a broken record.
 */
const stockItemSchema = z.object({
  available: z.number().int(),
  prices: z.record(z.string(), z.number().int().min(0)).default({}),
  points: z.number().int().min(0).default(0),
});
export type CatalogueItem = z.infer<typeof stockItemSchema> & { sku: string };
export type Catalogue = ReadonlyMap<string, CatalogueItem>;

/** An entry of the demo catalogue or a test's stock: what `putStock` writes. */
export interface StockItem {
  sku: string;
  name: string;
  available: number;
  prices: Partial<Record<Currency, number>>;
  points: number;
}

export interface Line {
  sku: string;
  quantity: number;
}

export interface PricedOrder {
  /** In minor units of the order's currency. */
  amount: number;
  points: number;
}

/** The unit price of `item` in `currency`, or undefined when the catalogue does not sell it in that currency. */
export function unitPrice(item: Pick<CatalogueItem, 'prices'>, currency: Currency): number | undefined {
  return Object.hasOwn(item.prices, currency) ? item.prices[currency] : undefined;
}

export function totalUnits(items: readonly Line[]): number {
  return items.reduce((sum, item) => sum + item.quantity, 0);
}

/** Points a basket earns: each unit earns its SKU's points, whatever the currency. Unknown SKUs earn nothing. */
export function pointsFor(items: readonly Line[], catalogue: Catalogue): number {
  return items.reduce((sum, item) => sum + (catalogue.get(item.sku)?.points ?? 0) * item.quantity, 0);
}

/** The limit a client can be told about before reading the catalogue: total units. */
export function checkUnits(items: readonly Line[]): void {
  const units = totalUnits(items);
  if (units > MAX_ORDER_UNITS) {
    throw new OrderLimitExceeded(`order has ${units} units; at most ${MAX_ORDER_UNITS} per order`);
  }
}

function assertAmount(amount: number, currency: Currency): void {
  const cap = MAX_ORDER_AMOUNT[currency];
  if (amount > cap) {
    throw new OrderLimitExceeded(
      `order total ${formatAmount(amount, currency)} exceeds the limit of ${formatAmount(cap, currency)} per order`,
    );
  }
}

/** Sum of the lines the catalogue knows, in minor units; throws PriceUnavailable naming every unpriced one. */
function knownAmount(items: readonly Line[], catalogue: Catalogue, currency: Currency): number {
  const unpriced: string[] = [];
  let amount = 0;
  for (const item of items) {
    const known = catalogue.get(item.sku);
    if (!known) continue;
    const price = unitPrice(known, currency);
    if (price === undefined) unpriced.push(item.sku);
    else amount += price * item.quantity;
  }
  if (unpriced.length > 0) throw new PriceUnavailable(unpriced, currency);
  return amount;
}

/**
 * The acceptance check of `POST /orders`: refuses an order that cannot succeed on what is known now (a known SKU
 * without a price in the currency, too many units, known lines already over the cap). An unknown SKU passes: the
 * saga cancels it with UNKNOWN_SKU, as it cancels one that vanished after acceptance.
 */
export function checkAcceptable(items: readonly Line[], catalogue: Catalogue, currency: Currency): void {
  checkUnits(items);
  assertAmount(knownAmount(items, catalogue, currency), currency);
}

/**
 * The price of an order at reservation: every SKU known and priced in the currency, within the limits. Throws
 * UnknownSku, PriceUnavailable or OrderLimitExceeded (each a verdict that cancels the order).
 */
export function priceOrder(items: readonly Line[], catalogue: Catalogue, currency: Currency): PricedOrder {
  const unknown = items.filter((item) => !catalogue.has(item.sku)).map((item) => item.sku);
  if (unknown.length > 0) throw new UnknownSku(unknown);
  checkUnits(items);
  const amount = knownAmount(items, catalogue, currency);
  assertAmount(amount, currency);
  return { amount, points: pointsFor(items, catalogue) };
}

const STOCK_PREFIX = keys.stock('').pk;

/** BatchGetItem reads at most 100 keys; an order has at most 20 lines (validated at acceptance). */
const MAX_BATCH_ATTEMPTS = 5;

/**
 * The catalogue items of `skus` in one BatchGetItem (more calls only for keys DynamoDB left unprocessed). SKUs
 * without an item are absent from the map. `consistent`: ReserveStock must see the latest stock level; acceptance
 * can read an eventually consistent copy at half the cost, since the saga checks again.
 */
export async function readCatalogue(
  deps: TableDeps,
  skus: readonly string[],
  { consistent }: { consistent: boolean },
): Promise<Map<string, CatalogueItem>> {
  const catalogue = new Map<string, CatalogueItem>();
  let requested: Record<string, unknown>[] = [...new Set(skus)].map((sku) => ({ ...keys.stock(sku) }));
  for (let attempt = 0; requested.length > 0 && attempt < MAX_BATCH_ATTEMPTS; attempt++) {
    const result = await deps.doc.send(
      new BatchGetCommand({
        RequestItems: { [deps.tableName]: { Keys: requested, ConsistentRead: consistent } },
      }),
    );
    for (const item of result.Responses?.[deps.tableName] ?? []) {
      // The key names the SKU: a bare counter has no `sku` attribute.
      const sku = String(item.pk).slice(STOCK_PREFIX.length);
      catalogue.set(sku, { sku, ...parseItem(stockItemSchema, item, `stock item ${String(item.pk)}`) });
    }
    requested = result.UnprocessedKeys?.[deps.tableName]?.Keys ?? [];
  }
  if (requested.length > 0) throw new Error('stock lookup kept returning unprocessed keys');
  return catalogue;
}
