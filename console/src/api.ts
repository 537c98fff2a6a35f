/**
 * The operator API (ops/api/routes.ts), wherever it is. Served by `npm start`, the console calls its own server's
 * `api/` without sign-in. Deployed as a static site (lib/constructs/console-site.ts), it finds `config.json` next to
 * its page, written at deploy time, and calls the stack's operator API with the token of the operators' sign-in
 * (auth.ts).
 */
import { Auth, type AuthEnvironment, type AuthSettings, browserEnvironment } from './auth.ts';

export class ApiError extends Error {
  override name = 'ApiError';
}

/** `config.json` of a deployed console (ConsoleSiteConfig in lib/constructs/console-site.ts). */
export interface SiteConfig {
  stackName: string;
  apiUrl: string;
  auth: AuthSettings;
}

interface Connection {
  /** Prefix of every route's path, ending in `/`. */
  base: string;
  auth?: Auth;
}

function isSiteConfig(value: unknown): value is SiteConfig {
  const config = value as Partial<SiteConfig> | null;
  return (
    typeof config?.apiUrl === 'string' &&
    typeof config.auth?.signInUrl === 'string' &&
    typeof config.auth.clientId === 'string' &&
    Array.isArray(config.auth.scopes)
  );
}

/** Where the API is: config.json's when the page has one (a deployed console), else the console server's `api/`. */
export async function connectionOf(env: AuthEnvironment): Promise<Connection> {
  const response = await env.fetch('config.json', { cache: 'no-store' }).catch(() => undefined);
  if (!response?.ok) return { base: 'api/' };
  const config: unknown = await response.json().catch(() => undefined);
  if (!isSiteConfig(config)) throw new ApiError('config.json is not a Buzzer console configuration');
  return { base: `${config.apiUrl.replace(/\/+$/, '')}/`, auth: new Auth(config.auth, env) };
}

/** The two calls the pages make, over one connection found once. */
export function operatorClient(env: AuthEnvironment) {
  let connection: Promise<Connection> | undefined;
  const call = async <T>(path: string, init: RequestInit): Promise<T> => {
    connection ??= connectionOf(env);
    const { base, auth } = await connection;
    const headers = new Headers(init.headers);
    headers.set('accept', 'application/json');
    if (auth) headers.set('authorization', `Bearer ${await auth.token()}`);
    const response = await env.fetch(`${base}${path}`, { ...init, headers });
    if (response.status === 401 && auth) return auth.rejected();
    const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    if (!response.ok)
      throw new ApiError(body.error ?? body.message ?? `${response.status} ${response.statusText}`);
    return body as T;
  };
  return {
    /** Whether this console signs its operators in (deployed), so the page offers to sign out. */
    signsIn: async () => {
      connection ??= connectionOf(env);
      return (await connection).auth !== undefined;
    },
    /** Ends the session (tokens here and the hosted sign-in's cookie); the local console has none to end. */
    signOut: async () => {
      connection ??= connectionOf(env);
      (await connection).auth?.signOut();
    },
    getJson: <T>(path: string) => call<T>(path, {}),
    /** An operator action (redrive, replay): JSON, so the local server knows it comes from this page (server.ts). */
    postJson: <T>(path: string, body: unknown = {}) =>
      call<T>(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
  };
}

let browserClient: ReturnType<typeof operatorClient> | undefined;
const client = () => {
  browserClient ??= operatorClient(browserEnvironment());
  return browserClient;
};

export function getJson<T>(path: string): Promise<T> {
  return client().getJson<T>(path);
}

export function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  return client().postJson<T>(path, body);
}

export function signsIn(): Promise<boolean> {
  return client().signsIn();
}

export function signOut(): Promise<void> {
  return client().signOut();
}

export interface ConsoleConfig {
  stackName: string;
  kind: string;
  region: string;
  clients: string[];
}
