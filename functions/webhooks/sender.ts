/**
 * One HTTP attempt of a delivery, made the SSRF-safe way: connect only to the addresses `assertPublicUrl` just
 * validated (`pinnedLookup`, so DNS cannot swap in a private address between check and connect), never follow a
 * redirect (`node:http` does not), and give up after one deadline that covers connecting, TLS and the answer (and, when
 * the caller passes its `signal`, resolving the name before).
 * A fresh connection per attempt (`agent: false`): a pooled socket from an earlier attempt could outlive the
 * validation it was opened under, and a frozen Lambda's idle sockets die anyway.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AttemptResult } from './retry.ts';
import { pinnedLookup } from './ssrf.ts';

/** Enough of the receiver's answer to show in the attempt log; the rest is not read. */
export const MAX_RESPONSE_SNIPPET_BYTES = 1024;

export interface WebhookRequest {
  url: URL;
  /** The validated addresses to connect to. */
  addresses: readonly string[];
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /**
   * The attempt's deadline when it began before this request (dispatch.ts starts it before resolving the name, so
   * DNS, connecting and the answer share one budget). Without it the request starts its own `timeoutMs` deadline.
   */
  signal?: AbortSignal;
}

export interface WebhookResponse {
  result: AttemptResult;
  durationMs: number;
  /** The start of the response body (responses only). */
  responseSnippet?: string;
  /** What went wrong, for the attempt log (timeouts and network errors). */
  error?: string;
}

export type SendWebhook = (request: WebhookRequest) => Promise<WebhookResponse>;

export const sendWebhook: SendWebhook = (input) => {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const signal = input.signal ?? AbortSignal.timeout(input.timeoutMs);
  const options: RequestOptions = {
    method: 'POST',
    headers: { ...input.headers, 'content-length': String(Buffer.byteLength(input.body, 'utf8')) },
    lookup: pinnedLookup(input.addresses),
    agent: false,
    signal,
  };
  const send = input.url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<WebhookResponse>((resolve) => {
    let settled = false;
    let answered = false;
    const settle = (response: WebhookResponse) => {
      if (settled) return;
      settled = true;
      resolve(response);
    };
    const req = send(input.url, options, (res) => {
      // The status is the answer; a body cut off by the deadline only shortens the snippet.
      answered = true;
      readSnippet(res).then((snippet) => {
        const retryAfter = res.headers['retry-after'];
        settle({
          result: { type: 'response', status: res.statusCode ?? 0, retryAfter: retryAfter ?? null },
          durationMs: elapsed(),
          ...(snippet === '' ? {} : { responseSnippet: snippet }),
        });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      if (signal.aborted) {
        settle({
          result: { type: 'timeout' },
          durationMs: elapsed(),
          error: `no answer within ${input.timeoutMs} ms`,
        });
        return;
      }
      settle({
        result: { type: 'network_error', ...(error.code ? { code: error.code } : {}) },
        durationMs: elapsed(),
        error: error.message,
      });
    });
    req.end(input.body);
  });
};

/**
 * Reads at most MAX_RESPONSE_SNIPPET_BYTES and then stops: the status is what counts, and a receiver streaming an
 * endless body must not hold the dispatcher. Resolves (never rejects) once the body ends, breaks or is cut.
 */
function readSnippet(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () =>
      resolve(Buffer.concat(chunks).subarray(0, MAX_RESPONSE_SNIPPET_BYTES).toString('utf8'));
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_RESPONSE_SNIPPET_BYTES) {
        res.destroy();
        done();
      }
    });
    res.on('end', done);
    res.on('error', done);
    res.on('close', done);
  });
}
