import {
  type AttributeDefinition,
  type BillingMode,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
  type Projection,
  type ProvisionedThroughput,
  ResourceInUseException,
  type StreamViewType,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidPropertyError, Props } from '#local/template/props.ts';

/**
 * Creates DynamoDB Local tables from the resolved `Properties` of `AWS::DynamoDB::Table` resources.
 * Properties with no local meaning (SSE, point-in-time recovery, contributor insights, table class,
 * deletion protection, tags, Kinesis streaming, import source) are ignored.
 */

export interface CreatedTable {
  tableName: string;
  /** The ARN DynamoDB Local reports (its region is `ddblocal`). */
  tableArn: string;
  /** Set when the table has a stream: pass it to the stream pollers as `EventSourceArn`. */
  streamArn?: string;
}

function keySchema(props: Props, key: string): KeySchemaElement[] {
  const elements = props.list(key);
  if (!elements || elements.length === 0) throw new InvalidPropertyError(`${props.where}.${key} is required`);
  return elements.map((element) => {
    const keyType = element.requiredString('KeyType');
    if (keyType !== 'HASH' && keyType !== 'RANGE') {
      throw new InvalidPropertyError(`${element.where}.KeyType must be HASH or RANGE, got "${keyType}"`);
    }
    return { AttributeName: element.requiredString('AttributeName'), KeyType: keyType };
  });
}

function attributeDefinitions(props: Props): AttributeDefinition[] {
  return (props.list('AttributeDefinitions') ?? []).map((definition) => {
    const type = definition.requiredString('AttributeType');
    if (type !== 'S' && type !== 'N' && type !== 'B') {
      throw new InvalidPropertyError(`${definition.where}.AttributeType must be S, N or B, got "${type}"`);
    }
    return { AttributeName: definition.requiredString('AttributeName'), AttributeType: type };
  });
}

function throughput(props: Props | undefined): ProvisionedThroughput | undefined {
  if (!props) return undefined;
  return {
    ReadCapacityUnits: props.number('ReadCapacityUnits') ?? 5,
    WriteCapacityUnits: props.number('WriteCapacityUnits') ?? 5,
  };
}

function projection(props: Props): Projection {
  const projected = props.props('Projection');
  if (!projected) throw new InvalidPropertyError(`${props.where}.Projection is required`);
  const type = projected.string('ProjectionType') ?? 'ALL';
  if (type !== 'ALL' && type !== 'KEYS_ONLY' && type !== 'INCLUDE') {
    throw new InvalidPropertyError(`${projected.where}.ProjectionType must be ALL, KEYS_ONLY or INCLUDE`);
  }
  const nonKey = projected.strings('NonKeyAttributes');
  return { ProjectionType: type, ...(nonKey ? { NonKeyAttributes: nonKey } : {}) };
}

