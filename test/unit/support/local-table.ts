/** A single-table (`pk`/`sk`, on-demand) on a DynamoDB Local of its own, for tests that need real conditional writes. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { INDEXES, OPEN_ATTRIBUTES } from '#contracts/table.ts';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '#local/engines/dynamodb-local.ts';
import { createTableFromCfn } from '#local/engines/tables.ts';

export interface LocalTable {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** The endpoint, for clients of other DynamoDB APIs (streams). */
  endpoint: string;
  /** Set with `stream`: the table's stream, as the relay's mapping reads it. */
  streamArn?: string;
  stop(): Promise<void>;
}

export interface LocalTableOptions {
  /** Also create the `Open` index as the stack defines it (keys `openPk`, `openSk`; `OPEN_ATTRIBUTES` projected). */
  openIndex?: boolean;
  /** Give the table a stream of this view type, as the stack's. */
  stream?: 'NEW_AND_OLD_IMAGES';
}

export async function startLocalTable(
  tableName: string,
  options: LocalTableOptions = {},
): Promise<LocalTable> {
  const dynamo = await startDynamoDbLocal();
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const { streamArn } = await createTableFromCfn(client, tableName, {
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      ...(options.openIndex
        ? [
            { AttributeName: 'openPk', AttributeType: 'S' },
            { AttributeName: 'openSk', AttributeType: 'S' },
          ]
        : []),
    ],
    BillingMode: 'PAY_PER_REQUEST',
    ...(options.openIndex
      ? {
          GlobalSecondaryIndexes: [
            {
              IndexName: INDEXES.Open,
              KeySchema: [
                { AttributeName: 'openPk', KeyType: 'HASH' },
                { AttributeName: 'openSk', KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...OPEN_ATTRIBUTES] },
            },
          ],
        }
      : {}),
    ...(options.stream ? { StreamSpecification: { StreamViewType: options.stream } } : {}),
  });
  return {
    client,
    endpoint: dynamo.endpoint,
    ...(streamArn ? { streamArn } : {}),
    doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    stop: async () => {
      client.destroy();
      await dynamo.stop();
    },
  };
}
