import { spawnSync } from 'node:child_process';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueueFromCfn, type SqsEngine, startSqs } from '#local/engines/sqs.ts';
import { encodeRecord, JOURNAL_FILE, replayJournal } from '#local/engines/sqs-journal.ts';
import { silentLogger } from '#local/types.ts';

const warnings: Array<{ message: string; fields?: Record<string, unknown> }> = [];
const logger = {
  ...silentLogger,
  warn: (message: string, fields?: Record<string, unknown>) => warnings.push({ message, fields }),
};

interface Running {
  engine: SqsEngine;
  client: SQSClient;
  queueUrl: string;
  dlqUrl: string;
}

const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  warnings.length = 0;
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'buzzer-sqs-journal-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An engine on `dir` with a work queue (maxReceiveCount 2) and its DLQ, created as the runtime does: DLQ first. */
async function start(dir: string, options: { compactAfterBytes?: number } = {}): Promise<Running> {
  const engine = await startSqs({ persistDir: dir, logger, journal: options });
  const client = new SQSClient({
    endpoint: engine.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  cleanup.push(async () => {
    client.destroy();
    await engine.stop();
  });
  const dlq = await createQueueFromCfn(client, 'Work-Dlq', {});
  const queue = await createQueueFromCfn(client, 'Work', {
    VisibilityTimeout: 30,
    RedrivePolicy: { deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 2 },
  });
  return { engine, client, queueUrl: queue.queueUrl, dlqUrl: dlq.queueUrl };
}

/**
 * What a SIGKILL leaves: the journal as the kernel has it at this instant, copied to a fresh directory (the first
 * engine never closes it, so nothing is flushed or fsynced on the way out).
 */
async function killedCopy(running: Running): Promise<string> {
  await running.engine.written();
  const copy = await tempDir();
  await cp(path.join(await dirOf(running)), copy, { recursive: true });
  return copy;
}

const dirs = new WeakMap<Running, string>();
const dirOf = async (running: Running) => dirs.get(running) ?? '';

async function startOn(dir: string, options: { compactAfterBytes?: number } = {}): Promise<Running> {
  const running = await start(dir, options);
  dirs.set(running, dir);
  return running;
}

/**
 * One ReceiveMessage call. With a visibility timeout of 0 ask for one message: local-aws-sqs keeps collecting for
 * 40 ms and would receive the same message again and again.
 */
async function receive(
  running: Running,
  queueUrl: string,
  visibilityTimeout = 30,
  max = visibilityTimeout === 0 ? 1 : 10,
): Promise<Message[]> {
  const { Messages } = await running.client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: 0,
      VisibilityTimeout: visibilityTimeout,
      AttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages ?? [];
}

describe('durable local queues (SQS journal, --persist)', () => {
  it('brings back queued and delayed messages with their bodies, attributes and message attributes', async () => {
    // Arrange
    const first = await startOn(await tempDir());
    const { MessageId: queuedId } = await first.client.send(
      new SendMessageCommand({
        QueueUrl: first.queueUrl,
        MessageBody: '{"order":"o-1"}',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'mail' } },
      }),
    );
    const { MessageId: delayedId } = await first.client.send(
      new SendMessageCommand({ QueueUrl: first.queueUrl, MessageBody: 'later', DelaySeconds: 1 }),
    );

    // Act
    const second = await startOn(await killedCopy(first));

    // Assert
    expect(second.engine.stats().find((q) => q.queueName === 'Work')).toMatchObject({
      visible: 1,
      delayed: 1,
      inFlight: 0,
    });
    const [queued] = await receive(second, second.queueUrl);
    expect(queued).toMatchObject({
      MessageId: queuedId,
      Body: '{"order":"o-1"}',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'mail' } },
      Attributes: { ApproximateReceiveCount: '1' },
    });
    await expect
      .poll(async () => (await receive(second, second.queueUrl)).map((m) => m.MessageId), {
        timeout: 4_000,
        interval: 200,
      })
      .toEqual([delayedId]);
  });

  it('keeps a message that was in flight invisible for the rest of its visibility timeout, then with its receive count', async () => {
    // Arrange
    const first = await startOn(await tempDir());
    await first.client.send(new SendMessageCommand({ QueueUrl: first.queueUrl, MessageBody: 'in flight' }));
    const [received] = await receive(first, first.queueUrl, 2);
    expect(received?.Attributes?.ApproximateReceiveCount).toBe('1');

    // Act
    const second = await startOn(await killedCopy(first));

    // Assert: its consumer died, but its claim may still be live: it comes back when the 2 s are over, not before.
    expect(await receive(second, second.queueUrl)).toEqual([]);
    expect(second.engine.stats().find((q) => q.queueName === 'Work')).toMatchObject({ inFlight: 1 });
    await expect
      .poll(async () => (await receive(second, second.queueUrl))[0], { timeout: 4_000, interval: 100 })
      .toMatchObject({ MessageId: received?.MessageId, Attributes: { ApproximateReceiveCount: '2' } });
  });

  it('keeps dead-lettered messages, and dead-letters one killed in flight on its last allowed receive', async () => {
    // Arrange: one message dead-letters before the kill (two receives whose visibility ends at once)...
    const first = await startOn(await tempDir());
    await first.client.send(new SendMessageCommand({ QueueUrl: first.queueUrl, MessageBody: 'poison' }));
    await receive(first, first.queueUrl, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await receive(first, first.queueUrl, 0);
    await expect
      .poll(async () => first.engine.stats().find((q) => q.queueName === 'Work-Dlq')?.visible)
      .toBe(1);
    // ...the other is in flight on its second (last) receive when the runtime dies.
    await first.client.send(new SendMessageCommand({ QueueUrl: first.queueUrl, MessageBody: 'last try' }));
    await receive(first, first.queueUrl, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [lastTry] = await receive(first, first.queueUrl, 1);
    expect(lastTry?.Attributes?.ApproximateReceiveCount).toBe('2');

    // Act: the runtime stays down past the end of its visibility timeout.
    const copy = await killedCopy(first);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await startOn(copy);

    // Assert
    expect(await receive(second, second.queueUrl)).toEqual([]);
    const deadLettered = await receive(second, second.dlqUrl);
    expect(deadLettered.map((m) => m.Body).sort()).toEqual(['last try', 'poison']);
    expect(deadLettered.find((m) => m.Body === 'last try')?.MessageId).toBe(lastTry?.MessageId);
    // And the move itself was journalled: a third start finds each message once, in the DLQ only.
    const third = await startOn(await killedCopy(second));
    expect(third.engine.stats().find((q) => q.queueName === 'Work')).toMatchObject({
      visible: 0,
      inFlight: 0,
    });
    // (In flight: the assertions above received them.)
    expect(third.engine.stats().find((q) => q.queueName === 'Work-Dlq')?.inFlight).toBe(2);
  });

  it('forgets deleted messages and keeps the receive count through a visibility change, as SQS does', async () => {
    // Arrange
    const first = await startOn(await tempDir());
    for (const body of ['done', 'kept']) {
      await first.client.send(new SendMessageCommand({ QueueUrl: first.queueUrl, MessageBody: body }));
    }
    const received = await receive(first, first.queueUrl, 300);
    const done = received.find((m) => m.Body === 'done');
    const kept = received.find((m) => m.Body === 'kept');
    await first.client.send(
      new DeleteMessageCommand({ QueueUrl: first.queueUrl, ReceiptHandle: done?.ReceiptHandle }),
    );
    await first.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: first.queueUrl,
        ReceiptHandle: kept?.ReceiptHandle,
        VisibilityTimeout: 300,
      }),
    );

    // Act
    const second = await startOn(await killedCopy(first));

    // Assert: 'done' is gone; 'kept' is in flight for the 300 s it was given, received once (a visibility change is not
    // a receive: sqs-receive-count.ts).
    expect(await receive(second, second.queueUrl)).toEqual([]);
    expect(second.engine.stats().find((q) => q.queueName === 'Work')).toMatchObject({
      visible: 0,
      inFlight: 1,
    });
    const journal = await readFile(path.join(await dirOf(second), JOURNAL_FILE), 'utf8');
    expect(journal).not.toContain('"MessageBody":"done"');
    expect(journal).toMatch(/"MessageBody":"kept".*"ApproximateReceiveCount":"1"/);
  });

  it('recovers from a torn last record: everything before it comes back, the torn write is dropped', async () => {
    // Arrange
    const first = await startOn(await tempDir());
    await first.client.send(new SendMessageCommand({ QueueUrl: first.queueUrl, MessageBody: 'whole' }));
    const copy = await killedCopy(first);
    const whole = encodeRecord({
      t: 'P',
      q: 'Work',
      m: { MessageId: 'torn', MessageBody: 'half', attributes: { SentTimestamp: String(Date.now()) } },
    });
    await appendFile(path.join(copy, JOURNAL_FILE), whole.slice(0, whole.length - 12));

    // Act
    const second = await startOn(copy);

    // Assert
    expect((await receive(second, second.queueUrl)).map((m) => m.Body)).toEqual(['whole']);
    expect(warnings.map((w) => w.message)).toContain('SQS journal: dropped a torn last write');
    // The load rewrote the journal from its snapshot: the torn bytes are gone for good.
    expect(await readFile(path.join(copy, JOURNAL_FILE), 'utf8')).not.toContain('half');
  });

  it('stops replaying at a record whose checksum does not match', () => {
    // Arrange
    const put = (id: string) =>
      encodeRecord({ t: 'P', q: 'Q', m: { MessageId: id, MessageBody: id, attributes: {} } });
    const corrupt = put('b').replace('"MessageBody":"b"', '"MessageBody":"x"');

    // Act
    const { queues, discardedBytes } = replayJournal(put('a') + corrupt + put('c'));

    // Assert
    expect([...(queues.get('Q')?.keys() ?? [])]).toEqual(['a']);
    expect(discardedBytes).toBe(Buffer.byteLength(corrupt + put('c')));
  });

  it('compacts the journal to the live messages once it has grown', async () => {
    // Arrange
    const dir = await tempDir();
    const first = await startOn(dir, { compactAfterBytes: 4_096 });
    for (let i = 0; i < 40; i++) {
      await first.client.send(new SendMessageCommand({ QueueUrl: first.queueUrl, MessageBody: `m-${i}` }));
      if (i === 39) break;
      const [message] = await receive(first, first.queueUrl);
      await first.client.send(
        new DeleteMessageCommand({ QueueUrl: first.queueUrl, ReceiptHandle: message?.ReceiptHandle }),
      );
    }
    await first.engine.written();

    // Act
    const second = await startOn(await killedCopy(first));

    // Assert: 40 sends, receives and deletes would take some 20 kB; the file holds little more than one message.
    expect((await stat(path.join(dir, JOURNAL_FILE))).size).toBeLessThan(4_096 + 2_048);
    expect((await receive(second, second.queueUrl)).map((m) => m.Body)).toEqual(['m-39']);
  });

  it('writes nothing to disk without --persist', async () => {
    // Arrange: a process whose working, home and temporary directories are one empty directory.
    const dir = await tempDir();
    const root = path.resolve(import.meta.dirname, '../../..');

    // Act
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
        path.join(import.meta.dirname, 'fixtures/sqs-without-persist.ts'),
      ],
      {
        cwd: dir,
        env: { ...process.env, HOME: dir, TMPDIR: dir, TMP: dir, TEMP: dir, TSX_DISABLE_CACHE: '1' },
        encoding: 'utf8',
      },
    );

    // Assert
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('1');
    expect(await readdir(dir)).toEqual([]);
  }, 40_000);
});
