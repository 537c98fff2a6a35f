/**
 * The circuit breaker on DynamoDB Local: real conditional writes decide between callers that race, as the payment
 * steps of many executions (each in its own Lambda environment, with nothing shared in memory) race on AWS. Each
 * caller here is a breaker of its own over the same item, as each function instance builds its own.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { breakerKey, CircuitBreaker } from '#functions/resilience/circuit-breaker.ts';
import { HELD_COPY_ATTRIBUTE, holdOnQueue, LATE_COPY_GRACE_SECONDS, releaseHold } from '#shared/requeue.ts';
import { keys } from '#shared/table-keys.ts';
import { type LocalTable, startLocalTable } from '#test/unit/support/local-table.ts';

const TABLE = 'circuit';
const POLICY = { failureThreshold: 3, openMs: 2_000, probeLeaseMs: 5_000 };
const T0 = new Date('2026-12-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

let table: LocalTable;
let tokens = 0;
const instance = () =>
  new CircuitBreaker({ doc: table.doc, tableName: TABLE }, 'payment', POLICY, () => `probe-${++tokens}`);

beforeAll(async () => {
  table = await startLocalTable(TABLE);
}, 60_000);

afterAll(async () => {
  await table?.stop();
});

beforeEach(async () => {
  await table.doc.send(new DeleteCommand({ TableName: TABLE, Key: breakerKey('payment') }));
});

async function openCircuit(): Promise<void> {
  for (let i = 0; i < POLICY.failureThreshold; i++)
    await instance().failed(undefined, new Error('503'), at(0));
}

describe('the circuit breaker on DynamoDB Local', () => {
  it('opens after the threshold of failures in a row, and a success in between restarts the count', async () => {
    await instance().failed(undefined, new Error('503'), at(0));
    await instance().failed(undefined, new Error('503'), at(0));
    await instance().succeeded(await instance().admit(at(0)), at(0));
    await instance().failed(undefined, new Error('503'), at(0));
    expect((await instance().read()).state).toBe('CLOSED');

    await instance().failed(undefined, new Error('503'), at(0));
    expect(await instance().failed(undefined, new Error('503'), at(0))).toBe('OPEN');
    const open = await instance().read();
    expect(open).toMatchObject({ state: 'OPEN', openUntil: at(2_000).getTime(), since: at(0).toISOString() });
  });

  it('opens once when many callers fail at the same moment', async () => {
    const states = await Promise.all(
      Array.from({ length: 12 }, () => instance().failed(undefined, new Error('503'), at(0))),
    );

    const circuit = await instance().read();
    expect(circuit.state).toBe('OPEN');
    expect(circuit.failures).toBe(12);
    // Created at version 0 by the first count, opened exactly once (+1): no caller opened it a second time.
    expect(circuit.version).toBe(1);
    expect(states.filter((state) => state === 'OPEN').length).toBeGreaterThanOrEqual(1);
  });

  it('lets no call through while open, then exactly one of two racing callers probes', async () => {
    await openCircuit();
    expect(await instance().admit(at(1_999))).toMatchObject({ allowed: false });

    const [first, second] = await Promise.all([instance().admit(at(2_000)), instance().admit(at(2_000))]);

    const winners = [first, second].filter((admission) => admission?.allowed);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ probe: expect.stringMatching(/^probe-/) });
    expect([first, second].find((admission) => !admission?.allowed)).toMatchObject({ allowed: false });
  });

  it('gives one probe among many racing callers, and none to those who come while it runs', async () => {
    await openCircuit();

    const admissions = await Promise.all(Array.from({ length: 10 }, () => instance().admit(at(2_500))));
    const later = await instance().admit(at(3_000));

    expect(admissions.filter((admission) => admission.allowed)).toHaveLength(1);
    // Held until the running probe's lease ends, but looking again after an interval at the latest.
    expect(later).toMatchObject({ allowed: false, retryAt: at(3_000 + POLICY.openMs) });
  });

  it('closes with the probe that succeeds, and reopens for an interval with the probe that fails', async () => {
    await openCircuit();
    const failing = await instance().admit(at(2_000));
    expect(await instance().failed(failing, new Error('503'), at(2_100))).toBe('OPEN');
    expect(await instance().read()).toMatchObject({
      state: 'OPEN',
      openUntil: at(4_100).getTime(),
      since: at(0).toISOString(),
    });
    expect(await instance().admit(at(4_000))).toMatchObject({ allowed: false });

    const succeeding = await instance().admit(at(4_100));
    await instance().succeeded(succeeding, at(4_200));

    const closed = await instance().read();
    expect(closed).toMatchObject({ state: 'CLOSED', failures: 0 });
    expect(closed.since).toBeUndefined();
    expect(await instance().admit(at(4_300))).toMatchObject({ allowed: true });
  });

  it('stays open when a call let through before it opened answers with a success afterwards', async () => {
    await instance().failed(undefined, new Error('503'), at(0));
    const early = await instance().admit(at(0));
    await openCircuit();

    await instance().succeeded(early, at(1_000));

    expect(await instance().read()).toMatchObject({ state: 'OPEN', since: at(0).toISOString() });
    expect(await instance().admit(at(1_100))).toMatchObject({ allowed: false });
  });

  it('lets another caller probe once the first probe let its lease run out (it crashed)', async () => {
    await openCircuit();
    const crashed = await instance().admit(at(2_000));
    expect(crashed).toMatchObject({ allowed: true });

    expect(await instance().admit(at(2_000 + POLICY.probeLeaseMs - 1))).toMatchObject({ allowed: false });
    const next = await instance().admit(at(2_000 + POLICY.probeLeaseMs));
    expect(next).toMatchObject({ allowed: true });

    // The crashed probe's late answer no longer decides: its token lost the lease.
    await instance().failed(crashed, new Error('late 503'), at(8_000));
    expect((await instance().read()).state).toBe('HALF_OPEN');
  });
});

describe('held copies on DynamoDB Local: one waits per held thing, none is lost', () => {
  const sqs = mockClient(SQSClient);
  const ticket = keys.holdTicket('notify', 'evt-1');
  const GRACE_MS = LATE_COPY_GRACE_SECONDS * 1000;
  /** A delivery; `sentBy` names the delivery that put it back to wait, when it is a held copy. */
  const delivery = (messageId: string, sentBy?: string): SQSRecord =>
    ({
      messageId,
      body: '{"detail":{}}',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:notify',
      messageAttributes: sentBy
        ? {
            [HELD_COPY_ATTRIBUTE]: {
              stringValue: sentBy,
              dataType: 'String',
              stringListValues: [],
              binaryListValues: [],
            },
          }
        : {},
    }) as SQSRecord;
  // Built when used: the table is opened in beforeAll.
  const deps = () => ({
    doc: table.doc,
    tableName: TABLE,
    sqs: sqs as unknown as SQSClient,
    queueUrls: new Map([['arn:aws:sqs:us-east-1:000000000000:notify', Promise.resolve('http://q')]]),
  });
  const hold = (messageId: string, at: number, sentBy?: string) =>
    holdOnQueue(deps(), delivery(messageId, sentBy), ticket, 5, new Date(T0.getTime() + at));

  beforeEach(async () => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'copy' });
    await table.doc.send(new DeleteCommand({ TableName: TABLE, Key: ticket }));
  });

  it('sends one copy for two deliveries racing, and lets the first again (it failed before sending) resend it', async () => {
    const [first, second] = await Promise.all([hold('m-1', 0), hold('m-2', 0)]);

    expect([first, second].sort()).toEqual(['requeued', 'superseded']);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    const winner = first === 'requeued' ? 'm-1' : 'm-2';
    expect(await hold(winner, 1_000)).toBe('requeued');
  });

  it('lets the waiting copy wait again however late it comes back, and drops every other copy meanwhile', async () => {
    expect(await hold('m-1', 0)).toBe('requeued');
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: 'http://q',
      DelaySeconds: 5,
      MessageAttributes: { [HELD_COPY_ATTRIBUTE]: { DataType: 'String', StringValue: 'm-1' } },
    });
    // Due at 5 s, but the queue has a backlog: other copies arriving after that are still surplus.
    expect(await hold('m-2', 5_000)).toBe('superseded');
    expect(await hold('m-3', 60_000)).toBe('superseded');
    // The copy m-1 sent (c-1) comes back a minute late, and waits again; so does its own copy after it.
    expect(await hold('c-1', 65_000, 'm-1')).toBe('requeued');
    expect(await hold('c-2', 70_000, 'c-1')).toBe('requeued');
    // A copy of an earlier round (m-1 sent it again before it learnt it had sent one) is surplus now.
    expect(await hold('c-1b', 70_001, 'm-1')).toBe('superseded');
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 3);
  });

  it('lets another copy take the ticket once the waiting copy is the grace overdue (gone to a DLQ)', async () => {
    expect(await hold('m-1', 0)).toBe('requeued');

    expect(await hold('m-2', 5_000 + GRACE_MS - 1)).toBe('superseded');
    expect(await hold('m-2', 5_000 + GRACE_MS)).toBe('requeued');
  });

  it('frees the ticket when the waiting copy goes on to its work, and only then', async () => {
    expect(await hold('m-1', 0)).toBe('requeued');
    // Another copy going on leaves the ticket to the one it names.
    await releaseHold(deps(), delivery('c-x', 'm-other'), ticket);
    expect(await hold('m-2', 6_000)).toBe('superseded');

    await releaseHold(deps(), delivery('c-1', 'm-1'), ticket);

    // The work parked the thing again: its new message may wait.
    expect(await hold('p-1', 7_000)).toBe('requeued');
  });
});
