import { z } from 'zod';
import { createTableFromCfn } from '#local/engines/tables.ts';
import { cfnBoolean, defineResource } from './module.ts';

const keyElement = z.looseObject({ AttributeName: z.string(), KeyType: z.enum(['HASH', 'RANGE']) });

/** `AWS::DynamoDB::Table` → a table in DynamoDB Local (the engine reads the rest: GSIs, stream, TTL, billing). */
export const dynamodbTable = defineResource({
  types: ['AWS::DynamoDB::Table'],
  engine: 'DynamoDB Local (streams, TTL, GSIs, transactions)',
  properties: z.looseObject({
    KeySchema: z.array(keyElement).min(1),
    AttributeDefinitions: z.array(z.looseObject({ AttributeName: z.string(), AttributeType: z.string() })),
    GlobalSecondaryIndexes: z
      .array(z.looseObject({ IndexName: z.string(), KeySchema: z.array(keyElement).min(1) }))
      .optional(),
    StreamSpecification: z.looseObject({ StreamViewType: z.string() }).optional(),
    TimeToLiveSpecification: z
      .looseObject({ AttributeName: z.string().optional(), Enabled: cfnBoolean })
      .optional(),
  }),
  async start({ logicalId, properties }, { names, engines, started }) {
    const name = names.physicalName(logicalId);
    const table = await createTableFromCfn(engines.dynamodb, name, properties);
    if (table.streamArn) names.setAttribute(logicalId, 'StreamArn', table.streamArn);
    started.tables[logicalId] = name;
  },
});
