import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createApiKey } from '#shared/api-keys.ts';
import { keys } from '#shared/keys.ts';

export interface StockItem {
  sku: string;
  name: string;
  /** Price in minor units (cents). */
  price: number;
  available: number;
}

/** A small cafe catalogue so a fresh local system can take orders at once. */
export const DEMO_CATALOGUE: readonly StockItem[] = [
  { sku: 'espresso', name: 'Espresso', price: 250, available: 100_000 },
  { sku: 'flat-white', name: 'Flat white', price: 380, available: 100_000 },
  { sku: 'croissant', name: 'Croissant', price: 300, available: 100_000 },
  { sku: 'cheesecake', name: 'Cheesecake (last slice)', price: 550, available: 1 },
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
