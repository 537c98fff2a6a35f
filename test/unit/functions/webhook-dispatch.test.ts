import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KMSClient } from '@aws-sdk/client-kms';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { KmsSecretBox } from '#functions/webhooks/secret-box.ts';
import { generateSecret } from '#functions/webhooks/signing.ts';
import { captureStdout } from '../support/emf.ts';
import {
  CLIENT_ID,
  conditionFailed,
  context,
  fakeKms,
  frozenClock,
  ids,
  NOW,
  ORDER_ID,
  sentInputs,
  sqsEvent,
  sqsRecord,
  TABLE,
  WEBHOOK_ENV,
} from './helpers.ts';

vi.hoisted(() => {
  process.env.DELIVERY_DLQ_URL = 'http://sqs.local/000000000000/deliveries-dlq';
  // Three attempts: now, 30 s, 300 s (up to 20 % longer by jitter, never shorter).
  process.env.WEBHOOK_RETRY_SCHEDULE_SECONDS = '0,30,300';
  process.env.WEBHOOK_TIMEOUT_MS = '400';
  // The receivers of these tests listen on 127.0.0.1.
  process.env.WEBHOOK_ALLOW_LOOPBACK_HTTP = 'true';
});

Object.assign(process.env, WEBHOOK_ENV);
const { handler } = await import('#functions/webhooks/dispatch-webhook.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const kms = mockClient(KMSClient);
fakeKms(kms);

const WEBHOOK_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const DELIVERY_ID = `msg_a3bb189e-8bf9-4888-9912-ace4e6543002_${WEBHOOK_ID}`;
const BODY = JSON.stringify({
  type: 'OrderConfirmed',
  timestamp: NOW.toISOString(),
  data: { orderId: ORDER_ID },
});

interface Hit {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

type Behaviour = (res: ServerResponse) => void;

/** A real HTTP receiver on 127.0.0.1 whose answer each test chooses. */
async function startReceiver() {
  const hits: Hit[] = [];
  let behaviour: Behaviour = (res) => res.writeHead(200).end('ok');
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    hits.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() });
    behaviour(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    hits,
    answer(next: Behaviour) {
      behaviour = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const receiver = await startReceiver();
const other = await startReceiver();
const SECRET = generateSecret();
const OLD_SECRET = generateSecret();
const box = new KmsSecretBox(new KMSClient({}), 'key', { cacheTtlMs: 0 });
const OWNER = { clientId: CLIENT_ID, webhookId: WEBHOOK_ID };
const SEALED = await box.seal(SECRET, OWNER);
const SEALED_OLD = await box.seal(OLD_SECRET, OWNER);

let record: Record<string, unknown>;
let endpoint: Record<string, unknown> | undefined;
let failingSince: string | undefined;
/** Failed attempts in a row before this one (the endpoint's streak as the ADD finds it). */
let failuresBefore = 0;
/** Slow answers in a row before this attempt (what the update of a slow answer returns, plus one). */
let slowBefore = 0;
/** Whether another worker already took the probe of a half-open circuit. */
let probeTaken = false;

function deliveryRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deliveryId: DELIVERY_ID,
    webhookId: WEBHOOK_ID,
    clientId: CLIENT_ID,
    eventId: 'a3bb189e-8bf9-4888-9912-ace4e6543002',
    eventType: 'OrderConfirmed',
    orderId: ORDER_ID,
    correlationId: 'corr-1',
    body: BODY,
    status: 'PENDING',
    attempt: 1,
    token: 'token-1',
    nextAttemptAt: NOW.toISOString(),
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    ...overrides,
  };
}

function endpointItem(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pk: `CLIENT#${CLIENT_ID}`,
    sk: `WEBHOOK#${WEBHOOK_ID}`,
    webhookId: WEBHOOK_ID,
    clientId: CLIENT_ID,
    url: receiver.url,
    events: ['OrderConfirmed'],
    sealedSecrets: [SEALED],
    status: 'ENABLED',
    createdAt: '2026-04-01T00:00:00.000Z',
    ...overrides,
  };
}

