/**
 * The circuit breaker's decisions and the writes that carry them, against a mocked table: which condition each write
 * is made under is what keeps concurrent callers apart (test/unit/functions/circuit-breaker-races.test.ts runs them
 * against DynamoDB Local).
 */
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BreakerSnapshot,
  breakerKey,
  CircuitBreaker,
  nextLook,
  probeDue,
} from '#functions/resilience/circuit-breaker.ts';
import { captureStdout, type StdoutCapture } from '#test/unit/support/emf.ts';
import { conditionFailed, NOW, sentInput, sentInputs, TABLE } from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const key = breakerKey('payment');
const POLICY = { failureThreshold: 3, openMs: 30_000, probeLeaseMs: 10_000 };
const later = (ms: number) => new Date(NOW.getTime() + ms);

const breaker = () =>
  new CircuitBreaker(
    { doc: ddb as unknown as DynamoDBDocumentClient, tableName: TABLE },
    'payment',
    POLICY,
    () => 'token-1',
  );

function stored(snapshot: Partial<BreakerSnapshot> | undefined) {
  ddb.on(GetCommand, { Key: key }).resolves({
    Item: snapshot && { ...key, state: 'CLOSED', version: 1, failures: 0, ...snapshot },
  });
}

const writes = () => sentInputs(ddb, UpdateCommand);

let out: StdoutCapture;
beforeEach(() => {
  ddb.reset();
  out = captureStdout();
});
afterEach(() => {
  out.restore();
});

describe('admit', () => {
  it('lets every call through a closed circuit without writing, and a provider that never failed is closed', async () => {
    stored(undefined);
    expect(await breaker().admit(NOW)).toMatchObject({ allowed: true, snapshot: { state: 'CLOSED' } });
    stored({ failures: 2 });
    expect(await breaker().admit(NOW)).toMatchObject({ allowed: true });
    expect(writes()).toEqual([]);
    expect(sentInput(ddb, GetCommand)).toMatchObject({ Key: key, ConsistentRead: true });
  });

  it('holds a call while the circuit is open, until it may be probed, with the outage start', async () => {
    stored({ state: 'OPEN', openUntil: later(5_000).getTime(), since: '2026-05-01T11:59:00.000Z' });

    const admission = await breaker().admit(NOW);

    expect(admission).toMatchObject({
      allowed: false,
      retryAt: later(5_000),
      since: '2026-05-01T11:59:00.000Z',
    });
    expect(writes()).toEqual([]);
  });

  it('gives the probe of an open circuit past its interval to the caller whose claim on the version wins', async () => {
    stored({ state: 'OPEN', version: 7, openUntil: NOW.getTime() });

    const admission = await breaker().admit(NOW);

    expect(admission).toMatchObject({ allowed: true, probe: 'token-1' });
    expect(writes()).toEqual([
      expect.objectContaining({
        Key: key,
        ConditionExpression: 'version = :version',
        ExpressionAttributeValues: expect.objectContaining({
          ':version': 7,
          ':halfOpen': 'HALF_OPEN',
          ':token': 'token-1',
          ':lease': later(10_000).getTime(),
        }),
      }),
    ]);
  });

  it('holds the caller whose claim lost, for about one lease', async () => {
    stored({ state: 'OPEN', openUntil: NOW.getTime() - 1 });
    ddb.on(UpdateCommand).rejects(conditionFailed());

    expect(await breaker().admit(NOW)).toMatchObject({ allowed: false, retryAt: later(10_000) });
  });

  it('holds callers while a probe holds its lease, and lets the next one probe once the lease ran out', async () => {
    stored({ state: 'HALF_OPEN', probeToken: 'other', probeLeaseUntil: later(4_000).getTime() });
    expect(await breaker().admit(NOW)).toMatchObject({ allowed: false, retryAt: later(4_000) });
    expect(writes()).toEqual([]);

    ddb.on(UpdateCommand).resolves({});
    expect(await breaker().admit(later(4_000))).toMatchObject({ allowed: true, probe: 'token-1' });
  });
});