/** Maps resolved CloudFormation properties to a CreateTable request (exported for inspection and tests). */
export function createTableInput(
  tableName: string,
  properties: Record<string, unknown>,
): CreateTableCommandInput {
  const props = Props.of(properties, `AWS::DynamoDB::Table "${tableName}"`);
  const billing = props.string('BillingMode') ?? 'PROVISIONED';
  if (billing !== 'PROVISIONED' && billing !== 'PAY_PER_REQUEST') {
    throw new InvalidPropertyError(`${props.where}.BillingMode must be PROVISIONED or PAY_PER_REQUEST`);
  }
  const provisioned = billing === 'PROVISIONED';
  // CloudFormation requires throughput for provisioned tables; locally a missing value only means defaults.
  const tableThroughput = provisioned
    ? (throughput(props.props('ProvisionedThroughput')) ?? { ReadCapacityUnits: 5, WriteCapacityUnits: 5 })
    : undefined;

  const globalIndexes = props.list('GlobalSecondaryIndexes')?.map(
    (index): GlobalSecondaryIndex => ({
      IndexName: index.requiredString('IndexName'),
      KeySchema: keySchema(index, 'KeySchema'),
      Projection: projection(index),
      ...(provisioned
        ? { ProvisionedThroughput: throughput(index.props('ProvisionedThroughput')) ?? tableThroughput }
        : {}),
    }),
  );
  const localIndexes = props.list('LocalSecondaryIndexes')?.map(
    (index): LocalSecondaryIndex => ({
      IndexName: index.requiredString('IndexName'),
      KeySchema: keySchema(index, 'KeySchema'),
      Projection: projection(index),
    }),
  );
  const stream = props.props('StreamSpecification');
  const streamViewType = stream?.requiredString('StreamViewType') as StreamViewType | undefined;

  return {
    TableName: tableName,
    KeySchema: keySchema(props, 'KeySchema'),
    AttributeDefinitions: attributeDefinitions(props),
    BillingMode: billing as BillingMode,
    ...(tableThroughput ? { ProvisionedThroughput: tableThroughput } : {}),
    ...(globalIndexes && globalIndexes.length > 0 ? { GlobalSecondaryIndexes: globalIndexes } : {}),
    ...(localIndexes && localIndexes.length > 0 ? { LocalSecondaryIndexes: localIndexes } : {}),
    ...(streamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: streamViewType } }
      : {}),
  };
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (!Table) throw new Error(`DescribeTable returned no description for "${tableName}"`);
  return Table;
}

/**
 * A table that survived from an earlier run (persisted state) is kept with its data. Its stream is
 * switched on when the template now asks for one; any other schema drift is left alone, as re-creating
 * the table would lose the data the user chose to keep.
 */
async function adoptExisting(
  client: DynamoDBClient,
  input: CreateTableCommandInput,
): Promise<TableDescription> {
  const tableName = input.TableName ?? '';
  const existing = await describe(client, tableName);
  const wanted = input.StreamSpecification;
  if (wanted?.StreamEnabled && !existing.StreamSpecification?.StreamEnabled) {
    const { TableDescription } = await client.send(
      new UpdateTableCommand({ TableName: tableName, StreamSpecification: wanted }),
    );
    return TableDescription ?? describe(client, tableName);
  }
  return existing;
}

async function applyTimeToLive(client: DynamoDBClient, tableName: string, props: Props): Promise<void> {
  const ttl = props.props('TimeToLiveSpecification');
  const attributeName = ttl?.string('AttributeName');
  if (!ttl || !attributeName || ttl.boolean('Enabled') === false) return;
  const { TimeToLiveDescription } = await client.send(
    new DescribeTimeToLiveCommand({ TableName: tableName }),
  );
  const status = TimeToLiveDescription?.TimeToLiveStatus;
  // UpdateTimeToLive rejects enabling TTL that is already on, which happens for persisted tables.
  if (
    (status === 'ENABLED' || status === 'ENABLING') &&
    TimeToLiveDescription?.AttributeName === attributeName
  )
    return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
    }),
  );
}

/**
 * Creates the table (or adopts an existing one of that name), applies its TTL setting and returns its
 * ARNs. Idempotent: safe to call on every start, including against a persisted database.
 */
export async function createTableFromCfn(
  client: DynamoDBClient,
  tableName: string,
  props: Record<string, unknown>,
): Promise<CreatedTable> {
  const input = createTableInput(tableName, props);
  let description: TableDescription | undefined;
  try {
    description = (await client.send(new CreateTableCommand(input))).TableDescription;
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    description = await adoptExisting(client, input);
  }
  if (!description?.TableArn) description = await describe(client, tableName);
  await applyTimeToLive(client, tableName, Props.of(props, `AWS::DynamoDB::Table "${tableName}"`));

  if (!description.TableArn) throw new Error(`DynamoDB Local reported no ARN for table "${tableName}"`);
  const streamArn = description.StreamSpecification?.StreamEnabled ? description.LatestStreamArn : undefined;
  return {
    tableName,
    tableArn: description.TableArn,
    ...(streamArn ? { streamArn } : {}),
  };
}