function message(overrides: Record<string, unknown> = {}) {
  return {
    kind: 'attempt',
    deliveryId: DELIVERY_ID,
    webhookId: WEBHOOK_ID,
    clientId: CLIENT_ID,
    attempt: 1,
    token: 'token-1',
    notBefore: NOW.toISOString(),
    correlationId: 'corr-1',
    ...overrides,
  };
}

const run = (body: Record<string, unknown> = message(), receiveCount = 1, id = 'm1') => {
  const record = sqsRecord(JSON.stringify(body), id);
  record.attributes.ApproximateReceiveCount = String(receiveCount);
  return handler(sqsEvent(record), context);
};

// A dispatch writes the claim, the attempt, the delivery and the endpoint's health in an order that is not the
// point of most tests: they find the write by what it does, and ask for the first one that does it.
const updateMatching = (fragment: string) =>
  sentInputs(ddb, UpdateCommand).filter((u) => u.UpdateExpression?.includes(fragment));
const deliveryUpdate = () =>
  sentInputs(ddb, UpdateCommand).find(
    (u) => u.Key?.sk === `DELIVERY#${DELIVERY_ID}` && !u.UpdateExpression?.startsWith('SET leaseUntil'),
  );
const attemptLog = () =>
  sentInputs(ddb, PutCommand)
    .map((input) => input.Item ?? {})
    .filter((item) => String(item.sk).startsWith('ATTEMPT#'));
const sent = () =>
  sentInputs(sqs, SendMessageCommand).map((input) => ({
    queueUrl: input.QueueUrl,
    delaySeconds: input.DelaySeconds,
    body: JSON.parse(input.MessageBody ?? '{}') as Record<string, unknown>,
  }));

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  receiver.hits.length = 0;
  other.hits.length = 0;
  receiver.answer((res) => res.writeHead(200).end('ok'));
  record = deliveryRecord();
  endpoint = endpointItem();
  failingSince = undefined;
  failuresBefore = 0;
  slowBefore = 0;
  probeTaken = false;
  ddb.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
    const expression = input.UpdateExpression ?? '';
    if (expression.startsWith('SET circuitOpenUntil = :probeUntil') && probeTaken) throw conditionFailed();
    if (expression.startsWith('SET leaseUntil'))
      return { Attributes: { ...record, leaseUntil: NOW.getTime() + 60_000 } };
    if (expression.startsWith('SET failingSince')) {
      return {
        Attributes: {
          failingSince: failingSince ?? input.ExpressionAttributeValues?.[':now'],
          consecutiveFailures: failuresBefore + 1,
        },
      };
    }
    if (expression.startsWith('SET slowSince')) {
      return {
        Attributes: { slowSince: input.ExpressionAttributeValues?.[':now'], slowAnswers: slowBefore + 1 },
      };
    }
    if (expression.includes('attempt = :one')) {
      return {
        Attributes: {
          ...record,
          status: 'PENDING',
          attempt: 1,
          token: input.ExpressionAttributeValues?.[':token'],
        },
      };
    }
    return {};
  });
  ddb
    .on(GetCommand)
    .callsFake((input: { Key: { sk: string } }) =>
      input.Key.sk.startsWith('WEBHOOK#') ? { Item: endpoint } : { Item: record },
    );
  ddb.on(PutCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({});
});

frozenClock();

afterAll(async () => {
  await receiver.close();
  await other.close();
});

