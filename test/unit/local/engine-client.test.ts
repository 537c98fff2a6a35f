import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbLocal, startDynamoDbLocal } from '#local/engines/dynamodb-local.ts';
import { engineClientConfig } from '#local/engines/engine-client.ts';
import { type SqsEngine, startSqs } from '#local/engines/sqs.ts';

/** Adds a step to `client` that records the headers of every request as it leaves (after signing). */
function recordHeaders(client: DynamoDBClient | SQSClient): Array<Record<string, string>> {
  const seen: Array<Record<string, string>> = [];
  const step =
    <Args extends { request: unknown }, Output>(next: (args: Args) => Promise<Output>) =>
    async (args: Args) => {
      seen.push({ ...(args.request as { headers: Record<string, string> }).headers });
      return next(args);
    };
  const options = { step: 'finalizeRequest', priority: 'low', name: 'recordHeaders' } as const;
  if (client instanceof DynamoDBClient) client.middlewareStack.add(step, options);
  else client.middlewareStack.add(step, options);
  return seen;
}

describe('engineClientConfig: the runtime’s own clients of its engines', () => {
  let dynamo: DynamoDbLocal;
  let sqsEngine: SqsEngine;

  beforeAll(async () => {
    [dynamo, sqsEngine] = await Promise.all([startDynamoDbLocal(), startSqs()]);
  });

  afterAll(async () => {
    await Promise.all([dynamo?.stop(), sqsEngine?.stop()]);
  });

  it('reaches DynamoDB Local and SQS with one fixed Authorization header, no signature computed per request', async () => {
    // Arrange
    const dynamodb = new DynamoDBClient({ ...engineClientConfig('us-east-1'), endpoint: dynamo.endpoint });
    const sqs = new SQSClient({ ...engineClientConfig('us-east-1'), endpoint: sqsEngine.endpoint });
    const dynamoHeaders = recordHeaders(dynamodb);
    const sqsHeaders = recordHeaders(sqs);

    // Act
    const tables = await dynamodb.send(new ListTablesCommand({}));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'engine-client' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl }));
    await dynamodb.send(new ListTablesCommand({}));

    // Assert: both engines served the requests.
    expect(tables.TableNames).toEqual([]);
    expect(Messages.map((message) => message.Body)).toEqual(['hello']);
    // One header for every request: a SigV4 signer would date each one (x-amz-date) and sign it anew.
    const sent = [...dynamoHeaders, ...sqsHeaders];
    expect(sent).toHaveLength(5);
    expect(new Set(sent.map((h) => h.authorization)).size).toBe(1);
    expect(sent[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=\S+\/us-east-1\//);
    expect(sent.filter((h) => 'x-amz-date' in h)).toEqual([]);
    dynamodb.destroy();
    sqs.destroy();
  });
});
