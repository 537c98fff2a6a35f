import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvokeResult, LambdaInvoker } from '../../types.ts';
import type { GatewayRequest } from './events.ts';
import type { GatewayResponse } from './responses.ts';

/**
 * What the local HTTP API and REST API gateways share: the listening server, request ids, body limits, the request
 * as API Gateway sees it, writing the answer, and invoking an integration under its timeout.
 */

export interface ListeningServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  options: { port?: number; host?: string },
): Promise<ListeningServer> {
  const server = createServer((req, res) => {
    void handler(req, res);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** API Gateway request ids look like `JKJaXmPLvHcESHA=`. */
export function newRequestId(): string {
  return randomBytes(11).toString('base64').replace(/[+/]/g, 'A');
}

function traceHeader(): string {
  return `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

export type BodyResult = { ok: true; body: Buffer } | { ok: false };

/**
 * Reads the whole body, keeping at most `limit` bytes. An oversized body is still read to its end (and
 * dropped) so the client, which is still sending, reliably gets the 413 instead of a reset connection.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  let tooLarge = Number.isFinite(declared) && declared > limit;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? { ok: false } : { ok: true, body: Buffer.concat(chunks) }));
    req.on('error', reject);
  });
}

/** The path (percent-encoded, `/` when empty) and the query string of a request target. */
export function splitTarget(url: string | undefined): { rawPath: string; rawQueryString: string } {
  const target = (url ?? '/').split('#')[0] ?? '';
  const queryAt = target.indexOf('?');
  return {
    rawPath: (queryAt >= 0 ? target.slice(0, queryAt) : target) || '/',
    rawQueryString: queryAt >= 0 ? target.slice(queryAt + 1) : '',
  };
}

/** The request as API Gateway hands it on, with the forwarding headers it adds on the way to the integration. */
export function gatewayRequest(
  req: IncomingMessage,
  at: { rawPath: string; rawQueryString: string; body: Buffer; requestId: string; port: number },
): GatewayRequest {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values) headers[name] = [...values];
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  headers['x-forwarded-for'] = [[...(headers['x-forwarded-for'] ?? []), sourceIp].join(', ')];
  headers['x-forwarded-port'] = [String(at.port)];
  headers['x-forwarded-proto'] = ['http'];
  headers['x-amzn-trace-id'] ??= [traceHeader()];
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    rawPath: at.rawPath,
    rawQueryString: at.rawQueryString,
    headers,
    body: at.body,
    sourceIp,
    protocol: `HTTP/${req.httpVersion}`,
    requestId: at.requestId,
    receivedAt: new Date(),
    domainName: headers.host?.[0] ?? `127.0.0.1:${at.port}`,
  };
}

/** Writes the answer with its own headers plus `extra` (request id headers), and the real content length. */
export function sendResponse(
  res: ServerResponse,
  response: GatewayResponse,
  extra: Array<[string, string]>,
): void {
  const headers = response.headers.filter(([name]) => name.toLowerCase() !== 'content-length');
  headers.push(...extra, ['content-length', String(response.body.length)]);
  res.writeHead(response.statusCode, headers.flat());
  res.end(response.body);
}

/**
 * Invokes an integration's function, answering `'timeout'` when it outlasts `timeoutMs`. The invocation is not
 * cancelled on timeout: like Lambda behind API Gateway, it runs to its own end.
 */
export async function invokeWithTimeout(
  invoker: LambdaInvoker,
  functionArn: string,
  event: unknown,
  timeoutMs: number,
): Promise<InvokeResult | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    return await Promise.race([invoker.invoke(functionArn, event), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