describe('webhook dispatcher: a delivered attempt', () => {
  it('signs to Standard Webhooks, sends the stored body, logs the attempt and marks the delivery DELIVERED', async () => {
    const result = await run();

    expect(result).toEqual({ batchItemFailures: [] });
    expect(receiver.hits).toHaveLength(1);
    const [hit] = receiver.hits;
    expect(hit?.body).toBe(BODY);
    expect(hit?.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Buzzer-Webhooks/1.0',
      'webhook-id': DELIVERY_ID,
      'webhook-timestamp': String(Math.floor(NOW.getTime() / 1000)),
    });
    // Verified with the published library (its ±5 min tolerance is checked against the faked clock).
    expect(new Webhook(SECRET).verify(hit?.body ?? '', hit?.headers as Record<string, string>)).toMatchObject(
      {
        type: 'OrderConfirmed',
      },
    );

    // The claim: only the message holding the token, only without a live lease.
    expect(ddb).toHaveReceivedNthCommandWith(UpdateCommand, 1, {
      TableName: TABLE,
      Key: { pk: `WEBHOOK#${WEBHOOK_ID}`, sk: `DELIVERY#${DELIVERY_ID}` },
      ConditionExpression:
        '#status = :pending AND #token = :token AND (attribute_not_exists(leaseUntil) OR leaseUntil < :nowMs)',
      ExpressionAttributeValues: expect.objectContaining({ ':token': 'token-1', ':nowMs': NOW.getTime() }),
    });
    expect(attemptLog()).toEqual([
      expect.objectContaining({
        pk: `WEBHOOK#${WEBHOOK_ID}`,
        sk: `ATTEMPT#${NOW.toISOString()}#${DELIVERY_ID}#1`,
        entity: 'WebhookAttempt',
        deliveryId: DELIVERY_ID,
        attempt: 1,
        statusCode: 200,
        outcome: 'succeeded',
        durationMs: expect.any(Number),
      }),
    ]);
    expect(deliveryUpdate()).toMatchObject({
      ConditionExpression: '#token = :token',
      ExpressionAttributeValues: expect.objectContaining({ ':status': 'DELIVERED', ':token': 'token-1' }),
    });
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('signs with the previous secret too while its grace period runs', async () => {
    endpoint = endpointItem({
      sealedSecrets: [SEALED, SEALED_OLD],
      previousSecretExpiresAt: new Date(NOW.getTime() + 3600_000).toISOString(),
    });

    await run();

    const [hit] = receiver.hits;
    expect(String(hit?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [SECRET, OLD_SECRET]) {
      expect(() =>
        new Webhook(secret).verify(hit?.body ?? '', hit?.headers as Record<string, string>),
      ).not.toThrow();
    }
  });

  it('stops signing with the previous secret once its grace period is over', async () => {
    endpoint = endpointItem({
      sealedSecrets: [SEALED, SEALED_OLD],
      previousSecretExpiresAt: new Date(NOW.getTime() - 1).toISOString(),
    });

    await run();

    expect(String(receiver.hits[0]?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() =>
      new Webhook(OLD_SECRET).verify(
        receiver.hits[0]?.body ?? '',
        receiver.hits[0]?.headers as Record<string, string>,
      ),
    ).toThrow();
  });

  it('signs with the plaintext secret of an endpoint from before sealing, and seals it (migrate on read)', async () => {
    endpoint = endpointItem({ sealedSecrets: undefined, secrets: [SECRET] });

    await run();

    const [hit] = receiver.hits;
    expect(() =>
      new Webhook(SECRET).verify(hit?.body ?? '', hit?.headers as Record<string, string>),
    ).not.toThrow();
    const [migration] = updateMatching('SET sealedSecrets = :sealed REMOVE secrets');
    expect(migration).toMatchObject({
      Key: { pk: `CLIENT#${CLIENT_ID}`, sk: `WEBHOOK#${WEBHOOK_ID}` },
      ConditionExpression: 'attribute_not_exists(sealedSecrets) AND secrets = :plaintext',
    });
    const sealed = migration?.ExpressionAttributeValues?.[':sealed'];
    expect(JSON.stringify(sealed)).not.toContain('whsec_');
    expect(await Promise.all(sealed.map((s: never) => box.open(s, OWNER)))).toEqual([SECRET]);
  });

  it('does not send when a sealed secret does not open for this endpoint (copied from another one)', async () => {
    const foreign = await box.seal(SECRET, { clientId: 'client-b', webhookId: WEBHOOK_ID });
    endpoint = endpointItem({ sealedSecrets: [foreign] });

    const result = await run();

    expect(result.batchItemFailures).toHaveLength(1);
    expect(receiver.hits).toHaveLength(0);
  });

  it('ends a failing streak on success', async () => {
    endpoint = endpointItem({ failingSince: '2026-04-30T00:00:00.000Z' });

    await run();

    expect(updateMatching('REMOVE failingSince')[0]).toMatchObject({
      Key: { pk: `CLIENT#${CLIENT_ID}`, sk: `WEBHOOK#${WEBHOOK_ID}` },
      UpdateExpression: 'REMOVE failingSince, consecutiveFailures, circuitOpenUntil, slowSince, slowAnswers',
    });
  });
});

describe('webhook dispatcher: the circuit breaker', () => {
  const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

  it('stays closed below five failures in a row', async () => {
    receiver.answer((res) => res.writeHead(500).end());
    failuresBefore = 3;

    await run();

    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringContaining('circuitOpenUntil'),
    });
  });

  it('opens for the base cooldown at the fifth failure in a row, and only ever later', async () => {
    receiver.answer((res) => res.writeHead(500).end());
    failuresBefore = 4;

    await run();

    expect(updateMatching('SET circuitOpenUntil = :until')[0]).toMatchObject({
      Key: { pk: `CLIENT#${CLIENT_ID}`, sk: `WEBHOOK#${WEBHOOK_ID}` },
      ConditionExpression:
        'attribute_exists(pk) AND (attribute_not_exists(circuitOpenUntil) OR circuitOpenUntil < :until)',
      ExpressionAttributeValues: { ':until': at(30_000) },
    });
    // The attempt itself is retried on its own schedule as before.
    expect(sent()[0]?.body).toMatchObject({ attempt: 2 });
  });

  it('holds a delivery while open: nothing sent, nothing logged, the same attempt later under a new token', async () => {
    endpoint = endpointItem({ failingSince: at(-60_000), circuitOpenUntil: at(60_000) });
    record = deliveryRecord({ lastStatusCode: 500, lastError: 'HTTP 500' });

    await run();

    expect(receiver.hits).toHaveLength(0);
    expect(ddb).not.toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ sk: expect.stringMatching(/^ATTEMPT#/) }),
    });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringContaining('failingSince'),
    });
    const schedule = updateMatching('attempt = :attempt')[0];
    expect(schedule?.ConditionExpression).toBe('#token = :expected');
    expect(schedule?.ExpressionAttributeValues).toMatchObject({
      ':attempt': 1,
      ':expected': 'token-1',
      ':lastStatusCode': 500,
      ':lastError': 'HTTP 500',
    });
    const notBefore = Date.parse(String(schedule?.ExpressionAttributeValues?.[':next']));
    // After the circuit's cooldown, spread over up to one base cooldown (30 s).
    expect(notBefore).toBeGreaterThanOrEqual(NOW.getTime() + 60_000);
    expect(notBefore).toBeLessThan(NOW.getTime() + 90_000);
    expect(sent()[0]?.body).toMatchObject({
      kind: 'attempt',
      attempt: 1,
      notBefore: new Date(notBefore).toISOString(),
    });
  });

  it('lets one probe through when the cooldown is over; its success closes the circuit', async () => {
    endpoint = endpointItem({ failingSince: at(-60_000), consecutiveFailures: 7, circuitOpenUntil: at(-1) });

    await run();

    expect(updateMatching('SET circuitOpenUntil = :probeUntil')[0]).toMatchObject({
      ConditionExpression: 'circuitOpenUntil = :seen',
      // The probe's request timeout (400 ms here) plus a margin.
      ExpressionAttributeValues: { ':seen': at(-1), ':probeUntil': at(5_400) },
    });
    expect(receiver.hits).toHaveLength(1);
    expect(
      updateMatching('REMOVE failingSince, consecutiveFailures, circuitOpenUntil, slowSince, slowAnswers'),
    ).toHaveLength(1);
  });

  it('holds the others while another worker probes', async () => {
    endpoint = endpointItem({ failingSince: at(-60_000), circuitOpenUntil: at(-1) });
    probeTaken = true;

    await run();

    expect(receiver.hits).toHaveLength(0);
    const notBefore = Date.parse(
      String(updateMatching('attempt = :attempt')[0]?.ExpressionAttributeValues?.[':next']),
    );
    expect(notBefore).toBeGreaterThanOrEqual(NOW.getTime() + 5_400);
  });

  it('opens for longer when the probe fails: half the outage so far', async () => {
    receiver.answer((res) => res.writeHead(503).end());
    failingSince = at(-20 * 60_000);
    failuresBefore = 9;
    endpoint = endpointItem({ failingSince, consecutiveFailures: 9, circuitOpenUntil: at(-1) });

    await run();

    expect(receiver.hits).toHaveLength(1);
    expect(updateMatching('SET circuitOpenUntil = :until')[0]?.ExpressionAttributeValues).toEqual({
      ':until': at(10 * 60_000),
    });
  });
});