describe('failed', () => {
  it('counts a failure of a closed circuit and leaves it closed below the threshold', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { state: 'CLOSED', version: 1, failures: 2 } });

    expect(await breaker().failed(undefined, new Error('HTTP 503'), NOW)).toBe('CLOSED');
    expect(writes()).toHaveLength(1);
    expect(writes()[0]).toMatchObject({
      UpdateExpression: expect.stringContaining('ADD failures :one'),
      ExpressionAttributeValues: expect.objectContaining({ ':error': 'Error: HTTP 503' }),
      ReturnValues: 'ALL_NEW',
    });
    expect(out.metrics('CircuitOpened')).toEqual([]);
  });

  it('opens the circuit with the failure that reaches the threshold, once, under the version it counted', async () => {
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { state: 'CLOSED', version: 4, failures: 3 } })
      .resolves({});

    expect(await breaker().failed(undefined, new Error('timeout'), NOW)).toBe('OPEN');
    expect(writes()[1]).toMatchObject({
      ConditionExpression: 'version = :version AND #state = :closed',
      ExpressionAttributeValues: expect.objectContaining({
        ':version': 4,
        ':open': 'OPEN',
        ':until': later(30_000).getTime(),
      }),
    });
    expect(writes()[1]?.UpdateExpression).toContain('since = if_not_exists(since, :now)');
    expect(out.metrics('CircuitOpened')).toEqual([
      expect.objectContaining({ value: 1, dimensions: { service: 'buzzer', breaker: 'payment' } }),
    ]);
  });

  it('reports the state another caller left when its opening lost the race', async () => {
    stored({ state: 'OPEN', openUntil: later(30_000).getTime() });
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { state: 'CLOSED', version: 4, failures: 5 } })
      .rejects(conditionFailed());

    expect(await breaker().failed(undefined, new Error('timeout'), NOW)).toBe('OPEN');
    expect(out.metrics('CircuitOpened')).toEqual([]);
  });

  it('reports an open circuit as open without opening it again', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { state: 'OPEN', version: 4, failures: 9 } });

    expect(await breaker().failed(undefined, new Error('timeout'), NOW)).toBe('OPEN');
    expect(writes()).toHaveLength(1);
  });

  it('opens the circuit again for a whole interval when its probe fails, only while the probe holds the lease', async () => {
    ddb.on(UpdateCommand).resolves({});
    const admission = {
      allowed: true as const,
      probe: 'token-1',
      snapshot: { state: 'OPEN' as const, version: 2, failures: 3 },
    };

    expect(await breaker().failed(admission, new Error('HTTP 503'), NOW)).toBe('OPEN');
    expect(writes()).toEqual([
      expect.objectContaining({
        ConditionExpression: 'probeToken = :token',
        ExpressionAttributeValues: expect.objectContaining({
          ':token': 'token-1',
          ':open': 'OPEN',
          ':until': later(30_000).getTime(),
        }),
      }),
    ]);
    expect(out.metrics('CircuitOpened')).toHaveLength(1);
  });
});

describe('succeeded', () => {
  it('writes nothing for a healthy call through a clean circuit', async () => {
    await breaker().succeeded({ allowed: true, snapshot: { state: 'CLOSED', version: 1, failures: 0 } }, NOW);
    expect(writes()).toEqual([]);
  });

  it('resets a failing streak, and closes an open circuit, for any answer from the provider', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { state: 'OPEN' } });

    await breaker().succeeded(undefined, NOW);

    expect(writes()).toEqual([
      expect.objectContaining({
        ConditionExpression: 'attribute_exists(pk) AND (#state <> :closed OR failures > :zero)',
        ExpressionAttributeValues: expect.objectContaining({ ':closed': 'CLOSED', ':zero': 0 }),
      }),
    ]);
    expect(writes()[0]?.UpdateExpression).toContain('REMOVE since, openUntil, probeToken, probeLeaseUntil');
    expect(out.metrics('CircuitClosed')).toEqual([
      expect.objectContaining({ value: 1, dimensions: { service: 'buzzer', breaker: 'payment' } }),
    ]);
  });

  it('resets the streak for a call let through while closed, but never closes the circuit if it has opened since', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { state: 'CLOSED' } });

    await breaker().succeeded({ allowed: true, snapshot: { state: 'CLOSED', version: 3, failures: 2 } }, NOW);

    expect(writes()).toEqual([
      expect.objectContaining({
        ConditionExpression: 'attribute_exists(pk) AND #state = :closed AND failures > :zero',
      }),
    ]);
  });

  it('closes the circuit with its probe, under the probe token', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { state: 'HALF_OPEN' } });

    await breaker().succeeded(
      { allowed: true, probe: 'token-1', snapshot: { state: 'OPEN', version: 2, failures: 3 } },
      NOW,
    );

    expect(writes()).toEqual([expect.objectContaining({ ConditionExpression: 'probeToken = :token' })]);
    expect(out.metrics('CircuitClosed')).toHaveLength(1);
  });

  it('takes a condition that fails as "already closed", not as an error', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());

    await expect(breaker().succeeded(undefined, NOW)).resolves.toBeUndefined();
    expect(out.metrics('CircuitClosed')).toEqual([]);
  });
});

describe('probeDue and nextLook (the starter and the held steps read them)', () => {
  const snapshot = (s: Partial<BreakerSnapshot>): BreakerSnapshot => ({
    state: 'CLOSED',
    version: 1,
    failures: 0,
    ...s,
  });

  it('is due when closed, open past its interval, or probing past its lease', () => {
    expect(probeDue(snapshot({}), NOW)).toBe(true);
    expect(probeDue(snapshot({ state: 'OPEN', openUntil: later(1).getTime() }), NOW)).toBe(false);
    expect(probeDue(snapshot({ state: 'OPEN', openUntil: NOW.getTime() }), NOW)).toBe(true);
    expect(probeDue(snapshot({ state: 'HALF_OPEN', probeLeaseUntil: later(1).getTime() }), NOW)).toBe(false);
    expect(probeDue(snapshot({ state: 'HALF_OPEN', probeLeaseUntil: NOW.getTime() }), NOW)).toBe(true);
  });

  it('looks again when the interval ends, or when the probe lease ends or soon, whichever is first', () => {
    const look = (s: Partial<BreakerSnapshot>) => nextLook(snapshot(s), NOW, 5_000);
    expect(look({ state: 'OPEN', openUntil: later(7_000).getTime() })).toEqual(later(7_000));
    expect(look({ state: 'HALF_OPEN', probeLeaseUntil: later(3_000).getTime() })).toEqual(later(3_000));
    expect(look({ state: 'HALF_OPEN', probeLeaseUntil: later(60_000).getTime() })).toEqual(later(5_000));
    expect(look({ state: 'OPEN', openUntil: NOW.getTime() })).toEqual(later(5_000));
  });
});
