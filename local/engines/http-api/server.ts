import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type InvokeResult,
  type LambdaInvoker,
  type LocalAccount,
  type RuntimeLogger,
  silentLogger,
} from '../../types.ts';
import type { GatewayRequest } from './events.ts';
import type { GatewayResponse } from './responses.ts';
import type { IamCredential } from './sigv4.ts';

/**
 * What the local HTTP API and REST API gateways share: the listening server, request ids, body limits, the request
 * as API Gateway sees it, writing the answer, and invoking an integration under its timeout.
 */

/** What starting either gateway takes besides the API's definition. */
export interface GatewayServerOptions {
  invoker: LambdaInvoker;
  logger?: RuntimeLogger;
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** API Gateway refuses bodies over 10 MB with 413. @default {@link DEFAULT_MAX_BODY_BYTES} */
  maxBodyBytes?: number;
  /** @default DEFAULT_ACCOUNT */
  account?: LocalAccount;
  /**
   * The credentials whose SigV4 signatures AWS_IAM routes accept (the runtime passes those it gives its functions).
   * @default none: every request to an AWS_IAM route is refused
   */
  iamCredentials?: readonly IamCredential[];
  /** The clock the authorizer result cache (and a REST API's throttles and quotas) read. @default Date.now */
  clock?: () => number;
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface ListeningServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:4010`. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function listen(
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

/** One API's request handling, behind the server {@link serveGateway} runs for it. */
export interface GatewayHandler {
  /** Answers one request; `tooLarge` when its body was over the limit (the request then has an empty body). */
  respond(
    request: GatewayRequest,
    tooLarge: boolean,
  ): Promise<{ response: GatewayResponse; routeKey?: string }>;
  /** What the client gets when the local gateway itself fails. */
  internalError(): GatewayResponse;
  /** The response headers that name the request id (`apigw-requestid`, `x-amzn-RequestId`). */
  requestIdHeaders(requestId: string): Array<[string, string]>;
}

/**
 * Serves one API on 127.0.0.1: reads each request (within the body limit) as API Gateway hands it on, lets the
 * handler answer, writes the answer and logs one line per request.
 */
export async function serveGateway(
  handler: GatewayHandler,
  options: GatewayServerOptions & { kind: string; name: string; apiId: string },
): Promise<ListeningServer> {
  const logger = options.logger ?? silentLogger;
  let port = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const requestId = newRequestId();
    const { rawPath, rawQueryString } = splitTarget(req.url);
    let response: GatewayResponse;
    let routeKey: string | undefined;
    try {
      const body = await readBody(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
      const request = gatewayRequest(req, {
        rawPath,
        rawQueryString,
        body: body.ok ? body.body : Buffer.alloc(0),
        requestId,
        port,
      });
      ({ response, routeKey } = await handler.respond(request, !body.ok));
    } catch (error) {
      logger.error(`${options.kind} request failed in the local gateway`, {
        api: options.name,
        requestId,
        error: error instanceof Error ? error.message : String(error),
      });
      response = handler.internalError();
    }
    sendResponse(res, response, handler.requestIdHeaders(requestId));
    logger.info(`${req.method} ${rawPath} ${response.statusCode}`, {
      api: options.name,
      method: req.method,
      path: rawPath,
      status: response.statusCode,
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
      routeKey,
      requestId,
    });
  };
  const server = await listen(handle, options);
  port = server.port;
  logger.info(`${options.kind} listening`, { api: options.name, apiId: options.apiId, url: server.url });
  return server;
}

/** API Gateway request ids look like `JKJaXmPLvHcESHA=`. */
function newRequestId(): string {
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
function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
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
function splitTarget(url: string | undefined): { rawPath: string; rawQueryString: string } {
  const target = (url ?? '/').split('#')[0] ?? '';
  const queryAt = target.indexOf('?');
  return {
    rawPath: (queryAt >= 0 ? target.slice(0, queryAt) : target) || '/',
    rawQueryString: queryAt >= 0 ? target.slice(queryAt + 1) : '',
  };
}

/** The request as API Gateway hands it on, with the forwarding headers it adds on the way to the integration. */
function gatewayRequest(
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
function sendResponse(res: ServerResponse, response: GatewayResponse, extra: Array<[string, string]>): void {
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
