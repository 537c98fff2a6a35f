/**
 * Helpers for the scenarios that inject faults through fault wrappers around the local engines. They need the runtime in this
 * process, so the scenarios using them are registered only when the target is local (see faults.test.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { byLogicalName, type SystemUnderTest, systemFromRuntime } from '#chaos/system.ts';
import { LOCAL_CREDENTIALS } from '#local/engines/dynamodb-local.ts';
import { LOCAL_QUEUES_TARGET, type QueueStats, type QueueStatsResponse } from '#local/engines/sqs-stats.ts';
import type { LocalQueue } from '#local/runtime.ts';
import type { TableAccess } from './table.ts';
import type { Target } from './target.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CDK_OUT = path.join(PROJECT_ROOT, 'cdk.out');

/** The local system around the target's runtime, with the clients and the topology the chaos tooling uses. */
export async function localSystem(target: Target): Promise<SystemUnderTest> {
  if (!target.runtime) throw new Error('fault scenarios need the local runtime (BUZZER_TARGET=local)');
  return systemFromRuntime(target.runtime, CDK_OUT, 'alice');
}

export function functionName(system: SystemUnderTest, logicalName: string): string {
  const name = byLogicalName(system.functions, logicalName);
  if (!name) throw new Error(`no function ${logicalName} in the template`);
  return name;
}

export function queueNamed(system: SystemUnderTest, logicalName: string): LocalQueue {
  const queue = byLogicalName(system.queues, logicalName);
  if (!queue) throw new Error(`no queue ${logicalName} in the template`);
  return queue;
}

/** Whether any of `needles` occurs anywhere in the JSON form of `value` (an event, a batch, a PutEvents entry). */
export function mentions(value: unknown, ...needles: string[]): boolean {
  const text = JSON.stringify(value) ?? '';
  return needles.some((needle) => needle.length > 0 && text.includes(needle));
}

export interface SyntheticOrder {
  orderId: string;
  customerId: string;
  email: string;
  amount: number;
}

/**
 * The SQS body an `OrderConfirmed` event has when EventBridge delivers it to a queue: what the notify and points
 * workers receive. Used to put a batch of known messages on a queue in one call.
 */
export function orderConfirmedBody(order: SyntheticOrder): { messageId: string; body: string } {
  const messageId = randomUUID();
  const now = new Date().toISOString();
  const body = {
    version: '0',
    id: randomUUID(),
    'detail-type': 'OrderConfirmed',
    source: 'buzzer.orders',
    account: '000000000000',
    time: now,
    region: 'us-east-1',
    resources: [],
    detail: {
      messageId,
      messageType: 'OrderConfirmed',
      orderId: order.orderId,
      clientId: 'alice',
      correlationId: randomUUID(),
      version: 4,
      occurredAt: now,
      payload: {
        orderId: order.orderId,
        status: 'CONFIRMED',
        customer: { id: order.customerId, email: order.email, name: 'Batch Test' },
        items: [{ sku: 'espresso', quantity: 1 }],
        currency: 'EUR',
        amount: order.amount,
        points: 2,
        paymentRef: `ch_${randomUUID().slice(0, 12)}`,
        createdAt: now,
      },
    },
  };
  return { messageId, body: JSON.stringify(body) };
}

export interface RuntimeProcess {
  info: {
    apiUrl: string;
    sandboxUrl: string;
    apiKeys: Record<string, string>;
    endpoints: { dynamodb: string; sqs: string; gateway: string };
    queues: Record<string, LocalQueue>;
    tableName: string;
  };
  child: ChildProcess;
  /** Settles with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string | null>;
  /** What the process printed (runtime and function log lines), its last `OUTPUT_KEPT` characters. */
  output(): string;
}

/** How much of a runtime process's output is kept for a failed test's message. */
const OUTPUT_KEPT = 4_000_000;

/**
 * The tail of each process's output, for the message of a test that failed: the runtime child's lines (its engines'
 * restores, the functions' logs) are the only trail of what happened inside it (CI prints only the test's message).
 */
export function outputTails(processes: readonly RuntimeProcess[], lines = 60): string {
  return processes
    .map((p, i) => {
      // The whole output too, for a run on this machine (the tail is what a CI log shows).
      const file = path.join(tmpdir(), `buzzer-runtime-${p.child.pid}.log`);
      writeFileSync(file, p.output());
      const tail = p.output().trimEnd().split('\n').slice(-lines).join('\n');
      return `--- runtime process ${i + 1} (pid ${p.child.pid}, all of it in ${file}), last ${lines} lines ---\n${tail}`;
    })
    .join('\n');
}

/**
 * Starts `test/e2e/runtime-child.ts` on `persistDir` and resolves once it printed its READY line. The functions' log
 * lines are on (`BUZZER_VERBOSE`) and kept with the runtime's own (`output()`), for a failed test to show.
 */
export function spawnRuntimeProcess(persistDir: string, timeoutMs = 120_000): Promise<RuntimeProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(PROJECT_ROOT, 'test/e2e/runtime-child.ts'), persistDir],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BUZZER_VERBOSE: '1' },
    },
  );
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT / 2);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the runtime process did not come up in ${timeoutMs} ms:\n${output.slice(-2000)}`));
    }, timeoutMs);
    const onData = () => {
      const ready = output.split('\n').find((line) => line.startsWith('READY '));
      if (!ready) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve({
        info: JSON.parse(ready.slice('READY '.length)) as RuntimeProcess['info'],
        child,
        exited,
        output: () => output,
      });
    };
    child.stdout?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the runtime process exited (${code}) before it was ready:\n${output.slice(-2000)}`));
    });
  });
}

/** A queue of a runtime process by its logical name (its URL carries that process's SQS port). */
export function runtimeQueue(runtime: RuntimeProcess, logicalName: string): LocalQueue {
  const queue = byLogicalName(runtime.info.queues, logicalName);
  if (!queue) throw new Error(`no queue ${logicalName} in the template`);
  return queue;
}

/** The runtime process's own figures per queue (`BuzzerLocalQueues.GetQueueStats` on its gateway). */
export async function queueStats(runtime: RuntimeProcess): Promise<QueueStats[]> {
  const response = await fetch(runtime.info.endpoints.gateway, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `${LOCAL_QUEUES_TARGET}.GetQueueStats`,
    },
    body: '{}',
  });
  return ((await response.json()) as QueueStatsResponse).queues;
}

/** Messages in `queue`: visible, in flight or delayed. */
export function waitingIn(stats: QueueStats[], queue: LocalQueue): number {
  const figures = stats.find((q) => q.queueName === queue.name);
  return figures ? figures.visible + figures.inFlight + figures.delayed : 0;
}

export function sqsClient(runtime: RuntimeProcess): SQSClient {
  return new SQSClient({
    endpoint: runtime.info.endpoints.sqs,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
}

/** The stack's table in the runtime process's DynamoDB Local (`close` destroys the client). */
export function tableOf(runtime: RuntimeProcess): TableAccess & { doc: DynamoDBDocumentClient } {
  const client = new DynamoDBClient({
    endpoint: runtime.info.endpoints.dynamodb,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const doc = DynamoDBDocumentClient.from(client);
  return { doc, tableName: runtime.info.tableName, close: () => client.destroy() };
}