describe('webhook dispatcher: slow endpoints', () => {
  const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
  // Over half the 400 ms request timeout of these tests.
  const answerSlowly = () => receiver.answer((res) => setTimeout(() => res.writeHead(200).end('ok'), 260));

  it('counts a slow 2xx as delivered and as a slow answer, which ends a failing streak', async () => {
    answerSlowly();
    endpoint = endpointItem({ failingSince: at(-60_000), consecutiveFailures: 2 });

    const result = await run();

    expect(result).toEqual({ batchItemFailures: [] });
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({ ':status': 'DELIVERED' });
    expect(updateMatching('SET slowSince')[0]).toMatchObject({
      Key: { pk: `CLIENT#${CLIENT_ID}`, sk: `WEBHOOK#${WEBHOOK_ID}` },
      UpdateExpression:
        'SET slowSince = if_not_exists(slowSince, :now) ADD slowAnswers :one ' +
        'REMOVE failingSince, consecutiveFailures, circuitOpenUntil',
    });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringContaining('SET circuitOpenUntil = :until'),
    });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringContaining('SET failingSince'),
    });
  });

  it('opens the circuit at the fifth slow answer in a row, so a slow endpoint cannot hold every slot', async () => {
    answerSlowly();
    slowBefore = 4;

    await run();

    expect(updateMatching('SET circuitOpenUntil = :until')[0]?.ExpressionAttributeValues).toEqual({
      ':until': at(30_000),
    });
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({ ':status': 'DELIVERED' });
  });

  it('ends the slow streak at the first fast answer', async () => {
    endpoint = endpointItem({ slowSince: at(-60_000), slowAnswers: 3 });

    await run();

    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringContaining('SET slowSince'),
    });
    expect(updateMatching('REMOVE failingSince')[0]?.UpdateExpression).toBe(
      'REMOVE failingSince, consecutiveFailures, circuitOpenUntil, slowSince, slowAnswers',
    );
  });
});

