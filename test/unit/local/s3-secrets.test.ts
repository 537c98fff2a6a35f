/**
 * The local runtime's S3 (s3rver) and Secrets Manager: the settlement functions' own S3 calls (SigV4-signed, path
 * style through AWS_ENDPOINT_URL_S3) against s3rver, and the secrets a function reads by name or ARN.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ObjectStore, objectStoreClient } from '#functions/settlement/object-store.ts';
import { LOCAL_CREDENTIALS } from '#local/engines/dynamodb-local.ts';
import { EventBridgeEngine } from '#local/engines/eventbridge/bus.ts';
import { TargetDispatcher } from '#local/engines/eventbridge/targets.ts';
import { type S3Engine, startS3 } from '#local/engines/s3.ts';
import { SecretsEngine } from '#local/engines/secrets.ts';
import { s3Bucket } from '#local/resources/s3-bucket.ts';
import { silentLogger } from '#local/types.ts';

let s3: S3Engine;

beforeAll(async () => {
  s3 = await startS3({ logger: silentLogger });
  await s3.createBucket('buzzer-settlement-files');
  vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await s3.stop();
});

describe('S3 on s3rver', () => {
  const store = () =>
    new ObjectStore(
      'buzzer-settlement-files',
      objectStoreClient({ ...process.env, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: s3.endpoint }),
    );

  it('stores and reads back objects with signed requests, and answers a missing one with nothing', async () => {
    await store().putText('exports/acquirer/2026-12-01/parts/part-000001.jsonl', '{"a":1}\n{"a":2}\n');
    expect(await store().getText('exports/acquirer/2026-12-01/parts/part-000001.jsonl')).toBe(
      '{"a":1}\n{"a":2}\n',
    );
    expect(await store().exists('exports/acquirer/2026-12-01/parts/part-000001.jsonl')).toBe(true);
    expect(await store().exists('exports/acquirer/2026-12-01/parts/part-000002.jsonl')).toBe(false);
    expect(await store().getStream('exports/none')).toBeUndefined();
    const stream = await store().getStream('exports/acquirer/2026-12-01/parts/part-000001.jsonl');
    let text = '';
    for await (const chunk of stream ?? []) text += String(chunk);
    expect(text).toBe('{"a":1}\n{"a":2}\n');
    const tail = await store().getStream('exports/acquirer/2026-12-01/parts/part-000001.jsonl', 8);
    text = '';
    for await (const chunk of tail ?? []) text += String(chunk);
    expect(text).toBe('{"a":2}\n');
  });

  it('moves an object (copy, then delete), and a move already done is done', async () => {
    await store().putText('inbox/a b.csv', 'x\n');
    await store().move('inbox/a b.csv', 'processed/a b.csv');
    expect(await store().exists('inbox/a b.csv')).toBe(false);
    expect(await store().getText('processed/a b.csv')).toBe('x\n');
    await store().move('inbox/a b.csv', 'processed/a b.csv');
    await expect(store().move('inbox/none.csv', 'processed/none.csv')).rejects.toMatchObject({
      name: 'ObjectStoreError',
    });
  });

  it('refuses a request signed with credentials it does not know', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDSOMEONEELSE');
    try {
      await expect(store().putText('exports/x', 'x')).rejects.toMatchObject({ name: 'ObjectStoreError' });
    } finally {
      vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
    }
  });
});

describe('S3 events to EventBridge', () => {
  it("puts AWS's Object Created event of an EventBridge-enabled bucket on the default bus, where a rule starts its target", async () => {
    const started: Array<{ stateMachineArn: string; input?: string }> = [];
    const dispatcher = new TargetDispatcher(
      {
        sqs: undefined as never,
        resolveQueueUrl: () => undefined,
        lambda: undefined as never,
        stepFunctions: {
          async startExecution(input) {
            started.push(input);
            return {};
          },
        },
        logger: silentLogger,
      },
      { retryDelayMs: () => 5 },
    );
    const events = new EventBridgeEngine({ dispatcher, logger: silentLogger });
    const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:Import';
    events.registerRule(
      {
        EventPattern: {
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: { bucket: { name: ['buzzer-inbox'] }, object: { key: [{ prefix: 'inbox/' }] } },
        },
        Targets: [{ Id: 'import', Arn: machine }],
      },
      'FileArrived',
    );
    const context = {
      names: { physicalName: () => 'buzzer-inbox' },
      engines: { s3, events },
      started: { buckets: {} },
      account: { accountId: '000000000000', region: 'us-east-1' },
    } as never;
    await s3Bucket.start?.(
      s3Bucket.parse(
        'Inbox',
        { Type: 'AWS::S3::Bucket' },
        {
          NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
        },
      ),
      context,
    );
    const inbox = new ObjectStore(
      'buzzer-inbox',
      objectStoreClient({ ...process.env, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: s3.endpoint }),
    );
    await inbox.putText('inbox/acquirer.csv', 'H,1,2026-12-06,acquirer\n');
    await inbox.putText('reports/other.txt', 'x');
    await events.waitForIdle();
    expect(started).toHaveLength(1);
    expect(started[0]?.stateMachineArn).toBe(machine);
    expect(JSON.parse(started[0]?.input ?? '')).toMatchObject({
      version: '0',
      source: 'aws.s3',
      'detail-type': 'Object Created',
      resources: ['arn:aws:s3:::buzzer-inbox'],
      detail: {
        bucket: { name: 'buzzer-inbox' },
        object: { key: 'inbox/acquirer.csv', size: 24 },
        reason: 'PutObject',
      },
    });
    await dispatcher.stop();
  });
});

describe('Secrets Manager', () => {
  it('answers GetSecretValue by name or ARN, takes PutSecretValue, and names a missing secret', async () => {
    const secrets = new SecretsEngine();
    secrets.register(
      'Buzzer/settlement/acquirer',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:x-AbCdEf',
    );
    const service = secrets.service();
    await service('PutSecretValue', { SecretId: 'Buzzer/settlement/acquirer', SecretString: '{"host":"h"}' });
    await expect(
      service('GetSecretValue', {
        SecretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:x-AbCdEf',
      }),
    ).resolves.toMatchObject({ Name: 'Buzzer/settlement/acquirer', SecretString: '{"host":"h"}' });
    await expect(service('GetSecretValue', { SecretId: 'nope' })).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
