import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_RESPONSE_SNIPPET_BYTES, sendWebhook } from '#functions/webhooks/sender.ts';
import { retryScheduleFromEnv } from '#functions/webhooks/settings.ts';

let answer: (res: ServerResponse) => void = (res) => res.writeHead(204).end();
const hits: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  hits.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
  answer(res);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

beforeEach(() => {
  hits.length = 0;
  answer = (res) => res.writeHead(204).end();
});

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

const send = (url: string, timeoutMs = 1_000) =>
  sendWebhook({
    url: new URL(url),
    addresses: ['127.0.0.1'],
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' },
    body: '{"ü":1}',
    timeoutMs,
  });

describe('sendWebhook', () => {
  it('connects a DNS name to the pinned, validated address without asking DNS', async () => {
    // `.invalid` never resolves (RFC 6761): reaching the server proves the pinned address was used.
    const response = await send(`http://receiver.invalid:${port}/hooks`);

    expect(response.result).toEqual({ type: 'response', status: 204, retryAfter: null });
    expect(hits[0]?.headers.host).toBe(`receiver.invalid:${port}`);
    expect(hits[0]?.headers['content-length']).toBe(String(Buffer.byteLength('{"ü":1}')));
    expect(hits[0]?.body).toBe('{"ü":1}');
  });

  it('reports Retry-After and the start of the response body', async () => {
    answer = (res) => res.writeHead(429, { 'retry-after': '30' }).end('x'.repeat(10_000));

    const response = await send(`http://127.0.0.1:${port}/`);

    expect(response.result).toEqual({ type: 'response', status: 429, retryAfter: '30' });
    expect(response.responseSnippet).toHaveLength(MAX_RESPONSE_SNIPPET_BYTES);
  });

  it('reports a timeout when the answer does not come within the deadline', async () => {
    answer = () => {};

    const response = await send(`http://127.0.0.1:${port}/`, 150);

    expect(response.result).toEqual({ type: 'timeout' });
    expect(response.durationMs).toBeGreaterThanOrEqual(140);
    expect(response.error).toBe('no answer within 150 ms');
  });

  it('reports the deadline even when headers came but the body never ends', async () => {
    answer = (res) => {
      res.writeHead(200);
      res.write('partial');
    };

    const response = await send(`http://127.0.0.1:${port}/`, 150);

    expect(response.result).toMatchObject({ type: 'response', status: 200 });
    expect(response.durationMs).toBeLessThan(1_000);
  });
});

describe('WEBHOOK_RETRY_SCHEDULE_SECONDS', () => {
  it('defaults to the Svix schedule and reads whole seconds', () => {
    expect(retryScheduleFromEnv.parse(undefined)).toHaveLength(8);
    expect(retryScheduleFromEnv.parse('0,1,1,2')).toEqual([0, 1000, 1000, 2000]);
  });

  it.each(['1,2', '0,-1', '0,1.5', '0,x', `0,${8 * 24 * 3600}`, Array(21).fill('0').join(',')])(
    'refuses %s',
    (value) => {
      expect(retryScheduleFromEnv.safeParse(value).success).toBe(false);
    },
  );
});
