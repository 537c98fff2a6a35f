import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DYNAMODB_JVM_OPTIONS,
  type DynamoDbLocal,
  DynamoDbLocalStartError,
  dynamoDbJvmOptions,
  LOCAL_CREDENTIALS,
  parseJavaMajor,
  startDynamoDbLocal,
} from '#local/engines/dynamodb-local.ts';
import { createTableFromCfn, createTableInput } from '#local/engines/tables.ts';

/** The shape CDK synthesizes for the single table (architecture.md), with an LSI added to cover the mapping. */
const TABLE_PROPS = {
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
    { AttributeName: 'gsi1pk', AttributeType: 'S' },
    { AttributeName: 'gsi1sk', AttributeType: 'S' },
    { AttributeName: 'createdAt', AttributeType: 'S' },
  ],
  BillingMode: 'PAY_PER_REQUEST',
  GlobalSecondaryIndexes: [
    {
      IndexName: 'ByClient',
      KeySchema: [
        { AttributeName: 'gsi1pk', KeyType: 'HASH' },
        { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
  LocalSecondaryIndexes: [
    {
      IndexName: 'ByCreated',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'createdAt', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['status'] },
    },
  ],
  StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
  TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
  PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
  SSESpecification: { SSEEnabled: true },
};

describe('DynamoDB Local engine', () => {
  let ddb: DynamoDbLocal;
  let client: DynamoDBClient;
  let persistDir: string;

  beforeAll(async () => {
    persistDir = await mkdtemp(join(tmpdir(), 'buzzer-ddb-'));
    ddb = await startDynamoDbLocal({ persistDir });
    client = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
  });

  afterAll(async () => {
    client?.destroy();
    await ddb?.stop();
    if (persistDir) await rm(persistDir, { recursive: true, force: true });
  });

  it('serves the real DynamoDB API on loopback and keeps its data in the persist directory', async () => {
    // Act
    const tables = await client.send(new ListTablesCommand({}));

    // Assert
    expect(ddb.endpoint).toBe(`http://127.0.0.1:${ddb.port}`);
    expect(tables.TableNames).toEqual([]);
    expect(await readdir(persistDir)).toContain('shared-local-instance.db');
  });

  it('creates a table from CloudFormation properties with indexes, stream and TTL, idempotently', async () => {
    // Act
    const created = await createTableFromCfn(client, 'Buzzer-Table', TABLE_PROPS);
    const again = await createTableFromCfn(client, 'Buzzer-Table', TABLE_PROPS);
    await client.send(
      new PutItemCommand({ TableName: 'Buzzer-Table', Item: { pk: { S: 'ORDER#1' }, sk: { S: 'ORDER' } } }),
    );
    const { Table } = await client.send(new DescribeTableCommand({ TableName: 'Buzzer-Table' }));
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: 'Buzzer-Table' }));

    // Assert
    expect(created.tableName).toBe('Buzzer-Table');
    expect(created.tableArn).toMatch(/:table\/Buzzer-Table$/);
    expect(created.streamArn).toMatch(/:table\/Buzzer-Table\/stream\//);
    expect(again).toEqual(created);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['ByClient']);
    expect(Table?.LocalSecondaryIndexes?.[0]?.Projection).toEqual({
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: ['status'],
    });
    expect(Table?.ItemCount).toBe(1);
    expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
  });

  it('maps provisioned throughput, defaulting index throughput to the table’s', () => {
    // Act
    const input = createTableInput('Provisioned', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'N' },
      ],
      ProvisionedThroughput: { ReadCapacityUnits: '3', WriteCapacityUnits: 2 },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'G',
          KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });

    // Assert
    expect(input.BillingMode).toBe('PROVISIONED');
    expect(input.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 3, WriteCapacityUnits: 2 });
    expect(input.GlobalSecondaryIndexes?.[0]?.ProvisionedThroughput).toEqual({
      ReadCapacityUnits: 3,
      WriteCapacityUnits: 2,
    });
    expect(input.StreamSpecification).toBeUndefined();
  });

  it('rejects a key schema it cannot map, naming the property', () => {
    // Act / Assert
    expect(() =>
      createTableInput('Bad', { KeySchema: [{ AttributeName: 'id', KeyType: 'PRIMARY' }] }),
    ).toThrow(/AWS::DynamoDB::Table "Bad"\.KeySchema\[0\]\.KeyType must be HASH or RANGE/);
  });

  it('listens on 127.0.0.1 only, never on every interface (the jar alone would)', async () => {
    // Act
    const listening = await listeningAddresses(ddb.port);

    // Assert
    expect(listening.length).toBeGreaterThan(0);
    expect(
      listening.every((address) => address === '127.0.0.1'),
      listening.join(', '),
    ).toBe(true);
  });

  it('runs its JVM with the client compiler only and the serial collector', async () => {
    // Act: the command line of the process serving this port.
    const commandLines = await Promise.all(
      (await readdir('/proc'))
        .filter((entry) => /^\d+$/.test(entry))
        .map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')),
    );
    const jvm = commandLines
      .map((line) => line.split('\0'))
      .find((args) => {
        const at = args.indexOf('-port');
        return args[0]?.endsWith('java') && at !== -1 && args[at + 1] === String(ddb.port);
      });

    // Assert
    expect(jvm).toEqual(expect.arrayContaining(['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xms16m']));
  });

  it('takes its JVM options from the caller, else BUZZER_DYNAMODB_JVM_OPTIONS, else the measured defaults', () => {
    // Act / Assert
    expect(dynamoDbJvmOptions({}, {})).toEqual(DEFAULT_DYNAMODB_JVM_OPTIONS);
    expect(dynamoDbJvmOptions({}, { BUZZER_DYNAMODB_JVM_OPTIONS: ' -Xmx512m  -XX:+UseG1GC ' })).toEqual([
      '-Xmx512m',
      '-XX:+UseG1GC',
    ]);
    expect(dynamoDbJvmOptions({ jvmOptions: [] }, { BUZZER_DYNAMODB_JVM_OPTIONS: '-Xmx512m' })).toEqual([]);
  });

  it('refuses an explicit port that is already taken', async () => {
    // Act / Assert
    await expect(startDynamoDbLocal({ port: ddb.port })).rejects.toThrow(DynamoDbLocalStartError);
  });

  it('reads the major version of old and new Java version strings', () => {
    // Act / Assert
    expect(parseJavaMajor('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(parseJavaMajor('java version "1.8.0_292"')).toBe(8);
    expect(parseJavaMajor('no version here')).toBeUndefined();
  });
});

