/**
 * One local HTTP endpoint that speaks the AWS JSON protocols (awsJson1_0 / awsJson1_1), so handlers using
 * `new SFNClient({})` / `new EventBridgeClient({})` reach the local engines through `AWS_ENDPOINT_URL_SFN` and
 * `AWS_ENDPOINT_URL_EVENTBRIDGE` exactly as they would reach AWS. Services register under their target prefix
 * (`AWSStepFunctions`, `AWSEvents`); the `X-Amz-Target: <prefix>.<Operation>` header routes each request.
 * REST-JSON services (API Gateway's `POST /apikeys`, ...) register a {@link RestJsonService}, which routes by method
 * and path: a request without `X-Amz-Target` goes to them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RuntimeLogger } from '../types.ts';

/**
 * An error an AWS service would return. The SDK turns `{"__type": type, "message": message}` into an exception
 * whose `name` is `type` (e.g. `ExecutionAlreadyExists`), so handlers throw this to produce exactly that.
 */
export class AwsServiceError extends Error {
  readonly type: string;
  readonly status: number;

  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = type;
    this.type = type;
    this.status = status;
  }
}

export type ServiceHandler = (operation: string, body: unknown) => Promise<unknown>;

export interface RestJsonRequest {
  method: string;
  /** Decoded path segments, e.g. `['usageplans', 'abc123', 'keys']`. */
  segments: string[];
  query: URLSearchParams;
  body: unknown;
}

/** Answers the requests whose path it knows (`undefined` for others); errors are thrown as {@link AwsServiceError}. */
export type RestJsonService = (
  request: RestJsonRequest,
) => Promise<{ status: number; body?: unknown } | undefined>;

export interface Gateway {
  /** Base URL to put into `AWS_ENDPOINT_URL_<SERVICE>`. */
  endpoint: string;
  port: number;
  registerService(targetPrefix: string, handler: ServiceHandler): void;
  registerRestJsonService(service: RestJsonService): void;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  /** 0 or undefined picks a free port. */
  port?: number;
  logger: RuntimeLogger;
}

/** Requests are small JSON documents; the cap only protects the process from a runaway client. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

class RequestTooLargeError extends Error {
  override name = 'RequestTooLargeError';
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const services = new Map<string, ServiceHandler>();
  const restServices: RestJsonService[] = [];

  const server = createServer((req, res) => {
    handleRequest(req, res, { services, restServices }, logger).catch((error: unknown) => {
      logger.error('gateway: unhandled failure', { error: String(error) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // The SDK keeps sockets alive between calls; without a short idle timeout `stop()` would wait for them.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  logger.info('gateway listening', { endpoint });

  return {
    endpoint,
    port,
    registerService(targetPrefix, handler) {
      services.set(targetPrefix, handler);
    },
    registerRestJsonService(service) {
      restServices.push(service);
    },
    stop() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  registry: { services: Map<string, ServiceHandler>; restServices: RestJsonService[] },
  logger: RuntimeLogger,
): Promise<void> {
  const { services } = registry;
  const requestId = randomUUID();
  const contentType = headerValue(req, 'content-type') ?? 'application/x-amz-json-1.0';
  const reply = (status: number, payload: unknown): void => {
    const body = serializeResponse(payload);
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': requestId,
    });
    res.end(body);
  };
  const replyError = (error: AwsServiceError): void => {
    res.setHeader('x-amzn-errortype', error.type);
    reply(error.status, { __type: error.type, message: error.message });
  };

  if (headerValue(req, 'x-amz-target') === undefined && registry.restServices.length > 0) {
    await handleRestJson(req, res, registry.restServices, logger, requestId);
    return;
  }
  if (req.method !== 'POST') {
    replyError(
      new AwsServiceError('UnknownOperationException', `Method ${req.method} is not supported`, 404),
    );
    return;
  }
  const target = headerValue(req, 'x-amz-target') ?? '';
  const dot = target.lastIndexOf('.');
  const prefix = dot > 0 ? target.slice(0, dot) : '';
  const operation = dot > 0 ? target.slice(dot + 1) : '';
  const handler = services.get(prefix);
  if (!handler || !operation) {
    replyError(new AwsServiceError('UnknownOperationException', `Unknown target '${target}'`));
    return;
  }

  let body: unknown;
  try {
    const raw = await readBody(req);
    body = raw.length === 0 ? {} : JSON.parse(raw);
  } catch (error) {
    if (error instanceof RequestTooLargeError) {
      replyError(new AwsServiceError('RequestEntityTooLargeException', error.message, 413));
      return;
    }
    replyError(new AwsServiceError('SerializationException', 'Request body is not valid JSON'));
    return;
  }

  try {
    const result = await handler(operation, body);
    reply(200, result ?? {});
  } catch (error) {
    if (error instanceof AwsServiceError) {
      logger.debug('gateway: service error', { target, type: error.type, message: error.message });
      replyError(error);
      return;
    }
    logger.error('gateway: handler failed', {
      target,
      error: error instanceof Error ? error.stack : String(error),
    });
    replyError(
      new AwsServiceError('InternalFailure', error instanceof Error ? error.message : String(error), 500),
    );
  }
}

async function handleRestJson(
  req: IncomingMessage,
  res: ServerResponse,
  services: RestJsonService[],
  logger: RuntimeLogger,
  requestId: string,
): Promise<void> {
  const reply = (status: number, payload: unknown, errorType?: string): void => {
    const body = payload === undefined ? '' : serializeResponse(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': requestId,
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    res.end(body);
  };
  const url = new URL(req.url ?? '/', 'http://gateway');
  let request: RestJsonRequest;
  try {
    const raw = await readBody(req);
    request = {
      method: req.method ?? 'GET',
      segments: url.pathname.split('/').filter(Boolean).map(decodeURIComponent),
      query: url.searchParams,
      body: raw.length === 0 ? {} : JSON.parse(raw),
    };
  } catch {
    reply(400, { message: 'Request body is not valid JSON' }, 'BadRequestException');
    return;
  }
  try {
    for (const service of services) {
      const answer = await service(request);
      if (answer) {
        reply(answer.status, answer.body);
        return;
      }
    }
    reply(404, { message: `No operation at ${request.method} ${url.pathname}` }, 'NotFoundException');
  } catch (error) {
    if (error instanceof AwsServiceError) {
      logger.debug('gateway: service error', {
        path: url.pathname,
        type: error.type,
        message: error.message,
      });
      reply(error.status, { message: error.message }, error.type);
      return;
    }
    logger.error('gateway: handler failed', { path: url.pathname, error: String(error) });
    reply(500, { message: error instanceof Error ? error.message : String(error) }, 'InternalFailure');
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RequestTooLargeError(`Request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** AWS JSON protocols encode timestamps as epoch seconds; handlers return `Date` objects. */
export function serializeResponse(payload: unknown): string {
  return JSON.stringify(
    payload,
    function replacer(this: Record<string, unknown>, key: string, value: unknown) {
      const raw = this[key];
      return raw instanceof Date ? raw.getTime() / 1000 : value;
    },
  );
}
