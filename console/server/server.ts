/**
 * The web console's server: the static bundle Vite built (console/dist) and the JSON API of console/server/api.ts,
 * on 127.0.0.1 only. It acts with the operator's powers (redrive, replay), so it refuses requests that a web page of
 * another origin could make through the operator's browser: a Host other than its own (DNS rebinding), an Origin
 * other than its own, and POSTs that are not JSON (a cross-origin JSON POST needs a CORS preflight, which it never
 * answers).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { OpsContext } from '#ops/cli/context.ts';
import { type ConsoleApiOptions, consoleApi } from './api.ts';

export interface ConsoleServerOptions extends ConsoleApiOptions {
  ctx: OpsContext;
  /** The built bundle (console/build.ts). */
  distDir: string;
  /** @default 0 (any free port) */
  port?: number;
}

export interface ConsoleServer {
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

/** Why a request is refused, or undefined when it comes from the console's own page (or a tool like curl). */
function refusal(request: IncomingMessage, origins: string[]): string | undefined {
  if (!origins.includes(`http://${request.headers.host ?? ''}`)) return 'unexpected Host header';
  const from = request.headers.origin;
  if (from !== undefined && !origins.includes(from)) return 'cross-origin requests are not allowed';
  if (request.method === 'POST' && !/^application\/json\b/.test(request.headers['content-type'] ?? ''))
    return 'actions need Content-Type: application/json';
  return undefined;
}

async function serveFile(distDir: string, pathname: string, response: ServerResponse): Promise<void> {
  const relative = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
  const file = path.resolve(distDir, relative);
  // Nothing outside the bundle: `..` and absolute paths end up outside distDir after resolve.
  if (!file.startsWith(distDir + path.sep)) return send(response, 404, { error: 'not found' });
  const found = await stat(file).catch(() => undefined);
  if (!found?.isFile()) return send(response, 404, { error: 'not found' });
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': found.size,
  });
  createReadStream(file).pipe(response);
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const api = consoleApi(options.ctx, options);
  const distDir = path.resolve(options.distDir);
  let origins: string[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const refused = refusal(request, origins);
    if (refused) return send(response, 403, { error: refused });
    if (url.pathname.startsWith('/api/')) {
      api(request, url).then(
        ({ status, body }) => send(response, status, body),
        (error: unknown) => send(response, 500, { error: String(error) }),
      );
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return send(response, 405, { error: 'not allowed' });
    serveFile(distDir, url.pathname, response).catch(() => send(response, 400, { error: 'bad path' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `the web console's port ${options.port} is taken: pick another (--console-port, --port)`,
            )
          : error,
      ),
    );
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
