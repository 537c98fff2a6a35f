/**
 * Direct access to the stack's table for scenarios that set stock levels or count points, on any target: the local
 * runtime's own client, or for a deployed stack the `TableName` output and the SDK's default configuration (for
 * LocalStack, `AWS_ENDPOINT_URL=http://localhost.localstack.cloud:4566` in the environment).
 */
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { type PointsAccount, readPoints } from '#functions/loyalty/points.ts';
import type { Target } from './target.ts';

export interface TableAccess {
  doc: DynamoDBDocumentClient;
  tableName: string;
  close(): void;
}

export function tableAccess(target: Target): TableAccess {
  if (target.runtime) {
    const tableName = target.runtime.info.outputs.TableName;
    if (typeof tableName !== 'string') throw new Error('the local stack has no TableName output');
    return { doc: target.runtime.clients.doc, tableName, close: () => {} };
  }
  const file = process.env.BUZZER_OUTPUTS_FILE ?? '';
  const outputs = Object.values(
    JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>,
  )[0];
  if (!outputs?.TableName) throw new Error(`${file} has no TableName output`);
  const client = new DynamoDBClient({});
  return {
    doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    tableName: outputs.TableName,
    close: () => client.destroy(),
  };
}

export async function stockLevel(table: TableAccess, sku: string): Promise<number | undefined> {
  const { Item } = await table.doc.send(
    new GetCommand({
      TableName: table.tableName,
      Key: { pk: `STOCK#${sku}`, sk: 'STOCK' },
      ConsistentRead: true,
    }),
  );
  return Item === undefined ? undefined : Number(Item.available);
}

/** The points of one client's customer: the balance and one ledger line per credited order. */
export function pointsOf(table: TableAccess, clientId: string, customerId: string): Promise<PointsAccount> {
  return readPoints({ doc: table.doc, tableName: table.tableName }, clientId, customerId);
}
