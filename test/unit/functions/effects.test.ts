import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { notifyCustomer } from '#functions/notifications/notify-customer.ts';
import { breakerKey, CircuitBreaker } from '#functions/resilience/circuit-breaker.ts';
import { documentClient } from '#shared/dynamodb.ts';
import {
  claimEffect,
  completeEffect,
  EFFECT_LEASE_MS,
  EFFECT_RETENTION_SECONDS,
  releaseEffect,
} from '#shared/effects.ts';
import { conditionFailed, NOW, orderEvent, sentInput, TABLE } from './helpers.ts';

/** The once-only guard of every side effect (mail, points): claim, do, mark done; or give the claim back. */

const ddb = mockClient(DynamoDBDocumentClient);
const deps = { doc: documentClient, tableName: TABLE };
const key = { pk: 'EFFECT#notify#evt-1', sk: 'EFFECT' };
const nowSeconds = Math.floor(NOW.getTime() / 1000);

beforeEach(() => {
  ddb.reset();
});

describe('claimEffect', () => {
  it('claims with a lease of EFFECT_LEASE_MS and a retention beyond SQS retention', async () => {
    ddb.on(PutCommand).resolves({});

    const claim = await claimEffect(deps, 'notify', 'evt-1', NOW);

    expect(claim).toEqual({ status: 'claimed', token: expect.any(String) });
    expect(ddb).toHaveReceivedNthCommandWith(PutCommand, 1, {
      ExpressionAttributeNames: { '#status': 'status' },
      Item: {
        ...key,
        entity: 'Effect',
        consumer: 'notify',
        eventId: 'evt-1',
        status: 'IN_PROGRESS',
        claimToken: claim.status === 'claimed' ? claim.token : undefined,
        at: NOW.toISOString(),
        leaseUntil: NOW.getTime() + 60_000,
        expiresAt: nowSeconds + EFFECT_RETENTION_SECONDS,
      },
    });
    expect(EFFECT_LEASE_MS).toBe(60_000);
    expect(EFFECT_RETENTION_SECONDS).toBeGreaterThan(14 * 24 * 60 * 60);
  });

  it('gives every claim its own token', async () => {
    ddb.on(PutCommand).resolves({});

    const first = await claimEffect(deps, 'notify', 'evt-1', NOW);
    const second = await claimEffect(deps, 'notify', 'evt-1', NOW);

    expect(first.status === 'claimed' && second.status === 'claimed' && first.token !== second.token).toBe(
      true,
    );
  });

  it('answers done when the effect already happened, reading the marker consistently', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { ...key, status: 'DONE' } });

    expect(await claimEffect(deps, 'notify', 'evt-1', NOW)).toEqual({ status: 'done' });
    expect(sentInput(ddb, GetCommand)).toEqual({
      TableName: TABLE,
      Key: key,
      ConsistentRead: true,
    });
  });

  it('claims again when the live claim it lost to was given back meanwhile', async () => {
    ddb.on(PutCommand).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(GetCommand).resolves({});

    const claim = await claimEffect(deps, 'notify', 'evt-1', NOW);

    expect(claim.status).toBe('claimed');
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 2);
  });

  it('throws EffectInProgress while another worker holds a live claim', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { ...key, status: 'IN_PROGRESS' } });

    await expect(claimEffect(deps, 'notify', 'evt-1', NOW)).rejects.toMatchObject({
      name: 'EffectInProgress',
      message: 'effect notify for event evt-1 is being performed by another worker',
    });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
  });

  it('stops after two attempts when claims keep appearing and vanishing', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({});

    await expect(claimEffect(deps, 'notify', 'evt-1', NOW)).rejects.toMatchObject({
      name: 'EffectInProgress',
    });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 2);
  });
});

describe('completeEffect', () => {
  it('marks the effect DONE for the retention period and drops the lease', async () => {
    ddb.on(UpdateCommand).resolves({});

    await completeEffect(deps, 'notify', 'evt-1', NOW);

    expect(sentInput(ddb, UpdateCommand)).toEqual({
      TableName: TABLE,
      Key: key,
      UpdateExpression:
        'SET #status = :done, #at = :now, expiresAt = :expiresAt REMOVE leaseUntil, claimToken',
      ExpressionAttributeNames: { '#status': 'status', '#at': 'at' },
      ExpressionAttributeValues: {
        ':done': 'DONE',
        ':now': NOW.toISOString(),
        ':expiresAt': nowSeconds + EFFECT_RETENTION_SECONDS,
      },
    });
  });
});

describe('releaseEffect', () => {
  it('deletes the claim only if it is still ours, and shrugs when it is not', async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());

    await expect(releaseEffect(deps, 'notify', 'evt-1', 'tok-1')).resolves.toBeUndefined();
    expect(sentInput(ddb, DeleteCommand)).toEqual({
      TableName: TABLE,
      Key: key,
      ConditionExpression: 'claimToken = :token',
      ExpressionAttributeValues: { ':token': 'tok-1' },
    });
  });
});

describe('notifyCustomer', () => {
  const event = orderEvent({ messageId: 'evt-1' }, { items: [{ sku: 'BEAN-1', quantity: 1 }], amount: 1299 });

  it('answers sent after one mail keyed by the event id, and duplicate for an event already mailed', async () => {
    const sent: string[] = [];
    const mailer = { send: async (_message: unknown, key: string) => void sent.push(key) };
    ddb.on(PutCommand).resolvesOnce({}).rejects(conditionFailed());
    ddb.on(UpdateCommand).resolves({});
    ddb.on(GetCommand).resolves({ Item: { ...key, status: 'DONE' } });
    ddb.on(GetCommand, { Key: breakerKey('mail') }).resolves({});
    const circuit = new CircuitBreaker(deps, 'mail', {
      failureThreshold: 5,
      openMs: 30_000,
      probeLeaseMs: 10_000,
    });

    expect(await notifyCustomer({ ...deps, mailer, circuit }, event, NOW)).toBe('sent');
    expect(await notifyCustomer({ ...deps, mailer, circuit }, event, NOW)).toBe('duplicate');
    expect(sent).toEqual(['evt-1']);
  });
});