/**
 * The local addresses of the sockets listening on `port`, from the kernel's tables (`/proc/net/tcp` and `tcp6`, as
 * `ss -ltn` reads them): `0.0.0.0` or `::` means every interface, an IPv4-mapped `::ffff:127.0.0.1` counts as 127.0.0.1.
 */
async function listeningAddresses(port: number): Promise<string[]> {
  const LISTEN = '0A';
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== LISTEN) continue;
      const [hex = '', portHex = ''] = local.split(':');
      if (Number.parseInt(portHex, 16) !== port) continue;
      addresses.push(decodeAddress(hex));
    }
  }
  return addresses;
}

/** A /proc/net address: 32-bit words in host (little-endian) byte order; 8 hex digits for IPv4, 32 for IPv6. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) =>
    (word.match(/../g) ?? []).reverse().map((byte) => Number.parseInt(byte, 16)),
  );
  if (bytes.length === 4) return bytes.join('.');
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join('.');
  if (bytes.every((b) => b === 0)) return '::';
  return bytes.every((b, i) => b === (i === 15 ? 1 : 0)) ? '::1' : hex;
}

/** Process state letter from `ps` (`S`, `R`, `Z`…), or undefined once the process is gone. */
function processState(pid: number): string | undefined {
  try {
    return execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([, ppid]) => ppid === pid)
    .map(([child]) => child ?? -1);
}

describe('engine processes tied to the runtime', () => {
  it('are terminated when the Node process that started them is killed with SIGKILL', async () => {
    // Arrange: a Node process starts a long-running tied child (`sleep` stands in for the JVM).
    const dir = await mkdtemp(join(tmpdir(), 'buzzer-tied-'));
    const script = join(dir, 'parent.ts');
    await writeFile(
      script,
      [
        `import { spawnTiedToParent } from ${JSON.stringify(pathToFileURL(resolve('local/engines/dynamodb-local.ts')).href)};`,
        "const child = spawnTiedToParent('sleep', ['300'], process.cwd());",
        'setTimeout(() => console.log(String(child.pid)), 300);',
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const wrapperPid = await new Promise<number>((resolvePid) =>
      parent.stdout.once('data', (chunk: Buffer) => resolvePid(Number(chunk.toString().trim()))),
    );
    const [enginePid] = childrenOf(wrapperPid);
    expect(enginePid).toBeGreaterThan(0);
    expect(processState(enginePid ?? -1)).toBeDefined();

    // Act
    parent.kill('SIGKILL');

    // Assert
    let state = processState(enginePid ?? -1);
    for (let i = 0; i < 50 && state !== undefined && !state.startsWith('Z'); i++) {
      await sleep(100);
      state = processState(enginePid ?? -1);
    }
    await rm(dir, { recursive: true, force: true });
    expect(state === undefined || state.startsWith('Z')).toBe(true);
  });
});
