import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createApiKey } from '#functions/clients/api-keys.ts';
import { usageIdentifierOf } from '#functions/clients/limits.ts';
import type { StockItem } from '#functions/orders/pricing.ts';
import { apiOfOutputs } from '#ops/cli/context.ts';
import { CLIENT_TIER } from '#ops/cli/keys.ts';
import { sdkUsagePlanKeys, usageKeyName } from '#ops/cli/usage-plans.ts';
import { keys } from '#shared/table-keys.ts';

export type { StockItem };

/**
 * A small cafe catalogue so a fresh local system can take orders at once. Prices are per currency in its minor units
 * (JPY has none, KWD and BHD have three); the other supported currencies have no prices, so an order in one of them
 * is refused with 422 `price_unavailable`. Points are per unit, the same in every currency.
 */
export const DEMO_CATALOGUE: readonly StockItem[] = [
  {
    sku: 'espresso',
    name: 'Espresso',
    prices: { EUR: 250, USD: 275, GBP: 220, CHF: 240, SEK: 2900, JPY: 400, KWD: 85, BHD: 105 },
    points: 2,
    available: 100_000,
  },
  {
    sku: 'flat-white',
    name: 'Flat white',
    prices: { EUR: 380, USD: 420, GBP: 330, CHF: 370, SEK: 4400, JPY: 620, KWD: 130, BHD: 160 },
    points: 4,
    available: 100_000,
  },
  {
    sku: 'croissant',
    name: 'Croissant',
    prices: { EUR: 300, USD: 330, GBP: 260, CHF: 290, SEK: 3500, JPY: 490, KWD: 100, BHD: 125 },
    points: 3,
    available: 100_000,
  },
  {
    sku: 'cheesecake',
    name: 'Cheesecake (last slice)',
    prices: { EUR: 550, USD: 600, GBP: 480, CHF: 530, SEK: 6400, JPY: 900, KWD: 190, BHD: 230 },
    points: 6,
    available: 1,
  },
];

/** Sets stock levels (overwriting), e.g. to seed the catalogue or to set up a sold-out test. */
export async function putStock(doc: DynamoDBDocumentClient, tableName: string, items: readonly StockItem[]) {
  for (const item of items) {
    await doc.send(
      new PutCommand({ TableName: tableName, Item: { ...keys.stock(item.sku), entity: 'Stock', ...item } }),
    );
  }
}

/** Issues an API key for each client id; the plain keys are returned once and only their hashes are stored. */
export async function issueApiKeys(
  doc: DynamoDBDocumentClient,
  tableName: string,
  clientIds: readonly string[],
): Promise<Record<string, string>> {
  const issued: Record<string, string> = {};
  for (const clientId of clientIds) {
    issued[clientId] = (await createApiKey(doc, tableName, clientId, { label: 'local runtime' })).apiKey;
  }
  return issued;
}

/**
 * REST flavour: each seeded client's API Gateway key (value: its usage identifier) on the standard usage plan, as
 * `buzzer keys create` attaches it, through the runtime's API Gateway endpoint. Without it the gateway refuses the
 * authorizer's `usageIdentifierKey` and every request of the client is 403. Nothing to do on the HTTP flavour.
 */
export async function attachUsageKeys(
  stack: {
    stackName: string;
    region: string;
    outputs: Record<string, unknown>;
    apiGatewayEndpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
  },
  clientIds: readonly string[],
): Promise<void> {
  const api = apiOfOutputs(stack.outputs, `stack ${stack.stackName}`);
  if (api.apiFlavour !== 'rest' || clientIds.length === 0) return;
  const usagePlanId = api.usagePlanIds?.[CLIENT_TIER];
  if (!usagePlanId) throw new Error(`stack ${stack.stackName} has no "${CLIENT_TIER}" usage plan`);
  const usageKeys = sdkUsagePlanKeys({
    region: stack.region,
    ...(stack.apiGatewayEndpoint ? { apiGatewayEndpoint: stack.apiGatewayEndpoint } : {}),
    ...(stack.credentials ? { credentials: stack.credentials } : {}),
  });
  try {
    for (const clientId of clientIds) {
      await usageKeys.attach({
        name: usageKeyName(stack.stackName, clientId),
        value: usageIdentifierOf(clientId),
        usagePlanId,
      });
    }
  } finally {
    usageKeys.close();
  }
}
