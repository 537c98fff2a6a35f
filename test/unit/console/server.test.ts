/**
 * The web console's server on its own (SDK clients mocked): it serves the bundle and nothing outside it, answers the
 * API with the operator CLI's results and its errors as 4xx, and refuses requests another site could make through the
 * operator's browser (another Host, another Origin, a form POST).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  DynamoDBDocumentClient,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ConsoleServer, startConsoleServer } from '#console/server/server.ts';
import { opsContext } from '../ops/helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

let server: ConsoleServer;
let dist: string;
let port: number;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  method: string,
  route: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: route, method, headers });
    req.on('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'buzzer-console-'));
  dist = path.join(root, 'dist');
  await mkdir(dist);
  await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>console</title>');
  await writeFile(path.join(root, 'secret.txt'), 'not for the browser');
  server = await startConsoleServer({
    ctx: opsContext({ doc }),
    distDir: dist,
    clients: ['alice', 'bob'],
  });
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  await server?.close();
  await rm(path.dirname(dist), { recursive: true, force: true });
});

beforeEach(() => ddb.reset());

describe('the console server', () => {
  it('serves the bundle with a strict content security policy, and nothing outside it', async () => {
    const page = await call('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect((await call('GET', '/../secret.txt')).status).toBe(404);
    expect((await call('GET', '/%2e%2e/secret.txt')).status).toBe(404);
    expect((await call('GET', '/..%2Fsecret.txt')).status).toBe(404);
    expect((await call('GET', '/nothing.js')).status).toBe(404);
  });

  it('answers the config and a client’s orders from the operator CLI’s query', async () => {
    // The ByClient index holds a few attributes; the list reads the orders themselves for the rest.
    ddb.on(QueryCommand).resolves({
      Items: [{ pk: 'ORDER#o-1', sk: 'ORDER', orderId: 'o-1', status: 'CONFIRMED' }],
    });
    ddb.on(BatchGetCommand).callsFake((input: BatchGetCommandInput) => ({
      Responses: {
        [Object.keys(input.RequestItems ?? {})[0] ?? '']: [
          {
            pk: 'ORDER#o-1',
            sk: 'ORDER',
            orderId: 'o-1',
            clientId: 'alice',
            status: 'CONFIRMED',
            createdAt: '2026-12-07T00:00:00.000Z',
            updatedAt: '2026-12-07T00:00:05.000Z',
            amount: 500,
            currency: 'EUR',
            customer: { id: 'c-1', email: 'ada@example.com' },
            paymentToken: 'tok_ok',
            timeline: [{ step: 'Accepted', status: 'SUCCEEDED', at: '2026-12-07T00:00:00.000Z' }],
          },
        ],
      },
    }));

    const config = JSON.parse((await call('GET', '/api/config')).body);
    const orders = await call('GET', '/api/orders?client=alice&limit=5');

    expect(config).toMatchObject({ stackName: 'Buzzer', kind: 'local', clients: ['alice', 'bob'] });
    expect(orders.status).toBe(200);
    const body = JSON.parse(orders.body);
    expect(body.orders[0]).toMatchObject({ orderId: 'o-1', status: 'CONFIRMED', amount: 500 });
    // A list shows no personal data and no payment token.
    expect(orders.body).not.toMatch(/ada@example\.com|tok_ok/);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'ByClient',
      ExpressionAttributeValues: { ':pk': 'CLIENT#alice', ':prefix': 'ORDER#' },
      ScanIndexForward: false,
    });
  });

  it('answers bad input with a 400 that says what is wrong, unknown routes with 404', async () => {
    const badLimit = await call('GET', '/api/orders?limit=0');
    const badClient = await call('GET', '/api/orders?client=no%20spaces');
    const badOrder = await call('GET', '/api/orders/not-a-uuid');
    const unknownQueue = await call('POST', '/api/dlqs/nope/redrive', { 'content-type': 'application/json' });
    const badArn = await call(
      'POST',
      '/api/sagas/redrive',
      { 'content-type': 'application/json' },
      JSON.stringify({ executionArn: 'x' }),
    );
    const notJson = await call('POST', '/api/sagas/redrive', { 'content-type': 'application/json' }, '{');

    expect(badLimit.status).toBe(400);
    expect(JSON.parse(badLimit.body).error).toMatch(/limit/);
    expect(badClient.status).toBe(400);
    expect(JSON.parse(badClient.body).error).toMatch(/not a client id/);
    expect(badOrder.status).toBe(400);
    expect(unknownQueue.status).toBe(400);
    expect(JSON.parse(unknownQueue.body).error).toMatch(/no queue "nope"; known: notify/);
    expect(badArn.status).toBe(400);
    expect(notJson.status).toBe(400);
    expect((await call('GET', '/api/nothing')).status).toBe(404);
    expect((await call('GET', '/api/outbox/replay')).status).toBe(405);
  });

  it('refuses another Host (DNS rebinding), another Origin, and POSTs that are not JSON', async () => {
    const json = { 'content-type': 'application/json' };
    const rebound = await call('GET', '/api/config', { host: `evil.example:${port}` });
    const crossOrigin = await call('POST', '/api/outbox/replay', { ...json, origin: 'https://evil.example' });
    const form = await call('POST', '/api/outbox/replay', {
      'content-type': 'application/x-www-form-urlencoded',
    });

    expect(rebound.status).toBe(403);
    expect(crossOrigin.status).toBe(403);
    expect(form.status).toBe(403);
    expect(JSON.parse(form.body).error).toMatch(/application\/json/);
    expect(ddb.calls()).toHaveLength(0);
    expect(
      (await call('GET', '/api/config', { host: `localhost:${port}`, origin: `http://localhost:${port}` }))
        .status,
    ).toBe(200);
  });

  it('says which port is taken instead of failing with EADDRINUSE', async () => {
    await expect(
      startConsoleServer({ ctx: opsContext({ doc }), distDir: dist, clients: [], port }),
    ).rejects.toThrow(`the web console's port ${port} is taken`);
  });
});