describe('webhook dispatcher: failed attempts', () => {
  it('schedules the next attempt per the schedule under a new token and re-enqueues it', async () => {
    receiver.answer((res) => res.writeHead(500).end('boom'));

    const result = await run();

    expect(result).toEqual({ batchItemFailures: [] });
    const schedule = updateMatching('attempt = :attempt')[0];
    const values = schedule?.ExpressionAttributeValues ?? {};
    expect(schedule?.ConditionExpression).toBe('#token = :expected');
    expect(values).toMatchObject({
      ':attempt': 2,
      ':expected': 'token-1',
      ':previousToken': 'token-1',
      ':lastStatusCode': 500,
      ':lastError': 'HTTP 500: boom',
    });
    expect(values[':token']).not.toBe('token-1');
    const delayMs = Date.parse(String(values[':next'])) - NOW.getTime();
    expect(delayMs).toBeGreaterThanOrEqual(30_000);
    expect(delayMs).toBeLessThanOrEqual(36_000);

    const [next] = sent();
    expect(next?.queueUrl).toBe(process.env.DELIVERY_QUEUE_URL);
    expect(next?.delaySeconds).toBe(Math.ceil(delayMs / 1000));
    expect(next?.body).toMatchObject({
      kind: 'attempt',
      attempt: 2,
      token: values[':token'],
      notBefore: values[':next'],
    });
    expect(attemptLog()[0]).toMatchObject({
      outcome: 'failed',
      statusCode: 500,
      nextAttemptAt: values[':next'],
    });
    expect(updateMatching('failingSince = if_not_exists')).toHaveLength(1);
  });

  it('honours Retry-After on a retried answer (here a 503) when it asks for longer than the schedule', async () => {
    receiver.answer((res) => res.writeHead(503, { 'retry-after': '120' }).end());

    await run();

    const next = updateMatching('attempt = :attempt')[0]?.ExpressionAttributeValues?.[':next'];
    expect(Date.parse(String(next)) - NOW.getTime()).toBe(120_000);
  });

  it('gives up after the last attempt: parks a replayable copy in the DLQ and marks the delivery FAILED', async () => {
    receiver.answer((res) => res.writeHead(502).end());
    record = deliveryRecord({ attempt: 3, token: 'token-3' });

    await run(message({ attempt: 3, token: 'token-3' }));

    expect(sent()).toEqual([
      {
        queueUrl: process.env.DELIVERY_DLQ_URL,
        delaySeconds: undefined,
        body: expect.objectContaining({
          kind: 'replay',
          token: 'token-3',
          reason: 'http_502 after 3 attempts',
        }),
      },
    ]);
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({
      ':status': 'FAILED',
      ':lastStatusCode': 502,
    });
  });

  it('disables the endpoint on 410 Gone without retrying', async () => {
    receiver.answer((res) => res.writeHead(410).end());

    await run();

    expect(updateMatching('disabledReason = :reason')[0]).toMatchObject({
      Key: { pk: `CLIENT#${CLIENT_ID}`, sk: `WEBHOOK#${WEBHOOK_ID}` },
      ConditionExpression: '#status = :enabled',
      ExpressionAttributeValues: expect.objectContaining({ ':disabled': 'DISABLED', ':reason': 'http_410' }),
    });
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({ ':status': 'FAILED' });
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('disables an endpoint that has been failing for five days instead of retrying again', async () => {
    receiver.answer((res) => res.writeHead(500).end());
    failingSince = new Date(NOW.getTime() - 5 * 24 * 3600_000).toISOString();

    await run();

    expect(updateMatching('disabledReason = :reason')[0]?.ExpressionAttributeValues).toMatchObject({
      ':reason': `failing_since:${failingSince}`,
    });
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({ ':status': 'FAILED' });
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('parks the last attempt and also disables an endpoint failing for five days', async () => {
    receiver.answer((res) => res.writeHead(500).end());
    record = deliveryRecord({ attempt: 3, token: 'token-3' });
    failingSince = new Date(NOW.getTime() - 6 * 24 * 3600_000).toISOString();

    await run(message({ attempt: 3, token: 'token-3' }));

    expect(sent().map((m) => m.queueUrl)).toEqual([process.env.DELIVERY_DLQ_URL]);
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({ ':status': 'FAILED' });
    expect(updateMatching('disabledReason = :reason')[0]?.ExpressionAttributeValues).toMatchObject({
      ':reason': `failing_since:${failingSince}`,
    });
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    receiver.answer(() => {});

    const started = performance.now();
    await run();

    expect(performance.now() - started).toBeLessThan(2_000);
    expect(attemptLog()[0]).toMatchObject({ outcome: 'failed', error: 'no answer within 400 ms' });
    expect(attemptLog()[0]?.statusCode).toBeUndefined();
    expect(sent()[0]?.body).toMatchObject({ attempt: 2 });
  });

  it('does not follow redirects (a public URL could redirect inside the network)', async () => {
    receiver.answer((res) => res.writeHead(302, { location: other.url }).end());

    await run();

    expect(other.hits).toHaveLength(0);
    expect(attemptLog()[0]).toMatchObject({ outcome: 'failed', statusCode: 302 });
  });

  it('records a network error and retries', async () => {
    endpoint = endpointItem({ url: 'http://127.0.0.1:1/hooks' });

    await run();

    expect(attemptLog()[0]).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(sent()[0]?.body).toMatchObject({ attempt: 2 });
  });

  it('re-checks the URL before every attempt and never connects to a private address', async () => {
    endpoint = endpointItem({ url: 'http://10.0.0.5/hooks' });

    await run();

    expect(attemptLog()[0]).toMatchObject({
      outcome: 'failed',
      durationMs: 0,
      error: expect.stringMatching(/^not sent: .*10\.0\.0\.5/),
    });
    expect(sent()[0]?.body).toMatchObject({ attempt: 2 });
  });
});

describe('webhook dispatcher: isolation', () => {
  it('lets a fast endpoint be delivered while a slow one in the same batch waits for its timeout', async () => {
    const slow = await startReceiver();
    slow.answer(() => {});
    const SLOW_ID = '11111111-1111-4111-8111-111111111111';
    const slowSecret = await box.seal(SECRET, { clientId: CLIENT_ID, webhookId: SLOW_ID });
    ddb.on(GetCommand).callsFake((input: { Key: { sk: string } }) =>
      input.Key.sk === `WEBHOOK#${SLOW_ID}`
        ? {
            Item: endpointItem({
              webhookId: SLOW_ID,
              sk: `WEBHOOK#${SLOW_ID}`,
              url: slow.url,
              sealedSecrets: [slowSecret],
            }),
          }
        : { Item: endpoint },
    );
    ddb.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
      if (!input.UpdateExpression?.startsWith('SET leaseUntil')) return {};
      const slowOne = input.Key?.pk === `WEBHOOK#${SLOW_ID}`;
      return {
        Attributes: slowOne ? deliveryRecord({ webhookId: SLOW_ID, deliveryId: 'msg_slow' }) : record,
      };
    });
    const started = performance.now();

    const result = await handler(
      sqsEvent(
        sqsRecord(JSON.stringify(message({ webhookId: SLOW_ID, deliveryId: 'msg_slow' })), 'slow'),
        sqsRecord(JSON.stringify(message()), 'fast'),
      ),
      context,
    );

    expect(result).toEqual({ batchItemFailures: [] });
    expect((receiver.hits[0]?.at ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(300);
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    await slow.close();
  });
});

describe('webhook dispatcher: messages that must not attempt', () => {
  it('sends a message that is not due yet on another hop of at most 15 minutes, touching nothing', async () => {
    const notBefore = new Date(NOW.getTime() + 2 * 3600_000).toISOString();

    await run(message({ notBefore, attempt: 2 }));

    expect(ddb).not.toHaveReceivedAnyCommand();
    expect(receiver.hits).toHaveLength(0);
    expect(sent()).toEqual([
      {
        queueUrl: process.env.DELIVERY_QUEUE_URL,
        delaySeconds: 900,
        body: message({ notBefore, attempt: 2 }),
      },
    ]);
  });

  it('drops a duplicate or superseded message', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    record = deliveryRecord({ status: 'DELIVERED' });

    const result = await run();

    expect(result).toEqual({ batchItemFailures: [] });
    expect(receiver.hits).toHaveLength(0);
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('leaves the message for later while another worker holds the lease on the same attempt', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    record = deliveryRecord({ leaseUntil: NOW.getTime() + 30_000 });

    const result = await run(message(), 1, 'busy');

    expect(ids(result.batchItemFailures)).toEqual(['busy']);
    expect(receiver.hits).toHaveLength(0);
  });

  it('sends the scheduled attempt again when the message that scheduled it comes back (a crash before sending)', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    const notBefore = new Date(NOW.getTime() + 30_000).toISOString();
    record = deliveryRecord({
      attempt: 2,
      token: 'token-2',
      previousToken: 'token-1',
      nextAttemptAt: notBefore,
    });

    await run(message(), 2);

    expect(receiver.hits).toHaveLength(0);
    expect(sent()).toEqual([
      {
        queueUrl: process.env.DELIVERY_QUEUE_URL,
        delaySeconds: 30,
        body: expect.objectContaining({ attempt: 2, token: 'token-2', notBefore }),
      },
    ]);
  });

  it('ignores a first-receive duplicate of a message that already scheduled the next attempt', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    record = deliveryRecord({ attempt: 2, token: 'token-2', previousToken: 'token-1' });

    await run(message(), 1);

    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('marks the delivery FAILED without calling a disabled endpoint (enabling replays it)', async () => {
    endpoint = endpointItem({ status: 'DISABLED', disabledReason: 'http_410' });

    await run();

    expect(receiver.hits).toHaveLength(0);
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({
      ':status': 'FAILED',
      ':lastError': 'endpoint disabled (http_410)',
    });
  });

  it('cancels the delivery of a deleted endpoint', async () => {
    endpoint = undefined;

    await run();

    expect(receiver.hits).toHaveLength(0);
    expect(deliveryUpdate()?.ExpressionAttributeValues).toMatchObject({ ':status': 'CANCELLED' });
  });

  it('reopens a parked delivery redriven from the DLQ and starts a fresh round at attempt 1', async () => {
    record = deliveryRecord({ status: 'FAILED', attempt: 3, token: 'token-3' });

    await run(message({ kind: 'replay', attempt: 3, token: 'token-3', reason: 'http_502 after 3 attempts' }));

    const reopen = updateMatching('attempt = :one')[0];
    expect(reopen?.ConditionExpression).toBe('#status = :failed AND #token = :old');
    expect(reopen?.ExpressionAttributeValues).toMatchObject({ ':old': 'token-3', ':one': 1 });
    expect(sent()[0]?.body).toMatchObject({
      kind: 'attempt',
      attempt: 1,
      token: reopen?.ExpressionAttributeValues?.[':token'],
    });
    expect(receiver.hits).toHaveLength(0);
  });

  it('fails a message that is not a delivery message (it ends in the DLQ)', async () => {
    const result = await run({ hello: 'world' }, 1, 'bad');

    expect(ids(result.batchItemFailures)).toEqual(['bad']);
    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});

describe('webhook dispatcher: the WebhookDeliveries metric', () => {
  it('counts each handled message once by its own outcome, two outcomes in one batch kept apart', async () => {
    const out = captureStdout();
    try {
      const notBefore = new Date(NOW.getTime() + 2 * 3600_000).toISOString();

      const result = await handler(
        sqsEvent(
          sqsRecord(JSON.stringify(message()), 'due'),
          sqsRecord(JSON.stringify(message({ notBefore, attempt: 2 })), 'early'),
          sqsRecord('not json', 'broken'),
        ),
        context,
      );

      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'broken' }] });
      const deliveries = out.metrics('WebhookDeliveries');
      expect(deliveries).toHaveLength(2);
      expect(deliveries).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            unit: 'Count',
            value: 1,
            namespace: 'Buzzer',
            dimensionNames: ['service', 'outcome'],
            dimensions: { service: 'buzzer', outcome: 'delivered' },
          }),
          expect.objectContaining({
            value: 1,
            dimensionNames: ['service', 'outcome'],
            dimensions: { service: 'buzzer', outcome: 'deferred' },
          }),
        ]),
      );
      // Nothing else of the invocation carries an outcome.
      const others = out.metrics().filter((metric) => metric.name !== 'WebhookDeliveries');
      expect(others.every((metric) => !metric.dimensionNames.includes('outcome'))).toBe(true);
    } finally {
      out.restore();
    }
  });
});
